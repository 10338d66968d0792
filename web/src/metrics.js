// The metrics of a result: the seven columns the coordinator stores (and computes Pareto
// fronts on), how to show them, and the further figures of its full report.

export const METRICS = [
  { key: 'bits_per_weight', label: 'bits per weight', short: 'bits/w', better: 'min', digits: 3 },
  { key: 'size_bytes', label: 'size (bytes)', short: 'size', better: 'min', bytes: true },
  { key: 'perplexity', label: 'perplexity', short: 'ppl', better: 'min', digits: 4 },
  { key: 'kld_mean', label: 'mean KL divergence', short: 'KLD mean', better: 'min', digits: 6 },
  { key: 'top1_agreement', label: 'top-1 agreement', short: 'top-1', better: 'max', percent: true },
  { key: 'decode_ms_per_token', label: 'decode ms/token', short: 'decode ms', better: 'min', digits: 4 },
  { key: 'prefill_tokens_per_s', label: 'prefill tokens/s', short: 'prefill tok/s', better: 'max', digits: 0 },
];

export const METRIC = Object.fromEntries(METRICS.map((m) => [m.key, m]));

// A metric value as a number, or null when the result lacks it (no text: no accuracy).
export function metricValue(metrics, key) {
  const v = metrics ? metrics[key] : undefined;
  if (v === undefined || v === null || v === '') return null;
  const n = Number(v); // int64 arrives as a string
  return Number.isFinite(n) ? n : null;
}

export function formatMetric(key, v) {
  if (v === null || v === undefined) return '–';
  const m = METRIC[key];
  if (!m) return String(v);
  if (m.bytes) return formatBytes(v);
  if (m.percent) return (100 * v).toFixed(2) + '%';
  return Number(v).toFixed(m.digits);
}

export function formatBytes(v) {
  if (v >= 1e9) return (v / 1e9).toFixed(2) + ' GB';
  if (v >= 1e6) return (v / 1e6).toFixed(3) + ' MB';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + ' kB';
  return v + ' B';
}

// Further figures shown on hover and in the comparison, read from the full report.
export const REPORT_FIGURES = [
  { label: 'parameters', get: (r) => r.size?.params },
  { label: 'size / baseline', get: (r) => r.size?.ratio_to_baseline, fmt: (v) => v.toFixed(4) },
  { label: 'KV cache bytes/token', get: (r) => r.size?.kv_bytes_per_token },
  { label: 'perplexity ratio', get: (r) => r.accuracy?.perplexity_ratio, fmt: (v) => v.toFixed(4) },
  { label: 'KLD median', get: (r) => r.accuracy?.kld?.median, fmt: (v) => v.toFixed(6) },
  { label: 'KLD p90', get: (r) => r.accuracy?.kld?.p90, fmt: (v) => v.toFixed(6) },
  { label: 'KLD p99', get: (r) => r.accuracy?.kld?.p99, fmt: (v) => v.toFixed(6) },
  { label: 'KLD max', get: (r) => r.accuracy?.kld?.max, fmt: (v) => v.toFixed(6) },
  { label: 'tokens scored', get: (r) => r.accuracy?.tokens_scored },
  { label: 'decode ms/token p90', get: (r) => r.latency?.decode_ms_per_token?.p90, fmt: (v) => v.toFixed(4) },
  { label: 'decode CV', get: (r) => r.latency?.decode_ms_per_token?.cv, fmt: (v) => v.toFixed(3) },
  { label: 'threads', get: (r) => r.latency?.threads },
  { label: 'peak RSS', get: (r) => r.latency?.peak_rss_bytes, fmt: formatBytes },
  { label: 'ISA', get: (r) => r.environment?.isa },
];

export function reportFigures(report) {
  const rows = [];
  if (!report) return rows;
  for (const f of REPORT_FIGURES) {
    const v = f.get(report);
    if (v === undefined || v === null || v === '') continue;
    rows.push([f.label, f.fmt && typeof v === 'number' ? f.fmt(v) : String(v)]);
  }
  return rows;
}

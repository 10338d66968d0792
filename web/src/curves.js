// Latency and memory against context length, for the results that measured it (attention
// variants and KV-cache formats record a context curve in their report): one line each.
import { escapeHtml, familyColor } from './charts.js';
import { formatBytes } from './metrics.js';

export const CURVE_METRICS = [
  { key: 'decode_ms_per_token', label: 'decode ms/token' },
  { key: 'prefill_tokens_per_s', label: 'prefill tokens/s' },
  { key: 'kv_cache_bytes', label: 'KV cache bytes', bytes: true },
  { key: 'attention_scratch_bytes', label: 'attention scratch bytes', bytes: true },
  { key: 'peak_rss_bytes', label: 'peak RSS bytes', bytes: true },
];

export function curveRows(rows) {
  return rows.filter((r) => Array.isArray(r.report?.context_curve) && r.report.context_curve.length);
}

export function curveOption(rows, metricKey) {
  const m = CURVE_METRICS.find((c) => c.key === metricKey) || CURVE_METRICS[0];
  const palette = ['#9467bd', '#8c564b', '#17becf', '#bcbd22', '#e377c2', '#1f77b4', '#ff7f0e'];
  const series = rows.map((r, i) => ({
    id: `curve:${r.key}`, name: `#${r.index} ${r.config}`, type: 'line', symbol: 'circle', symbolSize: 7,
    data: r.report.context_curve.map((p) => [p.context, p[m.key]]),
    itemStyle: { color: rows.length === 1 ? familyColor(r.family) : palette[i % palette.length] },
  }));
  return {
    animation: false,
    aria: { enabled: true },
    grid: { left: 80, right: 24, top: 60, bottom: 50 },
    legend: { type: 'scroll', top: 0, formatter: (n) => (n.length > 48 ? n.slice(0, 47) + '…' : n) },
    tooltip: { trigger: 'axis', confine: true,
      formatter: (ps) => `context ${ps[0]?.data[0]}<br>` + ps.map((p) => `${escapeHtml(p.seriesName)}: ${m.bytes ? formatBytes(p.data[1]) : (+p.data[1]).toPrecision(4)}`).join('<br>') },
    xAxis: { type: 'log', logBase: 2, name: 'context length (tokens)', nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: m.bytes ? 'log' : 'value', name: m.label, nameLocation: 'middle', nameGap: 60,
      axisLabel: { formatter: (v) => (m.bytes ? formatBytes(v) : String(+v.toPrecision(4))) } },
    series,
  };
}

// The trade-off scatter: two chosen metrics, one series per technique family, the baseline
// marked, the Pareto frontier (as GetPareto returns it) drawn as a line through its points,
// the selected configurations ringed, distillation checkpoints joined as trajectories.
import { escapeHtml, familyColor } from './charts.js';
import { METRIC, formatMetric, metricValue, reportFigures } from './metrics.js';

function point(row, s, metrics = row.metrics) {
  const x = metricValue(metrics, s.x), y = metricValue(metrics, s.y);
  if (x === null || y === null) return null;
  if ((s.xlog && x <= 0) || (s.ylog && y <= 0)) return null; // a log axis cannot show it
  return [x, y, row.key];
}

export function tooltipHtml(row) {
  const lines = [`<b>#${row.index} ${escapeHtml(row.config)}</b>`,
    `family: ${escapeHtml(row.family)}${row.onFrontier ? ' · on the Pareto frontier' : ''}`];
  for (const m of Object.values(METRIC)) {
    lines.push(`${m.label}: ${formatMetric(m.key, metricValue(row.metrics, m.key))}`);
  }
  for (const [label, v] of reportFigures(row.report)) lines.push(`${label}: ${escapeHtml(v)}`);
  return lines.join('<br>');
}

// Returns { option, drawn, hidden } where drawn counts the result points on the plot and
// hidden those a log axis or a missing metric keeps off it.
export function scatterOption(s, visible, frontier, trajectories) {
  const byFamily = new Map();
  let drawn = 0, hidden = 0;
  for (const row of visible) {
    const p = point(row, s);
    if (!p) { hidden++; continue; }
    drawn++;
    if (!byFamily.has(row.family)) byFamily.set(row.family, []);
    byFamily.get(row.family).push(p);
  }
  const series = [];
  for (const [family, data] of [...byFamily].sort(([a], [b]) => (a === 'baseline' ? -1 : b === 'baseline' ? 1 : a.localeCompare(b)))) {
    const base = family === 'baseline';
    series.push({
      id: `family:${family}`, name: family, type: 'scatter', data,
      symbol: base ? 'diamond' : 'circle', symbolSize: base ? 18 : 10, z: base ? 4 : 3,
      itemStyle: { color: familyColor(family), opacity: 0.85,
        borderColor: base ? '#fff' : undefined, borderWidth: base ? 2 : 0 },
      label: base ? { show: true, formatter: 'baseline', position: 'top', fontWeight: 'bold' } : undefined,
      emphasis: { scale: 1.6 },
    });
  }
  const fr = frontier.map((row) => point(row, s)).filter(Boolean).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  series.push({
    id: 'frontier', name: 'Pareto frontier', type: 'line', data: fr, z: 2,
    symbol: 'emptyCircle', symbolSize: 16, lineStyle: { color: '#444', type: 'dashed', width: 1.5 },
    itemStyle: { color: '#444' }, tooltip: { show: false }, silent: true,
  });
  trajectories.forEach((t, i) => {
    const data = t.points.map((p) => {
      const q = point(p.row, s);
      return q ? { value: q, step: p.step } : null;
    }).filter(Boolean);
    series.push({
      id: `trajectory:${i}`, name: `${t.label} (steps)`, type: 'line', data, z: 2,
      symbol: 'triangle', symbolSize: 9, lineStyle: { color: familyColor('distillation'), width: 2 },
      itemStyle: { color: familyColor('distillation') },
      label: { show: true, formatter: (p) => `step ${p.data.step}`, position: 'top', fontSize: 10 },
      tooltip: { formatter: (p) => `${escapeHtml(t.label)} checkpoint at step ${p.data.step}` },
    });
  });
  const selected = visible.filter((r) => s.selected.has(r.key)).map((r) => point(r, s)).filter(Boolean);
  series.push({
    id: 'selected', name: 'selected', type: 'scatter', data: selected, z: 5, silent: true,
    symbol: 'emptyCircle', symbolSize: 22, itemStyle: { color: '#0057d9', borderWidth: 3 },
  });
  const axis = (key, log) => ({
    type: log ? 'log' : 'value', name: METRIC[key].label + (METRIC[key].better === 'min' ? ' (lower is better)' : ' (higher is better)'),
    nameLocation: 'middle', nameGap: 32, scale: true,
    axisLabel: { formatter: (v) => (METRIC[key].percent ? (100 * v).toFixed(1) + '%' : shortNumber(v)) },
  });
  const option = {
    animation: false,
    aria: { enabled: true },
    grid: { left: 70, right: 24, top: 48, bottom: 56, containLabel: false },
    legend: { type: 'scroll', top: 0 },
    tooltip: {
      trigger: 'item', confine: true,
      formatter: (p) => (p.data && p.seriesId.startsWith('family:') ? tooltipHtml(s.rowsByKey.get(p.data[2])) : ''),
    },
    xAxis: axis(s.x, s.xlog),
    yAxis: { ...axis(s.y, s.ylog), nameGap: 52 },
    series,
  };
  return { option, drawn, hidden };
}

function shortNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + 'G';
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + 'k';
  if (a !== 0 && a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

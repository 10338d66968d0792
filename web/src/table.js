// The results table (sortable by any column, rows selectable for the comparison) and its
// export as CSV or JSON: exactly the rows and order on screen.
import { familyColor } from './charts.js';
import { h } from './dom.js';
import { METRICS, formatMetric, metricValue } from './metrics.js';

const COLUMNS = [
  { key: 'index', label: '#', num: true, get: (r) => r.index },
  { key: 'config', label: 'configuration', get: (r) => r.config },
  { key: 'family', label: 'family', get: (r) => r.family },
  ...METRICS.map((m) => ({ key: m.key, label: m.short, num: true, metric: true,
    get: (r) => metricValue(r.metrics, m.key) })),
];

export function sortRows(rows, sort) {
  const col = COLUMNS.find((c) => c.key === sort.key) || COLUMNS[0];
  return [...rows].sort((a, b) => {
    const x = col.get(a), y = col.get(b);
    if (x === null && y === null) return byIndex(a, b);
    if (x === null) return 1; // missing values last in both directions
    if (y === null) return -1;
    const c = col.num ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * sort.dir : byIndex(a, b);
  });
}

// Job order, a job's checkpoints (by step) before its final model.
function byIndex(a, b) {
  return a.index - b.index || (a.checkpointStep ?? Infinity) - (b.checkpointStep ?? Infinity);
}

// on: { sort(key), toggle(index) }
export function resultsTable(rows, s, on) {
  const head = h('tr', {}, h('th', { scope: 'col' }, h('span.sr', { text: 'select' })),
    ...COLUMNS.map((c) => {
      const active = s.sort.key === c.key;
      return h('th', { scope: 'col', 'data-col': c.key,
        'aria-sort': active ? (s.sort.dir > 0 ? 'ascending' : 'descending') : 'none' },
      h('button.sort', { type: 'button', onclick: () => on.sort(c.key),
        text: c.label + (active ? (s.sort.dir > 0 ? ' ▲' : ' ▼') : '') }));
    }));
  const body = rows.map((r) => h('tr', {
    'data-key': r.key, class: [s.selected.has(r.key) ? 'selected' : '',
      r.onFrontier ? 'frontier' : ''].join(' ').trim() || undefined,
  },
  h('td', {}, h('input', { type: 'checkbox', checked: s.selected.has(r.key),
    'aria-label': `select ${r.label} for comparison`, onchange: () => on.toggle(r.key) })),
  ...COLUMNS.map((c) => {
    if (c.key === 'family') {
      return h('td.family', {}, h('span.swatch', { style: `background:${familyColor(r.family)}` }), r.family);
    }
    if (c.key === 'config') {
      return h('td.config', {}, r.onFrontier ? h('span.star', { title: 'on the Pareto frontier', text: '★ ' }) : null, r.config);
    }
    if (c.key === 'index') return h('td.num', { text: r.index });
    const v = c.get(r);
    return h(c.num ? 'td.num' : 'td', { text: c.metric ? formatMetric(c.key, v) : v });
  })));
  return h('table.results', {}, h('thead', {}, head), h('tbody', {}, ...body));
}

function exportRecord(r) {
  const o = { index: r.index, checkpoint_step: r.checkpointStep, config: r.config, family: r.family, target: r.target,
    pareto: !!r.onFrontier };
  for (const m of METRICS) o[m.key] = metricValue(r.metrics, m.key);
  return o;
}

function csvField(v) {
  if (v === null || v === undefined) return '';
  const t = String(v);
  return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

export function toCsv(rows) {
  const records = rows.map(exportRecord);
  const keys = ['index', 'checkpoint_step', 'config', 'family', 'target', 'pareto', ...METRICS.map((m) => m.key)];
  return [keys.join(','), ...records.map((o) => keys.map((k) => csvField(o[k])).join(','))].join('\n') + '\n';
}

export function toJson(rows) {
  return JSON.stringify(rows.map((r) => ({ ...exportRecord(r), steps: r.steps })), null, 2) + '\n';
}

// Side-by-side comparison of 2 to 4 selected configurations: every metric (the best of the
// selection marked), the report's further figures, and every parameter.
import { h } from './dom.js';
import { METRICS, formatMetric, metricValue, reportFigures } from './metrics.js';

export function comparePanel(rows, onRemove) {
  if (rows.length < 2) {
    return h('p.hint', { text: rows.length
      ? 'Select one to three more configurations (table checkboxes or click points) to compare.'
      : 'Select 2 to 4 configurations (table checkboxes or click points) to compare them side by side.' });
  }
  const header = h('tr', {}, h('th', { scope: 'col', text: 'metric' }), ...rows.map((r) =>
    h('th', { scope: 'col' }, `${r.label} `,
      h('button.remove', { type: 'button', 'aria-label': `remove ${r.label} from the comparison`,
        onclick: () => onRemove(r.key), text: '×' }))));
  const body = [h('tr', {}, h('th', { scope: 'row', text: 'configuration' }),
    ...rows.map((r) => h('td.config', { text: r.config })))];
  body.push(h('tr', {}, h('th', { scope: 'row', text: 'family' }), ...rows.map((r) => h('td', { text: r.family }))));
  for (const m of METRICS) {
    const vals = rows.map((r) => metricValue(r.metrics, m.key));
    const present = vals.filter((v) => v !== null);
    const best = present.length ? (m.better === 'min' ? Math.min(...present) : Math.max(...present)) : null;
    body.push(h('tr', {}, h('th', { scope: 'row', text: m.label }), ...vals.map((v) =>
      h(v !== null && v === best && present.length > 1 ? 'td.num.best' : 'td.num',
        { text: formatMetric(m.key, v), title: v === best ? 'best of the selection' : undefined }))));
  }
  const figures = rows.map((r) => new Map(reportFigures(r.report)));
  const labels = [...new Set(figures.flatMap((f) => [...f.keys()]))];
  for (const label of labels) {
    body.push(h('tr', {}, h('th', { scope: 'row', text: label }),
      ...figures.map((f) => h('td.num', { text: f.get(label) ?? '–' }))));
  }
  const params = [...new Set(rows.flatMap((r) => r.steps.flatMap((s) => Object.keys(s.params).map((k) => `${s.name}.${k}`))))].sort();
  for (const key of params) {
    const [name, param] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    body.push(h('tr', {}, h('th', { scope: 'row', text: key }), ...rows.map((r) =>
      h('td', { text: r.steps.find((s) => s.name === name)?.params[param] ?? '–' }))));
  }
  return h('div.scroll', {}, h('table.compare', {}, h('thead', {}, header), h('tbody', {}, ...body)));
}

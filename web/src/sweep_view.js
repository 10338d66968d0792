// One sweep: progress, the trade-off scatter with its Pareto frontier, filters, the results
// table with export, the comparison of selected configurations, latency against context
// length, and failed jobs. Polls the coordinator while the sweep runs.
import { api } from './api.js';
import { makeChart } from './charts.js';
import { comparePanel } from './compare.js';
import { distillTrajectories, familyOf, hasParameter, parameterValues, parseConfig } from './config.js';
import { CURVE_METRICS, curveOption, curveRows } from './curves.js';
import { download, formatTime, h, stateName } from './dom.js';
import { METRICS, METRIC } from './metrics.js';
import { scatterOption } from './scatter.js';
import { progressBar } from './sweep_list.js';
import { resultsTable, sortRows, toCsv, toJson } from './table.js';

let familiesCache = null;
async function techniqueFamilies() {
  if (!familiesCache) {
    const { techniques = [] } = await api('techniques');
    familiesCache = Object.fromEntries(techniques.map((t) => [t.name, t.family]));
  }
  return familiesCache;
}

function toRow(r, families) {
  let report = null;
  try { report = r.report_json ? JSON.parse(r.report_json) : null; } catch { report = null; }
  const steps = parseConfig(r.config);
  const step = r.checkpoint_step === undefined ? null : Number(r.checkpoint_step);
  return { key: rowKey(r), index: r.index, checkpointStep: step,
    label: step === null ? `#${r.index}` : `#${r.index} @ step ${step}`,
    jobId: r.job_id, config: r.config, target: r.target, steps,
    family: familyOf(steps, families), metrics: r.metrics || {}, report,
    duration: r.duration_seconds };
}

// Unique per row: a distill job's checkpoints share its index (ResultRow.checkpoint_step).
const rowKey = (r) => (r.checkpoint_step === undefined ? `${r.index}` : `${r.index}@${r.checkpoint_step}`);

const select = (label, id, options, value, onchange) => h('label', { for: id }, label + ' ',
  h('select', { id, onchange: (e) => onchange(e.target.value) },
    ...options.map(([v, text]) => h('option', { value: v, text, selected: v === value }))));

export function showSweep(root, id) {
  const s = {
    x: 'bits_per_weight', y: 'kld_mean', xlog: false, ylog: false,
    hiddenFamilies: new Set(), paramKey: '', paramValue: '',
    sort: { key: 'index', dir: 1 }, selected: new Set(), curveMetric: 'decode_ms_per_token',
    rows: [], rowsByKey: new Map(), frontier: [], sweep: null, jobs: [], families: {},
  };
  let stopped = false, timer = null, lastDone = -1;
  const el = {
    title: h('h1', { text: `Sweep ${id}` }),
    meta: h('p.meta'),
    progress: h('div.progress-line', { role: 'status', 'aria-live': 'polite' }),
    status: h('p.status', { role: 'status', 'aria-live': 'polite' }),
    axes: h('div.controls'),
    plot: h('div.plot', { id: 'scatter', role: 'img', 'aria-label': 'trade-off scatter plot' }),
    plotNote: h('p.note'),
    frontier: h('div.frontier-list', { id: 'frontier-list' }),
    filters: h('div.controls.filters', { id: 'filters' }),
    compare: h('div', { id: 'compare' }),
    exportBar: h('div.controls'),
    table: h('div.scroll', { id: 'results' }),
    curvesBox: h('section.curves', { id: 'curves', hidden: true }),
    curvePlot: h('div.plot.small', { id: 'curve-plot' }),
    curveControls: h('div.controls'),
    failed: h('section', { id: 'failed', hidden: true }),
  };
  el.curvesBox.append(h('h2', { text: 'Latency and memory against context length' }), el.curveControls, el.curvePlot);
  root.append(
    h('nav', {}, h('a', { href: '#/', text: '← all sweeps' })),
    el.title, el.meta, el.progress, el.status,
    h('section.trade', { 'aria-labelledby': 'plot-title' },
      h('h2', { id: 'plot-title', text: 'Trade-off' }), el.axes,
      h('div.plot-row', {}, h('div.plot-box', {}, el.plot, el.plotNote),
        h('aside', { 'aria-labelledby': 'frontier-title' },
          h('h3', { id: 'frontier-title', text: 'Pareto frontier' }), el.frontier))),
    h('section', { 'aria-labelledby': 'filter-title' }, h('h2', { id: 'filter-title', text: 'Filter' }), el.filters),
    h('section', { 'aria-labelledby': 'compare-title' }, h('h2', { id: 'compare-title', text: 'Compare' }), el.compare),
    h('section', { 'aria-labelledby': 'results-title' }, h('h2', { id: 'results-title', text: 'Results' }), el.exportBar, el.table),
    el.curvesBox, el.failed);
  const scatter = makeChart(el.plot);
  const curves = makeChart(el.curvePlot);
  // For the browser test: what ECharts holds, and where a value is drawn.
  window.squeezeDashboard = { scatter: () => scatter.chart.getOption(), curves: () => curves.chart.getOption(),
    pixel: (x, y) => scatter.chart.convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [x, y]), state: s };
  scatter.chart.on('click', (p) => {
    if (p.seriesId?.startsWith('family:')) toggle(p.data[2]);
  });

  const visible = () => s.rows.filter((r) => !s.hiddenFamilies.has(r.family) &&
    (!s.paramKey || !s.paramValue || hasParameter(r, s.paramKey, s.paramValue)));

  function toggle(key) {
    if (s.selected.has(key)) s.selected.delete(key);
    else if (s.selected.size >= 4) {
      el.status.textContent = 'The comparison holds 4 configurations: unselect one first.';
      return;
    } else s.selected.add(key);
    el.status.textContent = '';
    render();
  }

  function renderAxes() {
    const opts = METRICS.map((m) => [m.key, m.label]);
    el.axes.replaceChildren(
      select('x axis', 'x-metric', opts, s.x, (v) => { s.x = v; refreshFrontier(); }),
      h('label', {}, h('input', { type: 'checkbox', id: 'x-log', checked: s.xlog,
        onchange: (e) => { s.xlog = e.target.checked; render(); } }), ' log'),
      select('y axis', 'y-metric', opts, s.y, (v) => { s.y = v; refreshFrontier(); }),
      h('label', {}, h('input', { type: 'checkbox', id: 'y-log', checked: s.ylog,
        onchange: (e) => { s.ylog = e.target.checked; render(); } }), ' log'),
      h('button', { type: 'button', id: 'swap-axes', text: 'swap axes',
        onclick: () => { [s.x, s.y, s.xlog, s.ylog] = [s.y, s.x, s.ylog, s.xlog]; refreshFrontier(); } }));
  }

  function renderFilters() {
    const families = [...new Set(s.rows.map((r) => r.family))].sort();
    const params = parameterValues(s.rows);
    const values = params.find((p) => p.key === s.paramKey)?.values || [];
    el.filters.replaceChildren(
      h('fieldset', {}, h('legend', { text: 'technique family' }), ...families.map((f) =>
        h('label.family', {}, h('input', { type: 'checkbox', value: f, checked: !s.hiddenFamilies.has(f),
          'data-family': f, onchange: (e) => {
            if (e.target.checked) s.hiddenFamilies.delete(f); else s.hiddenFamilies.add(f);
            render();
          } }), ' ' + f))),
      h('fieldset', {}, h('legend', { text: 'parameter' }),
        select('name', 'param-key', [['', 'any'], ...params.map((p) => [p.key, p.key])], s.paramKey,
          (v) => { s.paramKey = v; s.paramValue = ''; renderFilters(); render(); }),
        select('value', 'param-value', [['', 'any'], ...values.map((v) => [v, v])], s.paramValue,
          (v) => { s.paramValue = v; render(); })));
  }

  function render() {
    const rows = visible();
    const onFrontier = new Set(s.frontier);
    for (const r of s.rows) r.onFrontier = onFrontier.has(r.key);
    const frontierRows = s.frontier.map((k) => s.rowsByKey.get(k)).filter(Boolean);
    const { option, drawn, hidden } = scatterOption(s, rows, frontierRows, distillTrajectories(rows));
    scatter.chart.setOption(option, { notMerge: true });
    el.plot.dataset.points = String(drawn);
    el.plotNote.textContent = [
      `${drawn} of ${s.rows.length} results drawn`,
      s.rows.length - rows.length ? `${s.rows.length - rows.length} filtered out` : '',
      hidden ? `${hidden} without a value for an axis${s.xlog || s.ylog ? ' or not positive on a log axis' : ''}` : '',
    ].filter(Boolean).join(' · ');
    el.frontier.replaceChildren(
      h('p.note', { text: `${frontierRows.length} non-dominated of all results, ${METRIC[s.x].short} ${METRIC[s.x].better} and ${METRIC[s.y].short} ${METRIC[s.y].better}` }),
      h('ol', {}, ...frontierRows.map((r) => h('li', { 'data-key': r.key },
        h('button.link', { type: 'button', onclick: () => toggle(r.key), 'aria-pressed': String(s.selected.has(r.key)),
          title: `${r.config} (select for comparison)`, text: `#${r.index} ${r.config}` })))));
    const sorted = sortRows(rows, s.sort);
    el.table.replaceChildren(resultsTable(sorted, s, {
      sort: (key) => {
        s.sort = { key, dir: s.sort.key === key ? -s.sort.dir : 1 };
        render();
        el.table.querySelector(`th[data-col="${key}"] button`)?.focus();
      },
      toggle,
    }));
    el.exportBar.replaceChildren(
      h('span', { text: `${rows.length} rows` }),
      h('button', { type: 'button', id: 'export-csv', text: 'Export CSV',
        onclick: () => download(`sweep-${id}-results.csv`, 'text/csv', toCsv(sortRows(visible(), s.sort))) }),
      h('button', { type: 'button', id: 'export-json', text: 'Export JSON',
        onclick: () => download(`sweep-${id}-results.json`, 'application/json', toJson(sortRows(visible(), s.sort))) }));
    const chosen = [...s.selected].map((k) => s.rowsByKey.get(k)).filter(Boolean);
    el.compare.replaceChildren(comparePanel(chosen, toggle));
    renderCurves(rows);
  }

  function renderCurves(rows) {
    const withCurve = curveRows(rows);
    el.curvesBox.hidden = withCurve.length === 0;
    if (!withCurve.length) return;
    el.curveControls.replaceChildren(select('metric', 'curve-metric',
      CURVE_METRICS.map((m) => [m.key, m.label]), s.curveMetric, (v) => { s.curveMetric = v; render(); }));
    curves.chart.setOption(curveOption(withCurve, s.curveMetric), { notMerge: true });
    curves.chart.resize();
  }

  function renderHeader() {
    const sw = s.sweep;
    el.title.textContent = `${sw.name || 'sweep'} (#${sw.id})`;
    document.title = `${sw.name} — squeeze`;
    el.meta.replaceChildren(`model ${sw.model} · created ${formatTime(sw.created_ms)} · `,
      h('span', { class: `state ${stateName(sw.state)}`, text: stateName(sw.state) }));
    const c = sw.counts || {};
    const running = s.jobs.filter((j) => j.state === 'JOB_STATE_RUNNING');
    el.progress.replaceChildren(progressBar(c),
      ` ${c.done || 0} done · ${c.running || 0} running · ${c.failed || 0} failed · ${c.queued || 0} queued`,
      running.length ? ` · now: ${running.map((j) => `#${j.index} ${j.config} (${j.stage || 'starting'})`).join(', ')}` : '');
    const failed = s.jobs.filter((j) => j.state === 'JOB_STATE_FAILED');
    el.failed.hidden = failed.length === 0;
    el.failed.replaceChildren(h('h2', { text: `Failed jobs (${failed.length})` }),
      h('ul.failed', {}, ...failed.map((j) => h('li', {}, h('b', { text: `#${j.index} ${j.config}` }),
        ` (attempt ${j.attempt}): `, h('span.error', { text: j.error || 'no error recorded' })))));
  }

  async function refreshFrontier() {
    renderAxes();
    const objectives = [...new Set([s.x, s.y])].join(',');
    try {
      const { results = [] } = await api(`sweeps/${id}/pareto?objectives=${objectives}`);
      s.frontier = results.map(rowKey);
    } catch (e) {
      s.frontier = [];
      el.status.textContent = e.message;
    }
    if (!stopped) render();
  }

  async function poll() {
    try {
      const [sweep, { jobs = [] }] = await Promise.all([api(`sweeps/${id}`), api(`sweeps/${id}/jobs`)]);
      if (stopped) return;
      s.sweep = sweep;
      s.jobs = jobs;
      renderHeader();
      const done = sweep.counts?.done || 0;
      if (done !== lastDone) {
        lastDone = done;
        s.families = await techniqueFamilies();
        const { results = [] } = await api(`sweeps/${id}/results?report=1`);
        if (stopped) return;
        s.rows = results.map((r) => toRow(r, s.families));
        s.rowsByKey = new Map(s.rows.map((r) => [r.key, r]));
        renderFilters();
        await refreshFrontier();
      }
      if (/QUEUED|RUNNING/.test(sweep.state)) timer = setTimeout(poll, 2000);
      root.dataset.ready = 'true';
    } catch (e) {
      if (!stopped) el.status.textContent = e.message;
    }
  }
  root.dataset.ready = 'false';
  renderAxes();
  poll();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      scatter.dispose();
      curves.dispose();
    },
  };
}

// ECharts, with only the parts the dashboard draws (keeps the bundle small).
import * as echarts from 'echarts/core';
import { LineChart, ScatterChart } from 'echarts/charts';
import {
  AriaComponent, DataZoomComponent, GridComponent, LegendComponent, TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([LineChart, ScatterChart, AriaComponent, DataZoomComponent, GridComponent,
  LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

export { echarts };

// One colour per technique family, the same in every chart and in the table.
const FAMILY_COLORS = {
  baseline: '#111111',
  precision: '#1f77b4',
  quantization: '#d62728',
  pruning: '#2ca02c',
  attention: '#9467bd',
  kv_cache: '#8c564b',
  training: '#e377c2',
  distillation: '#e377c2',
  pipeline: '#ff7f0e',
};
const EXTRA = ['#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939'];

export function familyColor(family) {
  if (FAMILY_COLORS[family]) return FAMILY_COLORS[family];
  let hash = 0;
  for (const c of family) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return EXTRA[hash % EXTRA.length];
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;',
    '"': '&quot;', "'": '&#39;' })[c]);
}

// Keeps a chart sized to its box.
export function makeChart(el) {
  const chart = echarts.init(el, null, { renderer: 'canvas' });
  const ro = new ResizeObserver(() => chart.resize());
  ro.observe(el);
  return { chart, dispose() { ro.disconnect(); chart.dispose(); } };
}

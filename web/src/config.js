// A result's configuration as the coordinator shows it: "baseline", or pipeline steps
// "name:key=value,key=value" joined by " + ". Families come from /api/techniques.

export function parseConfig(text) {
  if (!text || text === 'baseline') return [];
  return text.split(' + ').map((step) => {
    const colon = step.indexOf(':');
    const name = colon < 0 ? step : step.slice(0, colon);
    const params = {};
    if (colon >= 0) {
      for (const kv of step.slice(colon + 1).split(',')) {
        const eq = kv.indexOf('=');
        if (eq > 0) params[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    }
    return { name, params };
  });
}

// "baseline", "pipeline" (two steps or more), or the family of the one technique.
export function familyOf(steps, families) {
  if (steps.length === 0) return 'baseline';
  if (steps.length > 1) return 'pipeline';
  return families[steps[0].name] || steps[0].name;
}

// Every "technique.param" of the results with the values seen, for the parameter filter.
export function parameterValues(rows) {
  const seen = new Map();
  for (const row of rows) {
    for (const s of row.steps) {
      for (const [k, v] of Object.entries(s.params)) {
        const key = `${s.name}.${k}`;
        if (!seen.has(key)) seen.set(key, new Set());
        seen.get(key).add(v);
      }
    }
  }
  return [...seen.keys()].sort().map((key) => ({ key, values: [...seen.get(key)].sort(natural) }));
}

export function hasParameter(row, key, value) {
  const dot = key.indexOf('.');
  const name = key.slice(0, dot), param = key.slice(dot + 1);
  return row.steps.some((s) => s.name === name && s.params[param] === value);
}

function natural(a, b) {
  const x = Number(a), y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Distillation runs of one student (same parameters but the step count) and the checkpoints
// a run's report lists: each becomes one connected trajectory, ordered by training steps.
export function distillTrajectories(rows) {
  const groups = new Map();
  for (const row of rows) {
    if (row.steps.length !== 1 || row.steps[0].name !== 'distill') continue;
    const { steps, checkpoints, out, ...rest } = row.steps[0].params;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!groups.has(key)) groups.set(key, { label: describe(rest), points: [] });
    const g = groups.get(key);
    for (const c of row.checkpoints || []) g.points.push({ step: c.step, metrics: c.metrics, row });
    if (!(row.checkpoints || []).some((c) => String(c.step) === String(steps))) {
      g.points.push({ step: Number(steps), metrics: row.metrics, row });
    }
  }
  const out = [];
  for (const g of groups.values()) {
    g.points.sort((a, b) => a.step - b.step);
    if (g.points.length >= 2) out.push(g);
  }
  return out;
}

function describe(params) {
  const keys = ['layers', 'mode', 'init', 'dim'].filter((k) => params[k] !== undefined);
  return 'distill ' + keys.map((k) => `${k}=${params[k]}`).join(',');
}

// A result's configuration as the coordinator shows it: "baseline", or pipeline steps
// "name:key=value,key=value" joined by " + ". Families come from /api/techniques.

export function parseConfig(text) {
  if (!text || text === 'baseline') return [];
  return text.replace(/ @ step \d+$/, '').split(' + ').map((step) => {
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

// The checkpoints of one distillation job (rows sharing its index, ResultRow.checkpoint_step)
// and its final model: one connected trajectory each, ordered by training step.
export function distillTrajectories(rows) {
  const jobs = new Map();
  for (const row of rows) {
    if (row.checkpointStep === null) continue;
    if (!jobs.has(row.index)) jobs.set(row.index, []);
    jobs.get(row.index).push({ step: row.checkpointStep, row });
  }
  const out = [];
  for (const [index, points] of jobs) {
    const final = rows.find((r) => r.index === index && r.checkpointStep === null);
    if (final) {
      const steps = Number(final.steps.find((s) => s.name === 'distill')?.params.steps);
      points.push({ step: Number.isFinite(steps) ? steps : 'final', row: final });
    }
    points.sort((a, b) => (a.step === 'final' ? 1 : b.step === 'final' ? -1 : a.step - b.step));
    if (points.length >= 2) out.push({ label: `#${index} ${final ? describe(final) : 'distill'}`, points });
  }
  return out;
}

function describe(row) {
  const p = row.steps.find((s) => s.name === 'distill')?.params || {};
  return 'distill ' + ['layers', 'mode', 'init'].filter((k) => p[k] !== undefined).map((k) => `${k}=${p[k]}`).join(',');
}

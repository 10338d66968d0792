// The sweeps list: name, model, state, progress, created, configurations; refreshed while
// any sweep runs.
import { api } from './api.js';
import { h, formatTime, stateName } from './dom.js';

export function progressBar(counts) {
  const total = counts?.total || 0;
  const ended = (counts?.done || 0) + (counts?.failed || 0) + (counts?.cancelled || 0);
  return h('span.progress', {},
    h('progress', { max: String(total || 1), value: String(ended),
                    'aria-label': `${ended} of ${total} jobs ended` }),
    h('span.count', { text: `${ended}/${total}` }));
}

export function showSweepList(root) {
  const status = h('p.status', { role: 'status', text: 'Loading sweeps…' });
  const tbody = h('tbody');
  root.append(
    h('h1', { text: 'Sweeps' }),
    status,
    h('div.scroll', {}, h('table.sweeps', {},
      h('thead', {}, h('tr', {}, ...['#', 'name', 'model', 'state', 'progress', 'created',
                                     'configurations'].map((t) => h('th', { scope: 'col', text: t })))),
      tbody)));
  let timer = null, stopped = false;

  async function load() {
    try {
      const { sweeps = [] } = await api('sweeps');
      if (stopped) return;
      status.textContent = sweeps.length ? '' : 'No sweeps yet: submit one with `squeeze submit`.';
      tbody.replaceChildren(...sweeps.map((s) => h('tr', { 'data-sweep': s.id },
        h('td', { text: s.id }),
        h('td', {}, h('a', { href: `#/sweeps/${s.id}`, text: s.name || `sweep ${s.id}` })),
        h('td.path', { text: s.model }),
        h('td', {}, h('span', { class: `state ${stateName(s.state)}`, text: stateName(s.state) })),
        h('td', {}, progressBar(s.counts)),
        h('td', { text: formatTime(s.created_ms) }),
        h('td.num', { text: s.counts?.total ?? 0 }))));
      const live = sweeps.some((s) => /QUEUED|RUNNING/.test(s.state));
      if (live) timer = setTimeout(load, 2000);
    } catch (e) {
      if (!stopped) status.textContent = e.message;
    }
  }
  load();
  return { stop() { stopped = true; clearTimeout(timer); } };
}

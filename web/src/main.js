// The dashboard's entry: a hash router between the sweeps list (#/) and one sweep
// (#/sweeps/ID).
import { showSweepList } from './sweep_list.js';
import { showSweep } from './sweep_view.js';

let current = null; // the view on screen: { stop() }

function route() {
  if (current) current.stop();
  const main = document.getElementById('main');
  main.replaceChildren();
  const m = location.hash.match(/^#\/sweeps\/(\d+)$/);
  current = m ? showSweep(main, m[1]) : showSweepList(main);
}

window.addEventListener('hashchange', route);
route();

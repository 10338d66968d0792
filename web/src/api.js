// The coordinator's read-only JSON API (same origin). With a token configured, the first 401
// asks for it once; it is kept in sessionStorage until the tab is closed.

const TOKEN_KEY = 'squeeze-token';
let pendingPrompt = null;

export class ApiError extends Error {}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Asks /api/auth (never refused) whether a token is needed and the kept one is right, so the
// page asks for it before any request fails.
let checked = null;
function ensureToken() {
  if (!checked) {
    checked = (async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const res = await fetch('/api/auth', { headers: authHeaders(), cache: 'no-store' });
        const auth = await res.json().catch(() => ({}));
        if (!auth.token_required || auth.token_ok) return;
        const had = sessionStorage.getItem(TOKEN_KEY);
        sessionStorage.removeItem(TOKEN_KEY);
        await askToken(had ? 'That token was refused. Try again:' : null);
      }
    })();
  }
  return checked;
}

export async function api(path) {
  await ensureToken();
  for (let attempt = 0; attempt < 4; attempt++) {
    const res = await fetch(`/api/${path}`, { headers: authHeaders(), cache: 'no-store' });
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      checked = null;
      await ensureToken();
      continue;
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      throw new ApiError(`GET /api/${path}: ${res.status} ${body?.error || res.statusText}`);
    }
    return body;
  }
  throw new ApiError(`GET /api/${path}: the token was refused`);
}

// One dialog for every request waiting on the token.
function askToken(message) {
  if (!pendingPrompt) {
    pendingPrompt = new Promise((resolve) => {
      const dialog = document.getElementById('token-dialog');
      const form = dialog.querySelector('form');
      const input = dialog.querySelector('input');
      const note = dialog.querySelector('.note');
      note.textContent = message || 'This coordinator needs a token (its --token).';
      input.value = '';
      form.onsubmit = (e) => {
        e.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        dialog.close();
        pendingPrompt = null;
        resolve();
      };
      dialog.showModal();
      input.focus();
    });
  }
  return pendingPrompt;
}

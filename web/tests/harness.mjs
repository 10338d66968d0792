// Test harness: the real squeeze-coordinator and squeeze-worker on loopback, a temporary
// data root with the tests' small model, and the API read over HTTP. Paths come from the
// environment ctest sets (tests/CMakeLists.txt).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this test through ctest)`);
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export class Cluster {
  constructor(name) {
    this.dir = mkdtempSync(join(tmpdir(), `squeeze-${name}-`));
    this.root = join(this.dir, 'root');
    this.children = [];
    const r = spawnSync(env('SQUEEZE_FIXTURE_BIN'), [this.root], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`squeeze-test-fixture failed: ${r.stderr}`);
    this.files = JSON.parse(r.stdout);
  }

  spawnLogged(name, argv) {
    const log = openSync(join(this.dir, `${name}.log`), 'w');
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
    child.name = name;
    this.children.push(child);
    return child;
  }

  // Starts a coordinator on `db` (default this cluster's) and waits for its ports.
  async startCoordinator(name, extra = [], db = join(this.dir, 'squeeze.db')) {
    const ports = join(this.dir, `${name}-ports.json`);
    const child = this.spawnLogged(name, [env('SQUEEZE_COORDINATOR_BIN'), '--db', db,
      '--data-root', this.root, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0',
      '--ports-file', ports, '--web-root', env('SQUEEZE_WEB_DIST'), ...extra]);
    await waitFor(`${name} to listen (log: ${join(this.dir, name + '.log')})`,
      () => existsSync(ports) || child.exitCode !== null, 30000);
    if (!existsSync(ports)) throw new Error(`${name} exited: ${this.log(name)}`);
    const p = JSON.parse(readFileSync(ports, 'utf8'));
    return { grpc: `127.0.0.1:${p.grpc}`, http: `http://127.0.0.1:${p.http}`, child };
  }

  startWorker(name, grpc) {
    return this.spawnLogged(name, [env('SQUEEZE_WORKER_BIN'), '--coordinator', grpc,
      '--data-root', this.root, '--name', name, '--quiet']);
  }

  log(name) {
    try { return readFileSync(join(this.dir, `${name}.log`), 'utf8'); } catch { return ''; }
  }

  stop() {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
  }
}

export async function getJson(url, headers = {}) {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${body}`);
  return JSON.parse(body);
}

// Chromium from $CHROMIUM or PATH (Debian's package is `chromium`); null when absent.
export function findChromium() {
  const candidates = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome']
    .filter(Boolean);
  for (const c of candidates) {
    if (c.includes('/')) { if (existsSync(c)) return c; continue; }
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

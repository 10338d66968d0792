// The dashboard in headless Chromium (playwright-core) against a real coordinator and worker
// holding a finished sweep. Exit 0: passed; 77: skipped (chromium missing); 1: failed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, env, findChromium, getJson, waitFor } from './harness.mjs';

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.log('SKIP web_browser_test: chromium is not installed (scripts/install-deps.sh installs it)');
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('FAIL: playwright-core is missing from web/node_modules: run scripts/install-deps.sh (npm ci in web/)');
  process.exit(1);
}
if (!existsSync(join(env('SQUEEZE_WEB_DIST'), 'index.html'))) {
  console.error(`FAIL: the dashboard is not built (${env('SQUEEZE_WEB_DIST')}): run scripts/build-web.sh`);
  process.exit(1);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

const SWEEP = (f) => `name: dashboard-test
model: ${f.model}
tokenizer: ${f.tokenizer}
eval: {text: ${f.text}, context: 64, max_tokens: 300}
calibration: {text: ${f.text}, samples: 4, context: 32}
latency: {prompt: 8, generate: 4, repeats: 1, warmup: 0, threads: 1}
max_attempts: 1
configs:
  - precision: {format: [f16, bf16]}
  - rtn: {bits: [8, 4, 2], group: 32}
  - magnitude: {sparsity: [0.25, 0.5]}
  - nm_sparse: {pattern: "2:4"}
  - sliding_window: {window: 16}
  - gqa: {groups: 3}   # fails on the worker: 3 groups do not divide 2 kv heads
  - pipeline: [{magnitude: {sparsity: 0.25}}, {rtn: {bits: 4, group: 32}}]
  - distill: {layers: 1, steps: 6, checkpoints: "2/4", batch: 2, seq: 16, samples: 4}
`;

const started = Date.now();
const cluster = new Cluster('web');
let browser;
try {
  const c = await cluster.startCoordinator('coordinator');
  let worker = cluster.startWorker('worker', c.grpc);
  const file = join(cluster.dir, 'sweep.yaml');
  writeFileSync(file, SWEEP(cluster.files));
  const sub = spawnSync(env('SQUEEZE_BIN'), ['submit', file, '--coordinator', c.grpc, '--watch'],
    { encoding: 'utf8', timeout: 240000 });
  const id = (sub.stderr.match(/sweep (\d+)/) || [])[1];
  if (!id) throw new Error(`squeeze submit: ${sub.status} ${sub.stdout} ${sub.stderr}`);
  console.log(`sweep ${id} finished in ${((Date.now() - started) / 1000).toFixed(1)} s (submit exit ${sub.status}: one job fails on purpose)`);

  const { results } = await getJson(`${c.http}/api/sweeps/${id}/results`);
  const pareto = (await getJson(`${c.http}/api/sweeps/${id}/pareto?objectives=bits_per_weight,kld_mean`)).results;
  const cli = spawnSync(env('SQUEEZE_BIN'), ['results', id, '--coordinator', c.grpc, '--pareto',
    'bits_per_weight,kld_mean', '--format', 'json'], { encoding: 'utf8' });
  const cliPareto = JSON.parse(cli.stdout);
  const cliCount = Array.isArray(cliPareto) ? cliPareto.length : (cliPareto.results || []).length;
  const checkpointRows = results.filter((r) => r.checkpoint_step !== undefined).length;
  check(results.length === 14 && checkpointRows === 2 && pareto.length >= 2,
    `the sweep has 14 results (${results.length}: 11 jobs + the distill job's 2 checkpoints: ${checkpointRows}) and a front of ${pareto.length}`);
  check(cliCount === pareto.length, `GetPareto over gRPC (squeeze results --pareto) agrees with the HTTP front (${cliCount})`);

  // Static files: content types and traversal.
  const index = await fetch(`${c.http}/`);
  check(index.status === 200 && index.headers.get('content-type').startsWith('text/html'), '/ serves index.html as text/html');
  const js = await fetch(`${c.http}/assets/app.js`);
  check(js.headers.get('content-type').startsWith('text/javascript'), '/assets/app.js is text/javascript');
  for (const bad of ['/../CMakeLists.txt', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fpackage.json']) {
    const r = await fetch(`${c.http}${bad}`);
    check(r.status === 404, `${bad} is refused (${r.status})`);
  }

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(`${c.http}/`);
  await page.waitForSelector(`tr[data-sweep="${id}"]`);
  check((await page.textContent(`tr[data-sweep="${id}"]`)).includes('dashboard-test'), 'the sweeps list shows the sweep');
  await page.click(`tr[data-sweep="${id}"] a`);
  await page.waitForSelector('#main[data-ready="true"]');
  await page.waitForSelector('table.results tbody tr');

  const familyPoints = async () => page.evaluate(() => window.squeezeDashboard.scatter().series
    .filter((s) => s.id.startsWith('family:')).reduce((n, s) => n + s.data.length, 0));
  const frontierPoints = async () => page.evaluate(() => window.squeezeDashboard.scatter().series
    .find((s) => s.id === 'frontier').data.length);
  check(await familyPoints() === results.length, `the plot shows one point per result (${await familyPoints()})`);
  check(await frontierPoints() === pareto.length, `the frontier has as many points as GetPareto returns (${await frontierPoints()})`);
  check(await page.locator('#frontier-list li').count() === pareto.length, 'the frontier is listed beside the plot');
  const families = await page.evaluate(() => window.squeezeDashboard.scatter().series
    .filter((s) => s.id.startsWith('family:')).map((s) => s.name).sort());
  check(JSON.stringify(families) === JSON.stringify(['attention', 'baseline', 'distillation', 'pipeline', 'precision', 'pruning', 'quantization']),
    `points are coloured by family: ${families.join(', ')}`);
  const trajectory = await page.evaluate(() => window.squeezeDashboard.scatter().series
    .filter((s) => s.id.startsWith('trajectory:')).map((s) => s.data.map((d) => d.step)));
  check(JSON.stringify(trajectory) === '[[2,4,6]]', `the distill checkpoints are joined in step order (${JSON.stringify(trajectory)})`);
  check(await page.locator('#failed li').count() === 1 && (await page.textContent('#failed')).includes('groups'),
    'the failed job is listed with its error');
  check(await page.isVisible('#curves') && await page.evaluate(() => window.squeezeDashboard.curves().series.length) === 1,
    'the attention variant shows its latency-against-context curve');

  // Hovering a point shows its configuration and every metric; clicking selects it.
  const target = await page.evaluate(() => {
    // The highest point (largest KLD): no other point lies on it.
    const p = window.squeezeDashboard.scatter().series.filter((s) => s.id.startsWith('family:'))
      .flatMap((s) => s.data).sort((a, b) => b[1] - a[1])[0];
    return { key: p[2], px: window.squeezeDashboard.pixel(p[0], p[1]) };
  });
  const box = await page.locator('#scatter').boundingBox();
  await page.mouse.move(box.x + target.px[0], box.y + target.px[1]);
  await page.waitForFunction(() => document.querySelector('#scatter').innerText.includes('top-1 agreement:'));
  const tip = await page.innerText('#scatter');
  const row = results.find((r) => (r.checkpoint_step === undefined ? `${r.index}` : `${r.index}@${r.checkpoint_step}`) === target.key);
  check(tip.includes(row.config) && ['bits per weight:', 'mean KL divergence:', 'perplexity:', 'decode ms/token:',
    'prefill tokens/s:', 'size (bytes):'].every((m) => tip.includes(m)), `hovering #${target.key} shows its configuration and every metric`);
  await page.mouse.click(box.x + target.px[0], box.y + target.px[1]);
  check(await page.locator(`table.results tr.selected[data-key="${target.key}"]`).count() === 1, 'clicking the point selects it');
  await page.mouse.click(box.x + target.px[0], box.y + target.px[1]);
  check(await page.locator('table.results tr.selected').count() === 0, 'clicking it again unselects it');

  // Changing the axes redraws (and asks for that front).
  const yBefore = await page.evaluate(() => window.squeezeDashboard.scatter().yAxis[0].name);
  await page.selectOption('#y-metric', 'perplexity');
  await page.waitForFunction(() => window.squeezeDashboard.scatter().yAxis[0].name.startsWith('perplexity'));
  const pplPareto = (await getJson(`${c.http}/api/sweeps/${id}/pareto?objectives=bits_per_weight,perplexity`)).results;
  await page.waitForFunction((n) => window.squeezeDashboard.scatter().series.find((s) => s.id === 'frontier').data.length === n, pplPareto.length);
  const ys = await page.evaluate(() => window.squeezeDashboard.scatter().series
    .filter((s) => s.id.startsWith('family:')).flatMap((s) => s.data.map((d) => d[1])).sort((a, b) => a - b));
  const ppls = results.map((r) => r.metrics.perplexity).sort((a, b) => a - b);
  check(yBefore !== (await page.evaluate(() => window.squeezeDashboard.scatter().yAxis[0].name)) &&
    JSON.stringify(ys) === JSON.stringify(ppls), 'changing the y axis redraws the points with the new metric');
  await page.check('#y-log');
  check(await page.evaluate(() => window.squeezeDashboard.scatter().yAxis[0].type) === 'log', 'the y axis switches to log');
  await page.uncheck('#y-log');
  await page.selectOption('#y-metric', 'kld_mean');
  await page.waitForFunction((n) => window.squeezeDashboard.scatter().series.find((s) => s.id === 'frontier').data.length === n, pareto.length);

  // A family filter hides its points and rows.
  const quant = results.filter((r) => /^rtn:/.test(r.config) && !r.config.includes(' + ')).length;
  await page.uncheck('input[data-family="quantization"]');
  check(await familyPoints() === results.length - quant, `unticking quantization hides its ${quant} points`);
  check(await page.locator('table.results tbody tr').count() === results.length - quant, 'and its table rows');
  await page.check('input[data-family="quantization"]');
  await page.selectOption('#param-key', 'rtn.bits');
  await page.selectOption('#param-value', '4');
  check(await familyPoints() === 2, `the parameter filter rtn.bits=4 keeps 2 points (${await familyPoints()})`);
  await page.selectOption('#param-key', '');
  check(await familyPoints() === results.length, 'clearing the filter shows every point again');

  // The table sorts (by keyboard too).
  const column = async (col) => page.$$eval(`table.results tbody tr`, (trs, col) => trs.map((tr) => {
    const i = [...tr.parentElement.parentElement.querySelectorAll('thead th')].findIndex((th) => th.dataset.col === col);
    return tr.children[i].textContent;
  }), col);
  await page.click('th[data-col="kld_mean"] button');
  let klds = (await column('kld_mean')).map(Number);
  check(klds.every((v, i) => i === 0 || klds[i - 1] <= v), 'clicking KLD mean sorts ascending');
  await page.keyboard.press('Enter'); // the header button keeps the focus
  klds = (await column('kld_mean')).map(Number);
  check(klds.every((v, i) => i === 0 || klds[i - 1] >= v) && klds[0] > klds[klds.length - 1], 'Enter on it sorts descending');

  // Compare three configurations.
  for (const i of [0, 1, 2]) await page.locator('table.results tbody tr input[type=checkbox]').nth(i).check();
  check(await page.locator('table.compare thead th').count() === 4, 'three selected configurations are compared side by side');
  check(await page.evaluate(() => window.squeezeDashboard.scatter().series.find((s) => s.id === 'selected').data.length) === 3,
    'and ringed on the plot');

  // Export.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  check(csv.length === results.length + 1 && csv[0].startsWith('index,checkpoint_step,config,family'),
    `the CSV export has a header and one row per result (${csv.length - 1})`);
  const [jdl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  check(JSON.parse(readFileSync(await jdl.path(), 'utf8')).length === results.length, 'the JSON export has one object per result');

  const artifacts = env('SQUEEZE_ARTIFACTS');
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'sweep-view.png'), fullPage: true });
  console.log(`screenshot: ${join(artifacts, 'sweep-view.png')}`);

  // Phone width: nothing wider than the screen but the tables' own scroll boxes.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no horizontal page scroll at phone width (${overflow} px)`);
  await page.screenshot({ path: join(artifacts, 'sweep-view-phone.png'), fullPage: false });

  // Live updates: a sweep queued while no worker runs, then a worker starts; the open page
  // follows it to the end without a reload.
  await page.setViewportSize({ width: 1280, height: 800 });
  worker.kill('SIGTERM');
  await waitFor('the worker to stop', () => worker.exitCode !== null || worker.signalCode !== null, 15000);
  writeFileSync(file, SWEEP(cluster.files).replace('name: dashboard-test', 'name: live-test')
    .replace(/configs:[\s\S]*/, 'configs:\n  - precision: {format: [f16, bf16]}\n  - rtn: {bits: 4, group: 32}\n'));
  const sub2 = spawnSync(env('SQUEEZE_BIN'), ['submit', file, '--coordinator', c.grpc], { encoding: 'utf8' });
  const id2 = (sub2.stderr.match(/sweep (\d+)/) || [])[1];
  await page.goto(`${c.http}/#/sweeps/${id2}`);
  await page.waitForSelector('#main[data-ready="true"]');
  check((await page.textContent('.progress-line')).includes('0/4') && await page.isVisible('.meta .state.queued'),
    `a queued sweep shows 0/4 and its state (${await page.textContent('.progress-line')})`);
  worker = cluster.startWorker('worker2', c.grpc);
  await page.waitForSelector('.meta .state.completed', { timeout: 60000 });
  await page.waitForFunction(() => document.querySelectorAll('table.results tbody tr').length === 4);
  check((await page.textContent('.progress-line')).includes('4/4') && await familyPoints() === 4,
    'the page follows the sweep to its end: progress 4/4 and 4 points, no reload');

  // With a token: asked once, kept for the tab (a second coordinator on a copy of the file).
  const db2 = join(cluster.dir, 'token.db');
  copyFileSync(join(cluster.dir, 'squeeze.db'), db2);
  const t = await cluster.startCoordinator('token-coordinator', ['--token', 'sesame'], db2);
  const tpage = await context.newPage();
  tpage.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text()); });
  tpage.on('pageerror', (e) => consoleErrors.push(String(e)));
  await tpage.goto(`${t.http}/`);
  await tpage.waitForSelector('#token-dialog[open]');
  await tpage.fill('#token-dialog input', 'sesame');
  await tpage.press('#token-dialog input', 'Enter');
  await tpage.waitForSelector(`tr[data-sweep="${id}"]`);
  await tpage.click(`tr[data-sweep="${id}"] a`);
  await tpage.waitForSelector('table.results tbody tr');
  check(!(await tpage.isVisible('#token-dialog')), 'the token is asked once and kept while the tab lives');

  check(consoleErrors.length === 0, `no console errors or warnings${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);
} catch (e) {
  console.error(`FAIL ${e.stack || e}`);
  for (const name of ['coordinator', 'worker']) console.error(`--- ${name} log\n${cluster.log(name).slice(-3000)}`);
  failures++;
} finally {
  if (browser) await browser.close();
  cluster.stop();
}
console.log(`${failures ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures ? 1 : 0);

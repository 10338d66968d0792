// Builds the dashboard into dist/: one bundled, minified script (ECharts included), the
// stylesheet and index.html. `node build.mjs` (npm run build); the coordinator serves dist/.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: join(out, 'assets/app.js'),
  legalComments: 'linked',
  logLevel: 'warning',
});
await copyFile(join(here, 'src/style.css'), join(out, 'assets/app.css'));
await copyFile(join(here, 'src/index.html'), join(out, 'index.html'));
console.log(`dashboard built in ${out}`);

// node web/tests/screenshot.mjs URL FILE [WIDTH HEIGHT]: saves a PNG of a dashboard page
// (headless Chromium, waiting until the sweep view has drawn). scripts/demo.sh --screenshot
// uses it for the README's picture.
import { chromium } from 'playwright-core';
import { findChromium } from './harness.mjs';

const [url, file, width = '1280', height = '800'] = process.argv.slice(2);
if (!url || !file) {
  console.error('usage: node web/tests/screenshot.mjs URL FILE [WIDTH HEIGHT]');
  process.exit(2);
}
const executablePath = findChromium();
if (!executablePath) {
  console.error('screenshot: chromium is not installed (scripts/install-deps.sh installs it)');
  process.exit(1);
}
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height) } });
  await page.goto(url);
  await page.waitForSelector('#main[data-ready="true"]', { timeout: 30000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
} finally {
  await browser.close();
}

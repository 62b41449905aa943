// Browser test of `neuralnet serve` (run by tests/web.rs): draws a digit on the page's canvas with
// the mouse in headless Chromium, then checks that the page shows what /api/predict answers for the
// pixels the page sent, and that every layer's activations are drawn.
//
// node draw.mjs URL DIGIT.json SCREENSHOT.png
//   DIGIT.json: {"pixels": [784 grey levels 0–255, row-major, ink bright], "label": 7 or null}
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const [url, digitFile, screenshot] = process.argv.slice(2);
const digit = JSON.parse(readFileSync(digitFile, 'utf8'));
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exitCode = 1; };

// playwright gives every launch a fresh, temporary profile (its own --user-data-dir).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  await page.goto(url + '?lang=en');
  await page.waitForSelector('#model-info dt');

  // Replay the digit as strokes: one horizontal stroke per run of ink in each row.
  const box = await page.locator('#pad').boundingBox();
  const cell = box.width / 28;
  let strokes = 0;
  for (let y = 0; y < 28; y++) {
    let x = 0;
    while (x < 28) {
      if (digit.pixels[y * 28 + x] < 128) { x++; continue; }
      const start = x;
      while (x < 28 && digit.pixels[y * 28 + x] >= 128) x++;
      const py = box.y + (y + 0.5) * cell;
      await page.mouse.move(box.x + (start + 0.5) * cell, py);
      await page.mouse.down();
      await page.mouse.move(box.x + (x - 0.5) * cell + 0.1, py, { steps: Math.max(1, x - start) });
      await page.mouse.up();
      strokes++;
    }
  }
  await page.waitForFunction(() => window.neuralnet.idle() && window.neuralnet.last() !== null, null, { timeout: 20000 });
  const shown = await page.evaluate(() => ({
    text: document.getElementById('prediction').textContent,
    value: document.getElementById('prediction').dataset.value,
    bars: document.querySelectorAll('#bars .bar').length,
    last: window.neuralnet.last(),
    layers: [...document.querySelectorAll('#layers canvas')].map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 40 || d[i + 1] > 40 || d[i + 2] > 40) lit++;
      return { id: c.id, n: Number(c.dataset.n), width: c.width, lit };
    }),
  }));

  // What the API says for the very pixels the page's drawing became.
  const r = await fetch(url + 'api/predict', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pixels: shown.last.input }),
  });
  const api = await r.json();
  if (!r.ok) fail(`/api/predict: ${r.status} ${JSON.stringify(api)}`);
  if (String(api.prediction) !== shown.value) fail(`page shows ${shown.value}, the API says ${api.prediction}`);
  if (shown.text !== String(api.prediction)) fail(`page text ${shown.text}, the API says ${api.prediction}`);
  const diff = Math.max(...api.probabilities.map((p, i) => Math.abs(p - shown.last.probabilities[i])));
  if (!(diff < 1e-4)) fail(`probabilities differ by ${diff}`);
  if (shown.bars !== 10) fail(`${shown.bars} probability bars, expected 10`);
  if (shown.layers.length !== api.activations.length + 1) fail(`${shown.layers.length} layer views for ${api.activations.length} layers`);
  shown.layers.forEach((l, i) => {
    const n = i === 0 ? 784 : api.activations[i - 1].length;
    if (l.n !== n || l.width === 0) fail(`layer view ${l.id}: ${l.n} values, expected ${n}`);
    if (l.lit === 0) fail(`layer view ${l.id} is blank`);
  });
  if (outside.length) fail(`the page requested other hosts: ${outside.join(', ')}`);
  await page.screenshot({ path: screenshot, fullPage: true });

  // Undo and clear, then Chinese.
  await page.click('#undo');
  await page.waitForFunction(() => window.neuralnet.idle());
  await page.click('#clear');
  await page.waitForFunction(() => window.neuralnet.idle());
  const cleared = await page.textContent('#prediction');
  if (cleared !== '–') fail(`after clear the prediction shows ${cleared}`);
  await page.click('#lang-zh');
  const title = await page.textContent('h1');
  if (!title.includes('数字')) fail(`Chinese title not shown: ${title}`);

  console.log(JSON.stringify({ strokes, label: digit.label, page: Number(shown.value), api: api.prediction,
    probability: api.probabilities[api.prediction], layers: shown.layers }));
} finally {
  await browser.close();
}

// Browser test of `neuralnet playground` (run by tests/playground.rs) in headless Chromium:
//   1. a 2-4-1 tanh network on XOR (fixed seed): play until the test loss falls below 0.1, the
//      boundary image changes; then click a training point and a neuron and read what the page shows;
//   2. the article's 2-2-1 preset: click its point, then step once and click it again;
//   3. screenshots in English and Chinese; with FPS=1 also the frame rate of the largest network.
// Prints one JSON line for the Rust side to check against `neuralnet explain`.
//
// node playground.mjs URL SCREENSHOT_DIR
import { chromium } from 'playwright-core';

const [url, shots] = process.argv.slice(2);
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exitCode = 1; };
const out = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  const ready = () => page.waitForFunction(() => window.playground.state() !== null && window.playground.idle(), null, { timeout: 20000 });
  const boundary = () => page.evaluate(() => document.getElementById('boundary').toDataURL());
  const table = (id) => page.evaluate((id) => [...document.querySelectorAll(`#${id} tr`)].slice(1)
    .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)), id);
  // Click a point of the output picture (x₁, x₂ in −6..6).
  const clickPoint = async ([x1, x2]) => {
    const box = await page.locator('#boundary').boundingBox();
    await page.mouse.click(box.x + (x1 + 6) / 12 * box.width, box.y + (6 - x2) / 12 * box.height);
  };

  // 1. XOR, 2-4-1 tanh, SGD η = 0.3, batch 10, seed 1 (the library's test sees the loss below 0.1 at step 746).
  const xor = 'data=xor&noise=0&test_ratio=0.5&points=400&seed=1&inputs=x1,x2&hidden=4&activation=tanh' +
    '&optimizer=sgd&lr=0.3&batch=10&l2=0&init=glorot-uniform&speed=10';
  await page.goto(`${url}?lang=en#${xor}`);
  await ready();
  const before = await boundary();
  const first = await page.evaluate(() => window.playground.state().history[0].test);
  await page.click('#play');
  // The first point below 0.1, taken when it appears: with SGD's noise the loss dips under 0.1 and
  // back, and the history keeps every other point once it is long, so a page that waited for the
  // last point to be under it, on a slow machine, played on until the first dips were thinned away.
  const below = await page.waitForFunction(() => window.playground.state().history.find((p) => p.test < 0.1), null, { timeout: 30000 })
    .then((h) => h.jsonValue())
    .catch(() => fail('the test loss did not fall below 0.1 within 30 s'));
  await page.click('#play');
  await page.waitForFunction(() => !window.playground.playing() && window.playground.idle());
  const s = await page.evaluate(() => window.playground.state());
  out.xor = { first_test_loss: first, below_0_1: below, paused_at: s.history[s.history.length - 1] };
  if (await boundary() === before) fail('the boundary image did not change');
  if ((await page.locator('#links line').count()) !== 2 * 4 + 4 * 1) fail('not 12 links');

  // A training point and a neuron, with the weights they were computed from.
  const train0 = await page.evaluate(() => window.playground.session().train[0]);
  await clickPoint(train0);
  await page.waitForSelector('#point-table');
  await page.waitForFunction(() => window.playground.idle());
  out.point = { shown: await table('point-table'), data: await page.evaluate(() => window.playground.numbers()),
    layers: (await page.evaluate(() => window.playground.state())).layers };
  await page.click('#neuron-1-2');
  await page.waitForSelector('#neuron-table');
  out.neuron = { shown: await table('neuron-table'), bias: await page.textContent('#numbers p:last-child') };
  await page.click('#link-2-1-3', { force: true });
  await page.waitForSelector('#link-table');
  out.link = await page.evaluate(() => window.playground.numbers());
  await page.screenshot({ path: `${shots}/playground-en.png`, fullPage: true });
  await page.click('#lang-zh');
  const title = await page.textContent('h1');
  if (!title.includes('学习')) fail(`Chinese title not shown: ${title}`);
  await page.waitForFunction(() => window.playground.idle() && document.querySelector('#link-table td').textContent === '当前值');
  await page.screenshot({ path: `${shots}/playground-zh.png`, fullPage: true });
  await page.click('#lang-en');

  // 2. The article's 2-2-1 example: its point before and after one step.
  await page.click('#article');
  await page.waitForFunction(() => window.playground.setup().data === 'article' && window.playground.session() !== null
    && window.playground.state().step === 0 && window.playground.idle());
  await clickPoint([0.5, 0.1]);
  await page.waitForSelector('#point-table');
  await page.waitForFunction(() => window.playground.idle());
  out.article_before = { shown: await table('point-table'), data: await page.evaluate(() => window.playground.numbers()) };
  await page.click('#step');
  await page.waitForFunction(() => window.playground.state().step === 1 && window.playground.idle());
  await page.waitForFunction(() => window.playground.idle());
  out.article_after = { layers: (await page.evaluate(() => window.playground.state())).layers,
    shown: await table('point-table'), data: await page.evaluate(() => window.playground.numbers()) };

  // 3. The frame rate with the largest network: 7 inputs, 6 layers of 8, playing for 10 s.
  if (process.env.FPS === '1') {
    const big = 'data=spirals&noise=0&test_ratio=0.5&points=400&seed=1&inputs=x1,x2,x1_squared,x2_squared,x1_x2,sin_x1,sin_x2' +
      '&hidden=8,8,8,8,8,8&activation=tanh&optimizer=adam&lr=0.003&batch=10&l2=0&init=glorot-uniform&speed=1';
    await page.goto('about:blank');
    await page.goto(`${url}?lang=en#${big}`);
    await ready();
    if ((await page.evaluate(() => window.playground.state().layers.length)) !== 7) fail('not the largest network');
    await page.click('#play');
    await page.waitForTimeout(1000);
    out.fps = await page.evaluate(() => new Promise((done) => {
      let raf = 0;
      const f0 = window.playground.frames(), s0 = window.playground.state().step, t0 = performance.now();
      const tick = () => { raf++; if (performance.now() - t0 < 10000) requestAnimationFrame(tick); else done({
        seconds: (performance.now() - t0) / 1000, animation_frames: raf, states_drawn: window.playground.frames() - f0,
        steps: window.playground.state().step - s0 }); };
      requestAnimationFrame(tick);
    }));
    await page.click('#play');
    await page.waitForFunction(() => window.playground.idle());
    // The time per training step on the server: 500 steps in one request (one state built).
    out.step_ms = await page.evaluate(async () => {
      const id = window.playground.session().id;
      const t0 = performance.now();
      await fetch(`api/sessions/${id}/step`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"steps": 500}' });
      return (performance.now() - t0) / 500;
    });
  }
  if (outside.length) fail(`the page requested other hosts: ${outside.join(', ')}`);
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}

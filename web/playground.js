// The playground page of `neuralnet playground` (and `serve`'s /playground/): plain JavaScript, no
// libraries, nothing loaded from elsewhere. The network trains in the library on the server; this
// page sends the setup, plays (server-sent events: one state per frame), steps and asks for numbers.
'use strict';

const TEXT = {
  en: {
    title: 'Watch a network learn, with every number', data: 'Data', noise: 'Noise', testRatio: 'Test share',
    seed: 'Seed', regenerate: 'Regenerate', article: 'The article\'s 2-2-1 example', settings: 'Training',
    activation: 'Activation', optimizer: 'Optimizer', lr: 'Learning rate η', batch: 'Batch size', l2: 'L2 λ',
    init: 'Initialisation', play: 'Play', pause: 'Pause', stepOne: 'Step', reset: 'Reset', speed: 'Steps per frame',
    network: 'Network', output: 'Output', numbers: 'Numbers',
    stepNote: 'The step function has zero slope: gradient descent cannot move the weights before it.',
    networkHint: 'Each neuron shows what it computes over the plane (orange positive, blue negative). Links: thickness and colour by weight. Click a neuron or a link for its numbers.',
    boundaryHint: 'The network\'s output over the plane, with the training points (filled) and test points (ringed). Click a point for every neuron\'s z, a and δ.',
    numbersHint: 'Click a point, a neuron or a link.',
    xor: 'XOR', circles: 'Circles', spirals: 'Spirals', gaussians: 'Gaussians', surface: 'Surface (regression)',
    inputs: 'Inputs', hidden: (l, n) => `Layer ${l}: ${n}`, outputCol: 'Output',
    layers: (n) => `${n} hidden layer(s)`, progress: (s, e) => `step ${s}, epoch ${e}`,
    losses: (tr, te) => `training loss ${tr}` + (te === null ? '' : `, test loss ${te}`),
    diverged: 'The loss is no longer a number: training has diverged. Lower the learning rate, then Reset.',
    point: (set, i) => `${set === 'test' ? 'Test' : 'Training'} point ${i + 1}`, layer: 'layer', neuron: 'neuron',
    weight: (l, j, i) => `W${sub(l)}[${j + 1}, ${i + 1}]`, bias: (l, j) => `b${sub(l)}[${j + 1}]`,
    value: 'value now', grad: '∂L/∂w on the next batch', change: 'the next step changes it by', after: 'after the next step',
    state: 'optimizer memory', nextBatch: 'next batch', pointsWord: 'points', target: 'target y', loss: 'loss of this point',
    neuronOf: (l, j) => `Neuron ${j + 1} of layer ${l}`, weightsIn: 'weights in (w)', biasWord: 'bias b',
    tooMany: 'at most 6 hidden layers of 8 neurons',
  },
  zh: {
    title: '看神经网络如何学习，每一个数都看得见', data: '数据', noise: '噪声', testRatio: '测试集比例',
    seed: '随机种子', regenerate: '重新生成', article: '文章中的 2-2-1 例子', settings: '训练设置',
    activation: '激活函数', optimizer: '优化器', lr: '学习率 η', batch: '批大小', l2: 'L2 λ',
    init: '初始化', play: '开始', pause: '暂停', stepOne: '单步', reset: '重置', speed: '每帧步数',
    network: '网络', output: '输出', numbers: '数值',
    stepNote: '阶跃函数的导数处处为零：它之前的权重无法用梯度下降更新。',
    networkHint: '每个神经元显示它在平面上计算出的值（橙色为正，蓝色为负）。连线的粗细和颜色表示权重。点击神经元或连线查看数值。',
    boundaryHint: '网络在平面上的输出，实心点为训练点，空心圈为测试点。点击一个点，查看每个神经元的 z、a 和 δ。',
    numbersHint: '点击一个数据点、神经元或连线。',
    xor: '异或', circles: '圆环', spirals: '螺旋', gaussians: '高斯团', surface: '曲面（回归）',
    inputs: '输入', hidden: (l, n) => `第 ${l} 层：${n}`, outputCol: '输出',
    layers: (n) => `${n} 个隐藏层`, progress: (s, e) => `第 ${s} 步，第 ${e} 轮`,
    losses: (tr, te) => `训练损失 ${tr}` + (te === null ? '' : `，测试损失 ${te}`),
    diverged: '损失已不再是一个数：训练发散了。请减小学习率，然后重置。',
    point: (set, i) => `${set === 'test' ? '测试' : '训练'}点 ${i + 1}`, layer: '层', neuron: '神经元',
    weight: (l, j, i) => `W${sub(l)}[${j + 1}, ${i + 1}]`, bias: (l, j) => `b${sub(l)}[${j + 1}]`,
    value: '当前值', grad: '下一批上的 ∂L/∂w', change: '下一步的改变量', after: '下一步之后',
    state: '优化器状态', nextBatch: '下一批', pointsWord: '个点', target: '目标 y', loss: '该点的损失',
    neuronOf: (l, j) => `第 ${l} 层第 ${j + 1} 个神经元`, weightsIn: '输入权重 (w)', biasWord: '偏置 b',
    tooMany: '最多 6 个隐藏层，每层最多 8 个神经元',
  },
};

const INPUTS = ['x1', 'x2', 'x1_squared', 'x2_squared', 'x1_x2', 'sin_x1', 'sin_x2'];
const INPUT_LABELS = ['x₁', 'x₂', 'x₁²', 'x₂²', 'x₁x₂', 'sin x₁', 'sin x₂'];
const DATASETS = ['xor', 'circles', 'spirals', 'gaussians', 'surface'];
const ACTIVATIONS = ['tanh', 'relu', 'sigmoid', 'leaky_relu', 'identity', 'step'];
const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'];
const RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const L2S = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const INITS = ['glorot-uniform', 'glorot-normal', 'he-uniform', 'he-normal', 'pytorch', 'standard-normal'];
const SPEEDS = [1, 2, 5, 10, 20, 50, 100];
const DEFAULT = {
  data: 'xor', noise: 0, test_ratio: 0.5, points: 400, seed: 1, inputs: ['x1', 'x2'], hidden: [4, 2],
  activation: 'tanh', optimizer: 'sgd', lr: 0.03, batch: 10, l2: 0, init: 'glorot-uniform',
};

const params = new URLSearchParams(location.hash.slice(1));
let lang = new URLSearchParams(location.search).get('lang') || localStorage.getItem('neuralnet-lang') ||
  ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en');
if (!TEXT[lang]) lang = 'en';
const t = (key, ...args) => { const v = TEXT[lang][key]; return typeof v === 'function' ? v(...args) : v; };
const $ = (id) => document.getElementById(id);
const sub = (n) => String(n).split('').map((d) => '₀₁₂₃₄₅₆₇₈₉'[d]).join('');
const num = (x) => (x === null || x === undefined) ? '–' : Number.isInteger(x) ? String(x) : Number(x.toPrecision(6)).toString();

let setup = readSetup();
let speed = Number(params.get('speed')) || 1;
let session = null;       // {id, setup, inputs, train, test, regression}
let state = null;         // the last state the server sent
let source = null;        // the EventSource while playing
let busy = 0;             // requests in flight
let selected = null;      // {kind: 'point'|'neuron'|'link', ...}
let frames = 0;           // states drawn (for the frame rate)

function readSetup() {
  const s = JSON.parse(JSON.stringify(DEFAULT));
  for (const k of Object.keys(DEFAULT)) {
    if (!params.has(k)) continue;
    const v = params.get(k);
    if (k === 'inputs') s.inputs = v ? v.split(',').filter((x) => INPUTS.includes(x)) : [];
    else if (k === 'hidden') s.hidden = v ? v.split(',').map(Number).filter((n) => n > 0) : [];
    else if (typeof DEFAULT[k] === 'number') s[k] = Number(v);
    else s[k] = v;
  }
  return s;
}

function writeUrl() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(setup)) p.set(k, Array.isArray(v) ? v.join(',') : String(v));
  p.set('speed', String(speed));
  history.replaceState(null, '', '#' + p.toString());
}

async function api(method, path, body) {
  busy++;
  try {
    const r = await fetch(path, {
      method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const v = r.status === 204 ? null : await r.json();
    if (!r.ok) throw new Error(v && v.error ? v.error : `HTTP ${r.status}`);
    $('status').textContent = '';
    return v;
  } catch (e) {
    $('status').textContent = e.message;
    throw e;
  } finally {
    busy--;
  }
}

// A new session for the current setup (the old one is closed).
async function start() {
  pause();
  writeUrl();
  const old = session;
  session = null;
  if (old) api('POST', `api/sessions/${old.id}/close`).catch(() => {});
  const v = await api('POST', 'api/sessions', setup);
  session = { id: v.id, setup: v.setup, inputs: v.inputs, train: v.train, test: v.test, regression: v.regression };
  selected = null;
  $('numbers').replaceChildren(el('p', 'hint', t('numbersHint')));
  show(v);
  renderControls();
}

function show(v) {
  if (v.diverged) {
    // The numbers are no longer numbers and further steps change nothing: stop, keep the last
    // drawing (if any), and say why.
    pause();
    $('losses').textContent = t('diverged');
    if (state) return;
  }
  state = v;
  frames++;
  renderNetwork();
  renderBoundary();
  renderCurve();
  $('progress').textContent = t('progress', v.step, v.epoch);
  const h = v.history[v.history.length - 1];
  $('losses').textContent = v.diverged ? t('diverged') : t('losses', num(h.train), h.test === null ? null : num(h.test));
  if (selected && selected.kind === 'neuron') showNeuron(selected.l, selected.j);
}

function play() {
  if (!session || source) return;
  source = new EventSource(`api/sessions/${session.id}/stream?steps=${speed}`);
  source.addEventListener('state', (e) => show(JSON.parse(e.data)));
  source.onerror = () => pause();
  $('play').textContent = t('pause');
  $('play').setAttribute('aria-pressed', 'true');
}

function pause() {
  if (source) source.close();
  source = null;
  $('play').textContent = t('play');
  $('play').setAttribute('aria-pressed', 'false');
}

async function stepOnce() {
  pause();
  show(await api('POST', `api/sessions/${session.id}/step`, { steps: 1 }));
  if (selected && selected.kind !== 'neuron') reshow();
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Orange for positive, blue for negative, white at 0; s in −1..1.
function colour(s) {
  const a = Math.min(1, Math.abs(s));
  const [r, g, b] = s >= 0 ? [224, 112, 26] : [47, 111, 208];
  return [255 + (r - 255) * a, 255 + (g - 255) * a, 255 + (b - 255) * a].map(Math.round);
}

// A map of n × n values into a canvas; `centre`/`scale` say how values become −1..1.
function paint(canvas, values, n, centre, scale) {
  canvas.width = n;
  canvas.height = n;
  const g = canvas.getContext('2d');
  const img = g.createImageData(n, n);
  values.forEach((v, i) => {
    const [r, gg, b] = colour((v - centre) / scale);
    img.data.set([r, gg, b, 255], 4 * i);
  });
  g.putImageData(img, 0, 0);
}

function scaleOf(activation, values) {
  if (activation.startsWith('sigmoid') || activation.startsWith('step')) return [0.5, 0.5];
  if (activation === 'tanh') return [0, 1];
  return [0, Math.max(1e-9, ...values.map(Math.abs))];
}

function renderNetwork() {
  const cols = $('columns');
  const maps = state.maps;
  const inputs = session.inputs;
  const layers = state.layers;
  const parts = [];
  // Inputs: every possible input, the unused ones dimmed (click to switch them on or off).
  const inCol = el('div', 'column');
  inCol.append(el('div', 'title', t('inputs')));
  const usable = session.setup.data === 'article' ? INPUTS.slice(0, 2) : INPUTS;
  usable.forEach((name, k) => {
    const on = setup.inputs.includes(name) || session.setup.data === 'article';
    const idx = inputs.indexOf(INPUT_LABELS[k]);
    const n = el('div', 'neuron' + (on ? '' : ' off'));
    n.dataset.layer = '0';
    n.dataset.index = String(idx);
    const c = el('canvas');
    if (idx >= 0) paint(c, maps.inputs[idx], maps.n, 0, Math.max(1e-9, ...maps.inputs[idx].map(Math.abs)));
    else paint(c, [0], 1, 0, 1);
    n.append(c, el('span', '', INPUT_LABELS[k]));
    n.id = `input-${name}`;
    n.addEventListener('click', () => toggleInput(name));
    inCol.append(n);
  });
  parts.push(inCol);
  layers.forEach((layer, l) => {
    const col = el('div', 'column');
    const last = l === layers.length - 1;
    col.append(el('div', 'title', last ? t('outputCol') : t('hidden', l + 1, layer.b.length)));
    const [centre, scale] = scaleOf(layer.activation, maps.neurons[l].flat());
    layer.b.forEach((_, j) => {
      const n = el('div', 'neuron');
      n.id = `neuron-${l + 1}-${j + 1}`;
      n.dataset.layer = String(l + 1);
      n.dataset.index = String(j);
      if (selected && selected.kind === 'neuron' && selected.l === l && selected.j === j) n.classList.add('selected');
      const c = el('canvas');
      const m = maps.neurons[l][j];
      const [cc, ss] = layer.activation === 'relu' || layer.activation === 'identity' || layer.activation.startsWith('leaky')
        ? [0, Math.max(1e-9, ...m.map(Math.abs))] : [centre, scale];
      paint(c, m, maps.n, cc, ss);
      n.append(c);
      n.addEventListener('click', () => { selected = { kind: 'neuron', l, j }; showNeuron(l, j); renderNetwork(); });
      col.append(n);
    });
    parts.push(col);
  });
  cols.replaceChildren(...parts);
  drawLinks();
}

// Lines between the neurons' centres, drawn after layout.
function drawLinks() {
  const svg = $('links');
  const box = $('network').getBoundingClientRect();
  const centre = (e) => { const r = e.querySelector('canvas').getBoundingClientRect(); return [r.left - box.left + r.width / 2, r.top - box.top + r.height / 2, r.width / 2]; };
  const lines = [];
  const max = Math.max(1e-9, ...state.layers.flatMap((l) => l.W.flat().map(Math.abs)));
  state.layers.forEach((layer, l) => {
    const to = [...document.querySelectorAll(`.neuron[data-layer="${l + 1}"]`)];
    const from = l === 0
      ? [...document.querySelectorAll('.neuron[data-layer="0"]')].filter((e) => Number(e.dataset.index) >= 0)
        .sort((a, b) => a.dataset.index - b.dataset.index)
      : [...document.querySelectorAll(`.neuron[data-layer="${l}"]`)];
    layer.W.forEach((row, j) => row.forEach((w, i) => {
      if (!from[i] || !to[j]) return;
      const [x1, y1, r1] = centre(from[i]);
      const [x2, y2, r2] = centre(to[j]);
      const [r, g, b] = colour(w / max);
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
      line.setAttribute('x1', x1 + r1); line.setAttribute('y1', y1);
      line.setAttribute('x2', x2 - r2); line.setAttribute('y2', y2);
      line.setAttribute('stroke', `rgb(${r},${g},${b})`);
      line.setAttribute('stroke-width', String(0.5 + 5 * Math.abs(w) / max));
      line.id = `link-${l + 1}-${j + 1}-${i + 1}`;
      line.addEventListener('click', () => { selected = { kind: 'link', l, j, i }; showLink(l, j, i); });
      lines.push(line);
    }));
  });
  svg.replaceChildren(...lines);
}

const BOUNDARY = 320;

function toCanvas([x1, x2]) { return [(x1 + 6) / 12 * BOUNDARY, (6 - x2) / 12 * BOUNDARY]; }

function renderBoundary() {
  const c = $('boundary');
  const g = c.getContext('2d');
  const { n, values } = state.output;
  const tile = el('canvas');
  paint(tile, values, n, session.regression ? 0 : 0.5, session.regression ? 1 : 0.5);
  g.imageSmoothingEnabled = true;
  g.drawImage(tile, 0, 0, BOUNDARY, BOUNDARY);
  const dot = (p, filled) => {
    const [x, y] = toCanvas(p);
    const s = session.regression ? p[2] : (p[2] - 0.5) * 2;
    const [r, gg, b] = colour(s);
    g.beginPath();
    g.arc(x, y, 3.5, 0, 2 * Math.PI);
    g.fillStyle = filled ? `rgb(${r},${gg},${b})` : '#fff';
    g.strokeStyle = filled ? '#fff' : `rgb(${r},${gg},${b})`;
    g.lineWidth = filled ? 1 : 2;
    g.fill();
    g.stroke();
  };
  session.train.forEach((p) => dot(p, true));
  session.test.forEach((p) => dot(p, false));
}

function renderCurve() {
  const c = $('curve');
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const h = state.history;
  const all = h.flatMap((p) => [p.train, p.test]).filter((v) => v !== null && isFinite(v));
  const max = Math.max(1e-9, ...all);
  const last = Math.max(1, h[h.length - 1].step);
  for (const [key, style] of [['train', '#1d2330'], ['test', '#e0701a']]) {
    g.beginPath();
    g.strokeStyle = style;
    h.forEach((p, k) => {
      const v = p[key];
      if (v === null || !isFinite(v)) return;
      const x = p.step / last * (c.width - 4) + 2, y = c.height - 2 - v / max * (c.height - 4);
      if (k === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
}

function table(head, rows) {
  const tb = el('table');
  const tr = el('tr');
  head.forEach((h) => tr.append(el('th', '', h)));
  tb.append(tr);
  rows.forEach((r) => { const row = el('tr'); r.forEach((v) => row.append(el('td', '', typeof v === 'number' ? num(v) : v))); tb.append(row); });
  return tb;
}

async function showPoint(set, i) {
  const v = await api('GET', `api/sessions/${session.id}/point?set=${set}&i=${i}`);
  const box = $('numbers');
  const rows = [];
  v.layers.forEach((layer, l) => layer.z[0].forEach((z, j) => rows.push([`${t('layer')} ${l + 1}, ${t('neuron')} ${j + 1}`, z, layer.a[0][j], layer.delta[0][j]])));
  const tb = table(['', 'z', 'a', 'δ'], rows);
  tb.id = 'point-table';
  box.replaceChildren(
    el('h3', '', t('point', set, i)),
    el('p', 'formula', `x = [${v.x.map(num).join(', ')}], ${t('target')} = ${num(v.y[0])}; ${t('loss')} L = ${num(v.loss)}`),
    el('p', 'formula', 'z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = f(z⁽ˡ⁾), δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾, δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)'),
    tb);
  box.dataset.json = JSON.stringify(v);
}

function showNeuron(l, j) {
  const layer = state.layers[l];
  const box = $('numbers');
  const from = l === 0 ? session.inputs : state.layers[l - 1].b.map((_, i) => `a${sub(l)}[${i + 1}]`);
  const tb = table(['', 'w'], layer.W[j].map((w, i) => [from[i], w]));
  tb.id = 'neuron-table';
  box.replaceChildren(el('h3', '', t('neuronOf', l + 1, j)),
    el('p', 'formula', `z = Σᵢ wᵢaᵢ + b, a = ${layer.activation}(z)`), tb,
    el('p', '', `${t('biasWord')} = ${num(layer.b[j])}`));
  box.dataset.json = JSON.stringify({ w: layer.W[j], b: layer.b[j] });
}

async function showLink(l, j, i) {
  const v = await api('GET', `api/sessions/${session.id}/link?layer=${l}&to=${j}&from=${i}`);
  const rows = [[t('value'), v.value], [t('grad'), v.grad], [t('change'), v.change], [t('after'), v.after]];
  if (v.m !== null) rows.push([`${t('state')} m`, v.m]);
  if (v.v !== null) rows.push([`${t('state')} v`, v.v]);
  const tb = table(['', ''], rows);
  tb.id = 'link-table';
  $('numbers').replaceChildren(el('h3', '', t('weight', l + 1, j, i)), tb,
    el('p', 'formula', `${t('nextBatch')}: ${v.batch.length} ${t('pointsWord')}; ${setup.optimizer}, η = ${setup.lr}`));
  $('numbers').dataset.json = JSON.stringify(v);
}

// The nearest point to a click on the output, within 8 px.
function clickBoundary(e) {
  const r = $('boundary').getBoundingClientRect();
  const x = (e.clientX - r.left) * BOUNDARY / r.width, y = (e.clientY - r.top) * BOUNDARY / r.height;
  let best = null;
  for (const [set, pts] of [['train', session.train], ['test', session.test]]) {
    pts.forEach((p, i) => {
      const [px, py] = toCanvas(p);
      const d = Math.hypot(px - x, py - y);
      if (d < 8 && (!best || d < best.d)) best = { set, i, d };
    });
  }
  if (best) { selected = { kind: 'point', set: best.set, i: best.i }; showPoint(best.set, best.i); }
}

function toggleInput(name) {
  if (session.setup.data === 'article') return;
  const on = setup.inputs.includes(name);
  if (on && setup.inputs.length === 1) return;
  setup.inputs = on ? setup.inputs.filter((x) => x !== name) : INPUTS.filter((x) => x === name || setup.inputs.includes(x));
  start();
}

function renderControls() {
  document.documentElement.lang = lang;
  document.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
  $('play').textContent = source ? t('pause') : t('play');
  $('lang-en').setAttribute('aria-pressed', String(lang === 'en'));
  $('lang-zh').setAttribute('aria-pressed', String(lang === 'zh'));
  const article = setup.data === 'article';
  $('datasets').replaceChildren(...DATASETS.map((d) => {
    const b = el('button', '', t(d));
    b.type = 'button';
    b.id = `data-${d}`;
    b.setAttribute('aria-pressed', String(setup.data === d));
    b.addEventListener('click', () => { setup = { ...setup, data: d, ...(article ? { hidden: DEFAULT.hidden, lr: DEFAULT.lr, batch: DEFAULT.batch, test_ratio: DEFAULT.test_ratio, points: DEFAULT.points, activation: DEFAULT.activation } : {}) }; start(); });
    return b;
  }));
  $('article').setAttribute('aria-pressed', String(article));
  const fill = (id, values, current, label = (v) => String(v)) => {
    const s = $(id);
    s.replaceChildren(...values.map((v) => { const o = el('option', '', label(v)); o.value = String(v); return o; }));
    s.value = String(current);
  };
  fill('activation', ACTIVATIONS, setup.activation);
  fill('optimizer', OPTIMIZERS, setup.optimizer);
  fill('lr', RATES.includes(setup.lr) ? RATES : [...RATES, setup.lr].sort((a, b) => a - b), setup.lr);
  fill('l2', L2S.includes(setup.l2) ? L2S : [...L2S, setup.l2].sort((a, b) => a - b), setup.l2);
  fill('init', INITS, setup.init);
  fill('speed', SPEEDS, speed);
  $('noise').value = setup.noise; $('noise-out').textContent = setup.noise;
  $('test-ratio').value = setup.test_ratio; $('test-ratio-out').textContent = setup.test_ratio;
  $('seed').value = setup.seed;
  $('batch').value = setup.batch;
  $('step-note').hidden = setup.activation !== 'step';
  for (const id of ['activation', 'optimizer', 'lr', 'l2', 'init', 'noise', 'test-ratio', 'batch']) $(id).disabled = article;
  const lb = $('layer-buttons');
  const parts = [el('span', '', t('layers', setup.hidden.length))];
  const button = (text, title, f, off) => { const b = el('button', '', text); b.type = 'button'; b.title = title; b.disabled = off || article; b.addEventListener('click', f); return b; };
  parts.push(button('+', 'add a layer', () => { setup.hidden = [...setup.hidden, 2]; start(); }, setup.hidden.length >= 6));
  parts.push(button('−', 'remove a layer', () => { setup.hidden = setup.hidden.slice(0, -1); start(); }, setup.hidden.length === 0));
  setup.hidden.forEach((w, l) => {
    parts.push(el('span', '', ` ${l + 1}:`));
    parts.push(button('+', 'add a neuron', () => { setup.hidden[l]++; start(); }, w >= 8));
    parts.push(button('−', 'remove a neuron', () => { setup.hidden[l]--; start(); }, w <= 1));
  });
  lb.replaceChildren(...parts);
}

function onSetting(id, key, parse) {
  $(id).addEventListener('change', () => { setup[key] = parse($(id).value); start(); });
}

onSetting('activation', 'activation', String);
onSetting('optimizer', 'optimizer', String);
onSetting('lr', 'lr', Number);
onSetting('l2', 'l2', Number);
onSetting('init', 'init', String);
onSetting('noise', 'noise', Number);
onSetting('test-ratio', 'test_ratio', Number);
onSetting('seed', 'seed', (v) => Math.max(0, Math.floor(Number(v) || 0)));
onSetting('batch', 'batch', (v) => Math.max(1, Math.floor(Number(v) || 1)));
$('speed').addEventListener('change', () => { speed = Number($('speed').value); writeUrl(); if (source) { pause(); play(); } });
$('regenerate').addEventListener('click', () => { setup.seed = (setup.seed + 1) % 1000000; start(); });
$('article').addEventListener('click', () => {
  setup = { ...DEFAULT, data: 'article', hidden: [2], activation: 'sigmoid', lr: 0.1, batch: 1, test_ratio: 0, points: 1, seed: setup.seed };
  start();
});
// Pausing ends the stream on the server and shows the server's state: the stream may have taken a
// step the page never received.
$('play').addEventListener('click', async () => {
  if (!source) return play();
  pause();
  show(await api('POST', `api/sessions/${session.id}/pause`));
});
$('step').addEventListener('click', () => stepOnce());
$('reset').addEventListener('click', async () => { pause(); show(await api('POST', `api/sessions/${session.id}/reset`)); });
$('boundary').addEventListener('click', clickBoundary);
// The selected point, neuron or link shown again (in another language, or after a step).
function reshow() {
  if (!selected) return;
  if (selected.kind === 'point') showPoint(selected.set, selected.i);
  if (selected.kind === 'neuron') showNeuron(selected.l, selected.j);
  if (selected.kind === 'link') showLink(selected.l, selected.j, selected.i);
}

for (const code of ['en', 'zh']) {
  $(`lang-${code}`).addEventListener('click', () => {
    lang = code;
    localStorage.setItem('neuralnet-lang', lang);
    renderControls();
    if (state) show(state);
    reshow();
  });
}
window.addEventListener('resize', () => { if (state) drawLinks(); });
window.addEventListener('pagehide', () => { if (session) navigator.sendBeacon(`api/sessions/${session.id}/close`); });

// For tests and measurements: the state shown, whether requests are in flight, frames drawn.
window.playground = {
  state: () => state, session: () => session, setup: () => setup, idle: () => busy === 0,
  frames: () => frames, playing: () => source !== null, numbers: () => JSON.parse($('numbers').dataset.json || 'null'),
};

renderControls();
start();

// The drawing page of `neuralnet serve`: plain JavaScript, no libraries, nothing loaded from elsewhere.
// The drawing is sent as a PNG, so the server preprocesses it with the same code as `neuralnet predict`.
'use strict';

const TEXT = {
  en: {
    title: 'Draw a digit, watch the network read it', playground: 'Playground: watch a network learn →', draw: 'Draw', undo: 'Undo', clear: 'Clear',
    hint: 'Draw one digit (0–9) with the mouse, a pen or a finger. The prediction updates as you draw.',
    padLabel: 'Drawing area', prediction: 'Prediction', network: 'Inside the network',
    networkHint: 'Left to right: the 28×28 input as the network sees it (after the same MNIST-style preprocessing as `neuralnet predict`), then each layer\'s activations a = f(Wx + b), one square per neuron (brighter = larger; blue = negative), then the output. A convolutional layer shows its feature maps, one small image per channel.',
    model: 'The model', input: 'Input 28×28 (784 pixels)', hidden: (l, n, f) => `Layer ${l}: ${n} neurons, ${f}`,
    conv: (l, c, h, w, f) => `Layer ${l}: convolution, ${c} maps of ${h}×${w}, ${f}`,
    pool: (l, c, h, w) => `Layer ${l}: 2×2 max pooling, ${c} maps of ${h}×${w}`,
    output: (n, f) => `Output: ${n} neurons, ${f}`, active: (k, n) => `${k} of ${n} active`,
    noInk: 'No ink found yet: keep drawing.', error: 'Error', file: 'File', architecture: 'Architecture',
    activations: 'Activations', loss: 'Loss', parameters: 'Parameters', accuracy: 'Test accuracy',
    unknown: 'not recorded', normalization: 'Input scaling', training: 'Training', confidence: (p) => `(${p}% sure)`,
  },
  zh: {
    title: '写一个数字，看神经网络如何识别', playground: '训练场：看网络如何学习 →', draw: '书写', undo: '撤销', clear: '清空',
    hint: '用鼠标、手写笔或手指写一个数字（0–9），预测会随书写实时更新。',
    padLabel: '书写区', prediction: '预测', network: '网络内部',
    networkHint: '从左到右：网络看到的 28×28 输入（与 `neuralnet predict` 相同的 MNIST 式预处理之后），然后是每一层的激活值 a = f(Wx + b)，每个方块是一个神经元（越亮越大，蓝色为负），最后是输出。卷积层显示它的特征图，每个通道一张小图。',
    model: '模型', input: '输入 28×28（784 个像素）', hidden: (l, n, f) => `第 ${l} 层：${n} 个神经元，${f}`,
    conv: (l, c, h, w, f) => `第 ${l} 层：卷积，${c} 张 ${h}×${w} 特征图，${f}`,
    pool: (l, c, h, w) => `第 ${l} 层：2×2 最大池化，${c} 张 ${h}×${w} 特征图`,
    output: (n, f) => `输出层：${n} 个神经元，${f}`, active: (k, n) => `${n} 个中 ${k} 个激活`,
    noInk: '还没有找到笔迹：请继续书写。', error: '错误', file: '文件', architecture: '结构',
    activations: '激活函数', loss: '损失函数', parameters: '参数个数', accuracy: '测试准确率',
    unknown: '未记录', normalization: '输入缩放', training: '训练设置', confidence: (p) => `（把握 ${p}%）`,
  },
};

const params = new URLSearchParams(location.search);
let lang = params.get('lang') || localStorage.getItem('neuralnet-lang') ||
  ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en');
if (!TEXT[lang]) lang = 'en';
const t = (key, ...args) => { const v = TEXT[lang][key]; return typeof v === 'function' ? v(...args) : v; };

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d');
const strokes = [];          // each stroke: [{x, y, w}], in canvas pixels
let current = null;
let version = 0;             // bumped on every change of the drawing
let shown = 0;               // the version the display shows
let inFlight = false;
let model = null;
let last = null;             // the last /api/predict answer

function brush(pressure) { return pad.width * (0.045 + 0.035 * (pressure || 0.5)); }

function redraw() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = '#000';
  ctx.fillStyle = '#000';
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const s of strokes) {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0].x, s[0].y, s[0].w / 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    for (let i = 1; i < s.length; i++) {
      ctx.lineWidth = (s[i - 1].w + s[i].w) / 2;
      ctx.beginPath();
      ctx.moveTo(s[i - 1].x, s[i - 1].y);
      ctx.lineTo(s[i].x, s[i].y);
      ctx.stroke();
    }
  }
  document.getElementById('undo').disabled = strokes.length === 0;
  document.getElementById('clear').disabled = strokes.length === 0;
}

function point(e) {
  const r = pad.getBoundingClientRect();
  const pressure = e.pointerType === 'mouse' ? 0.5 : e.pressure;
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height, w: brush(pressure) };
}

function changed() { version++; redraw(); update(); }

pad.addEventListener('pointerdown', (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  current = [point(e)];
  strokes.push(current);
  changed();
});
pad.addEventListener('pointermove', (e) => {
  if (!current) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) current.push(point(ev));
  changed();
});
for (const type of ['pointerup', 'pointercancel']) {
  pad.addEventListener(type, () => { if (current) { current = null; changed(); } });
}
document.getElementById('undo').addEventListener('click', () => { strokes.pop(); current = null; changed(); });
document.getElementById('clear').addEventListener('click', () => { strokes.length = 0; current = null; changed(); });

// One request at a time; when it returns and the drawing changed meanwhile, send the newest.
function update() {
  if (inFlight) return;
  const sent = version;
  if (strokes.length === 0) { last = null; shown = sent; render(); return; }
  inFlight = true;
  pad.toBlob(async (blob) => {
    try {
      const r = await fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: blob });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error || r.statusText);
      last = body;
      setStatus('');
    } catch (err) {
      last = null;
      setStatus(`${t('error')}: ${err.message}`);
    }
    shown = sent;
    inFlight = false;
    render();
    if (version !== sent) update();
  }, 'image/png');
}

function setStatus(text) { document.getElementById('status').textContent = text; }

function render() {
  const out = document.getElementById('prediction');
  const conf = document.getElementById('confidence');
  const bars = document.getElementById('bars');
  const classes = (model && model.classes) || [...Array(10).keys()].map(String);
  const probs = last ? last.probabilities : classes.map(() => 0);
  const noInk = last && last.ink === false;
  out.textContent = last && !noInk ? classes[last.prediction] ?? String(last.prediction) : '–';
  out.dataset.value = last ? String(last.prediction) : '';
  conf.textContent = last && !noInk ? t('confidence', (probs[last.prediction] * 100).toFixed(1)) : '';
  if (noInk) setStatus(t('noInk'));
  bars.replaceChildren(...probs.map((p, c) => {
    const row = el('div', 'bar' + (last && c === last.prediction ? ' best' : ''));
    const fill = el('div', 'fill');
    fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    const track = el('div', 'track');
    track.append(fill);
    row.append(el('span', 'label', classes[c] ?? String(c)), track, el('span', 'pct', `${(p * 100).toFixed(1)}%`));
    return row;
  }));
  renderLayers();
  document.body.dataset.version = String(shown);
  document.body.dataset.idle = String(!inFlight && shown === version);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A grid of squares, one per value: the input in grey, activations in orange (blue when negative).
function grid(values, cols, cell, grey) {
  const rows = Math.ceil(values.length / cols);
  const c = el('canvas');
  c.width = cols * cell;
  c.height = rows * cell;
  c.dataset.n = String(values.length);
  const g = c.getContext('2d');
  g.fillStyle = '#111';
  g.fillRect(0, 0, c.width, c.height);
  const max = Math.max(1e-9, ...values.map(Math.abs));
  values.forEach((v, i) => {
    const x = (i % cols) * cell, y = Math.floor(i / cols) * cell;
    if (grey) {
      const l = Math.round(Math.max(0, Math.min(1, v)) * 255);
      g.fillStyle = `rgb(${l},${l},${l})`;
    } else {
      const s = Math.min(1, Math.abs(v) / max);
      g.fillStyle = v >= 0 ? `rgba(240,140,40,${0.08 + 0.92 * s})` : `rgba(70,130,230,${0.08 + 0.92 * s})`;
    }
    g.fillRect(x + (grey ? 0 : 1), y + (grey ? 0 : 1), cell - (grey ? 0 : 2), cell - (grey ? 0 : 2));
  });
  return c;
}

// Feature maps, one tile per channel (C × H × W, flat), coloured as grid() colours activations.
function mapsCanvas(values, shape) {
  const [c, h, w] = shape;
  const cell = Math.max(1, Math.floor(56 / Math.max(h, w)));
  const cols = Math.ceil(Math.sqrt(c)), rows = Math.ceil(c / cols), gap = 2;
  const canvas = el('canvas');
  canvas.width = cols * (w * cell + gap) - gap;
  canvas.height = rows * (h * cell + gap) - gap;
  canvas.dataset.n = String(values.length);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(1e-9, ...values.map(Math.abs));
  for (let k = 0; k < c; k++) {
    const ox = (k % cols) * (w * cell + gap), oy = Math.floor(k / cols) * (h * cell + gap);
    g.fillStyle = '#111';
    g.fillRect(ox, oy, w * cell, h * cell);
    for (let i = 0; i < h * w; i++) {
      const v = values[k * h * w + i];
      if (v === 0) continue;
      const s = Math.min(1, Math.abs(v) / max);
      g.fillStyle = v > 0 ? `rgba(240,140,40,${0.08 + 0.92 * s})` : `rgba(70,130,230,${0.08 + 0.92 * s})`;
      g.fillRect(ox + (i % w) * cell, oy + Math.floor(i / w) * cell, cell, cell);
    }
  }
  return canvas;
}

// Each convolution's or pooling's output shape and activation, from the model's description
// (`conv:C:K:same|valid:f`, `pool:2`), for the view before the first answer.
function featureLayers() {
  const out = [];
  if (!model || !model.input_maps) return out;
  let [c, h, w] = model.input_maps;
  for (const spec of model.features || []) {
    const parts = spec.split(':');
    if (parts[0] === 'conv') {
      const k = Number(parts[2]);
      const same = parts.includes('same');
      c = Number(parts[1]);
      if (!same) { h = h - k + 1; w = w - k + 1; }
      const f = parts.slice(3).filter((p) => p !== 'same' && p !== 'valid').join(':') || 'relu';
      out.push({ kind: 'conv', shape: [c, h, w], f });
    } else {
      h = Math.floor(h / 2); w = Math.floor(w / 2);
      out.push({ kind: 'pool', shape: [c, h, w] });
    }
  }
  return out;
}

function renderLayers() {
  const box = document.getElementById('layers');
  if (!model) return;
  const sizes = model.sizes;
  const acts = model.activations.map(actName);
  const features = featureLayers();
  const nf = features.length;
  const input = last ? last.input : new Array(784).fill(0);
  const parts = [];
  const inputCanvas = grid(input, 28, 6, true);
  inputCanvas.id = 'layer-input';
  parts.push(figure(inputCanvas, t('input')));
  features.forEach((f, k) => {
    const shape = last && last.shapes ? last.shapes[k] : f.shape;
    const n = shape[0] * shape[1] * shape[2];
    const a = last ? last.activations[k] : new Array(n).fill(0);
    const c = mapsCanvas(a, shape);
    c.id = `layer-${k + 1}`;
    c.classList.add('activation', 'maps');
    const caption = f.kind === 'conv'
      ? `${t('conv', k + 1, ...shape, f.f)} — ${t('active', a.filter((v) => v > 1e-6).length, n)}`
      : t('pool', k + 1, ...shape);
    parts.push(el('span', 'arrow', '→'), figure(c, caption));
  });
  for (let l = 1; l < sizes.length; l++) {
    const a = last ? last.activations[nf + l - 1] : new Array(sizes[l]).fill(0);
    const n = sizes[l];
    const outputLayer = l === sizes.length - 1;
    const cols = outputLayer ? n : Math.min(16, Math.ceil(Math.sqrt(n * 2)));
    const c = grid(a, cols, outputLayer ? 22 : n > 256 ? 8 : 12, false);
    c.id = `layer-${nf + l}`;
    c.classList.add('activation');
    const active = a.filter((v) => v > 1e-6).length;
    const caption = outputLayer ? t('output', n, acts[l - 1]) : `${t('hidden', nf + l, n, acts[l - 1])} — ${t('active', active, n)}`;
    parts.push(el('span', 'arrow', '→'), figure(c, caption));
  }
  box.replaceChildren(...parts);
}

function figure(canvas, caption) {
  const f = el('div', 'layer');
  f.append(canvas, el('div', 'caption', caption));
  return f;
}

function actName(a) {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object') return Object.keys(a)[0] + (Object.values(a)[0] !== null ? JSON.stringify(Object.values(a)[0]) : '');
  return String(a);
}

function renderModel() {
  const dl = document.getElementById('model-info');
  if (!model) return;
  const rows = [
    [t('file'), model.file],
    [t('architecture'), model.input_maps
      ? [model.input_maps.join('×'), ...(model.features || []), ...model.sizes.slice(1)].join(' → ')
      : model.sizes.join(' → ')],
    [t('activations'), model.activations.map(actName).join(', ')],
    [t('loss'), actName(model.loss)],
    [t('parameters'), model.parameters.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en')],
    [t('accuracy'), typeof model.test_accuracy === 'number' ? `${(model.test_accuracy * 100).toFixed(2)}%` : t('unknown')],
    [t('normalization'), model.normalization ? `(x / ${model.normalization.divide} − ${model.normalization.mean}) / ${model.normalization.std}` : ''],
  ];
  const tr = model.training && (model.training.config || model.training);
  if (tr && typeof tr === 'object') {
    const o = tr.optimizer || {};
    const parts = [];
    if (tr.epochs !== undefined) parts.push(`epochs ${tr.epochs}`);
    if (tr.batch_size !== undefined) parts.push(`batch ${tr.batch_size}`);
    if (o.method && o.method.method) parts.push(`${o.method.method} lr ${o.lr}`);
    if (tr.dropout) parts.push(`dropout ${tr.dropout}`);
    if (parts.length) rows.push([t('training'), parts.join(', ')]);
  }
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, String(v))]));
}

function applyLanguage() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll('[data-i18n-label]')) e.setAttribute('aria-label', t(e.dataset.i18nLabel));
  document.getElementById('lang-en').setAttribute('aria-pressed', String(lang === 'en'));
  document.getElementById('lang-zh').setAttribute('aria-pressed', String(lang === 'zh'));
  renderModel();
  render();
}
for (const l of ['en', 'zh']) {
  document.getElementById(`lang-${l}`).addEventListener('click', () => {
    lang = l;
    localStorage.setItem('neuralnet-lang', l);
    applyLanguage();
  });
}

// For the browser test and the curious: the last answer and whether the display is up to date.
window.neuralnet = { last: () => last, idle: () => !inFlight && shown === version && model !== null };

redraw();
fetch('/api/model')
  .then((r) => r.json())
  .then((m) => { model = m; applyLanguage(); })
  .catch((err) => setStatus(`${t('error')}: ${err.message}`));
applyLanguage();

// Boot: read the manifest, fetch and check the model, start a backend that
// reproduces the golden output, then take inputs and show outputs.
// `window.webml` exposes the same steps to `webml verify` and the tests.

// First: the guard closes what the CSP cannot before any other code runs.
import { blocked } from './guard.js';
import { golden, withTimeout } from './backends.js';
import { chooseModel, showPicker } from './catalogue.js';
import { isSingleFile } from './manifest.js';
import { loadModel } from './model.js';
import { render } from './outputs.js';
import { decodeArray, encodeArray, toValues } from './tensors.js';

// The page's scripts run: index.html's notice for when they never do (a refused
// main.js or module, JavaScript off) stays hidden. It is CSS-only, as it must be.
document.documentElement.dataset.started = '';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const api = { state: { status: 'loading' }, manifest: null, session: null, ready: null, run, runGolden, runEncoded, runText, bench };
window.webml = api;

function setStatus(state, text) {
  // An error is final: a download or a worker still under way must not write over it.
  if (api.state.status === 'error' && state !== 'error') return;
  api.state.status = state;
  $('status').dataset.state = state;
  $('status').textContent = text;
}

/** Run the model on feeds (name -> {dtype, shape, data}); returns outputs and the time taken. */
async function run(feeds) {
  if (!api.session) throw new Error('the model is not loaded');
  const began = performance.now();
  const outputs = await api.session.run(feeds);
  return { outputs, ms: performance.now() - began };
}

/** "1.2 of 14.2 MB", or in kB for a small model, which would read "0.0 of 0.0 MB". */
function downloaded(loaded, total) {
  return total < 1e5 ? `${Math.round(loaded / 1e3)} of ${Math.round(total / 1e3)} kB`
    : `${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
}

const plain = (outputs) => Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { shape: t.shape, data: toValues(t) }]));

/** Run the golden input `repeats` times; outputs as plain numbers, for `webml verify`. */
async function runGolden(repeats = 1) {
  const { inputs } = golden(api.manifest);
  const timesMs = [];
  let outputs;
  for (let i = 0; i < repeats; i++) {
    const result = await run(inputs);
    timesMs.push(result.ms);
    outputs = result.outputs;
  }
  return { outputs: plain(outputs), timesMs };
}

/** Run inputs given as the manifest encodes arrays ({dtype, shape, base64}), for `webml verify`. */
async function runEncoded(encoded) {
  const feeds = Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, decodeArray(v)]));
  const { outputs, ms } = await run(feeds);
  return { outputs: plain(outputs), ms };
}

/**
 * Run one text through the site's text pipeline, tokenized in the inference worker:
 * what the text box shows, and what `webml verify --input` compares with Python's.
 */
async function runText(text) {
  if (!api.session?.runText) throw new Error('this site has no text pipeline');
  const { encoded, outputs, labels, embedding, entities, feeds, ms } = await api.session.runText(text);
  return { ids: encoded.ids, tokens: encoded.tokens, truncated: encoded.truncated, labels, embedding, entities, feeds, outputs: plain(outputs), ms };
}

/** Run the texts the widget reads in the box (one, or one per line for an embedding) and show them. */
async function showText(value, widget) {
  try {
    const answers = [];
    for (const text of widget.texts(api.manifest, value)) answers.push({ text, ...(await runText(text)) });
    api.last = { text: value, inputs: answers[0].feeds, outputs: answers[0].outputs, answers };
    $('output-panel').hidden = false;
    $('timing').textContent = `${answers.reduce((ms, a) => ms + a.ms, 0).toFixed(1)} ms on ${api.session.backend}`;
    widget.render(api.manifest, answers, $('output'));
  } catch (error) {
    $('output-panel').hidden = false;
    $('output').textContent = `Error: ${error.message}`;
  }
  revealOutput();
}

/** Run a picture through the site's detector (widgets/detection.js) and show the boxes. */
async function showDetections(picture, name, widget) {
  try {
    const began = performance.now();
    const result = await widget.answer(api.manifest, picture, (feeds) => api.session.run(feeds));
    const ms = performance.now() - began;
    // The detections too: what `webml verify --input photo.png` compares with Python's.
    api.last = {
      picture: name,
      inputs: Object.fromEntries(Object.entries(result.feeds).map(([k, t]) => [k, encodeArray(t)])),
      outputs: plain(result.outputs),
      detections: result.detections,
    };
    $('output-panel').hidden = false;
    $('timing').textContent = `${ms.toFixed(1)} ms on ${api.session.backend}`;
    widget.render(api.manifest, result, picture, name, $('output'));
  } catch (error) {
    $('output-panel').hidden = false;
    $('output').textContent = `Error: ${error.message}`;
  }
  revealOutput();
}

/** Run a sound file through the site's audio pipeline (widgets/audio.js) and show the answer. */
async function showAudio(bytes, name, widget) {
  try {
    const began = performance.now();
    const result = await widget.answer(api.manifest, bytes, (feeds) => api.session.run(feeds));
    // What `webml verify --input clip.wav` compares with Python's: samples, frames, segments.
    api.last = { clip: name, samples: Array.from(result.samples), rows: result.rows, segments: result.segments, labels: result.labels };
    $('output-panel').hidden = false;
    $('timing').textContent = `${(performance.now() - began).toFixed(1)} ms on ${api.session.backend}`;
    widget.render(api.manifest, result, name, $('output'));
  } catch (error) {
    $('output-panel').hidden = false;
    $('output').textContent = `Error: ${error.message}`;
  }
  revealOutput();
}

/** The microphone's last seconds, as each frame completes (widgets/audio.js). */
function showLive(view, widget) {
  api.last = { live: true, frames: view.frames, rows: view.rows, segments: view.segments };
  $('output-panel').hidden = false;
  $('timing').textContent = `live on ${api.session.backend}: ${view.frames} frames`;
  widget.render(api.manifest, view, 'the microphone', $('output'));
}

/** Time the golden input: `warmup` untimed runs, then `runs` timed ones, for `webml bench`. */
async function bench({ warmup = 3, runs = 20 } = {}) {
  const { inputs } = golden(api.manifest);
  for (let i = 0; i < warmup; i++) await run(inputs);
  const timesMs = [];
  for (let i = 0; i < runs; i++) timesMs.push((await run(inputs)).ms);
  return { timesMs };
}

async function show(feeds) {
  try {
    const { outputs, ms } = await run(feeds);
    // What the visitor's input became, and what came out: for the tests and for debugging.
    api.last = {
      inputs: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, encodeArray(t)])),
      outputs: plain(outputs),
    };
    $('output-panel').hidden = false;
    $('timing').textContent = `${ms.toFixed(1)} ms on ${api.session.backend}`;
    render(api.manifest, outputs, $('output'));
  } catch (error) {
    $('output-panel').hidden = false;
    $('output').textContent = `Error: ${error.message}`;
  }
  revealOutput();
}

/** On a phone the answer lands below the fold: scroll just enough to show it (no-op when shown). */
function revealOutput() {
  $('output-panel').scrollIntoView({ block: 'nearest' });
}

function showBackendChoice(manifest, current) {
  const select = $('backend-select');
  for (const name of ['auto', ...manifest.vendor.backends]) {
    select.add(new Option(name, name, false, name === (params.get('backend') || 'auto')));
  }
  select.addEventListener('change', () => {
    params.set('backend', select.value);
    location.search = params.toString();
  });
  $('backend-choice').hidden = false;
  $('backend-info').dataset.backend = current;
}

/**
 * Register the service worker (offline use, and isolation where the host sends
 * no COOP/COEP) and wait until it controls the page, so that the model files
 * fetched next are cached. Never blocks the page: offline is an extra.
 */
async function serviceWorker() {
  if (!('serviceWorker' in navigator) || !globalThis.isSecureContext || isSingleFile || params.get('sw') === '0') return;
  try {
    await navigator.serviceWorker.register('sw.js');
    await withTimeout(navigator.serviceWorker.ready, 10000, 'the service worker');
    if (!navigator.serviceWorker.controller) {
      await withTimeout(new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true })), 10000, 'the service worker');
    }
  } catch (error) {
    console.warn(`webml: no offline support here (${error.message})`);
    return;
  }
  // The worker adds the isolation headers the host did not send: one reload applies them.
  if (!globalThis.crossOriginIsolated && !sessionStorage.getItem('webml-isolation-reload')) {
    sessionStorage.setItem('webml-isolation-reload', '1');
    location.reload();
    await new Promise(() => {});
  }
}

// A model converted from memory carries Keras's automatic name ("functional",
// "sequential"), which says nothing to a visitor: its task does.
const TASK_TITLES = { classification: 'Classifier', regression: 'Regression' };

function defaultTitle(manifest) {
  if (manifest.provenance.source !== '(in memory)') return manifest.name;
  return TASK_TITLES[manifest.task] || 'Model';
}

/** The manifest's title, description and runtime, shown as soon as it is read. */
function showManifest(manifest) {
  api.manifest = manifest;
  const heading = manifest.title || defaultTitle(manifest);
  document.title = `${heading} · webml`;
  $('title').textContent = heading;
  if (manifest.description) {
    $('description').textContent = manifest.description;
    $('description').hidden = false;
  }
  $('about').textContent = `${manifest.runtime === 'onnx' ? 'onnxruntime-web' : 'TensorFlow.js'} ${manifest.vendor.version} · made with webml ${manifest.provenance.webml || ''}`;
}

async function boot() {
  await serviceWorker();
  // A site of several models: the version ?model= names (catalogue.js); one model: webml.json.
  const chosen = await chooseModel(params);
  if (chosen) {
    api.state.model = `${chosen.name}@${chosen.version}`;
    showPicker(chosen, params, { panel: $('model-choice'), modelSelect: $('model-select'), versionSelect: $('version-select') });
  }
  const progress = $('progress');
  const result = await loadModel(document.baseURI, {
    manifestUrl: chosen ? new URL(chosen.manifestUrl, document.baseURI) : undefined,
    manifestSha256: chosen?.entry.manifest.sha256,
    backend: params.get('backend') || 'auto',
    timeoutMs: Number(params.get('timeout')) || undefined,
    threads: Number(params.get('threads')) || undefined,
    allowSoftware: params.get('software') === '1',
    onManifest: (manifest) => showManifest(manifest),
    onProgress: (done, total) => {
      if (api.state.status === 'error') return;
      progress.value = total ? done / total : 1;
      setStatus('loading', `Downloading… ${downloaded(done, total)}`);
    },
    onTry: (backend) => setStatus('loading', `Starting ${backend}…`),
  });
  const { manifest } = result;
  progress.hidden = true;
  api.session = result.session;
  api.model = result;
  const threads = result.session.threads > 1 ? `${result.session.threads} threads`
    : globalThis.crossOriginIsolated ? 'one thread'
      : isSingleFile ? 'one thread, as a page opened from a file'
      : 'one thread: this host does not send the Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers that WebAssembly threads need';
  setStatus('ready', `Ready on ${result.session.backend} (${threads}) in ${Math.round(result.loadMs)} ms. Sample check passed (max error ${result.check.maxAbs.toExponential(1)}).`);
  $('backend-info').textContent = result.skipped.map((s) => `Skipped ${s.backend}: ${s.reason}`).join(' ');
  showBackendChoice(manifest, result.session.backend);

  const text = manifest.pipeline;  // a text site: a text box instead of the tensor editor
  const detector = manifest.detection;  // a detector: boxes drawn on a picture
  const sound = manifest.audio;  // an audio site: a sound file, frame by frame
  const widget = await (text ? import('./widgets/text.js') : detector ? import('./widgets/detection.js') : sound ? import('./widgets/audio.js') : manifest.features ? import('./widgets/form.js')
    : manifest.preprocess?.kind === 'image' ? import('./widgets/image.js') : import('./widgets/tensor.js'));
  widget.mount($('input-widget'), manifest, text ? (t) => showText(t, widget)
    : detector ? (picture, name) => showDetections(picture, name, widget)
      : sound ? (bytes, name) => showAudio(bytes, name, widget) : show,
  sound && { run: (feeds) => api.session.run(feeds), show: (view) => showLive(view, widget) });
  $('run-sample').addEventListener('click', () => (text ? showText(text.sampleText, widget) : show(golden(manifest).inputs)));
  $('input-panel').hidden = false;
  // Many inputs at once where the site takes them (widgets/batch.js); ?batch=N asks for chunks of N.
  api.batch = (await import('./widgets/batch.js')).mount($('batch-panel'), result, { want: Number(params.get('batch')) || null });
  // From here on the page must make no request at all: `webml verify` checks.
  api.state.readyAt = performance.now();
  return {
    backend: result.session.backend,
    threads: result.session.threads,
    loadMs: result.loadMs,
    firstRunMs: result.firstRunMs,
    goldenMaxAbs: result.check.maxAbs,
    skipped: result.skipped,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
}

api.ready = boot().catch((error) => {
  api.state.unavailable = error.unavailable === true;
  setStatus('error', `Error: ${error.message}`);
  $('progress').hidden = true;
  throw error;
});
// The status line already shows the error; keep it out of the console as "uncaught".
api.ready.catch(() => {});

// webml.js: a webml site's model in your own page (same origin), as an ES module.
//
//   import { load } from './model/webml.js';   // the site copied to ./model/
//   const model = await load('./model/', { backend: 'auto', onProgress: (loaded, total) => {} });
//   const answer = await model.run(input);
//   model.dispose();
//
// `input` is the task's natural input:
//   image model        an <img>, <canvas>, <video>, ImageBitmap, ImageData, OffscreenCanvas or Blob
//                      (resized, cropped and normalised exactly as the site's page does)
//   detector           a picture, as above; the answer has `detections`
//   tabular model      a row object {feature: number} with the manifest's feature names
//   text pipeline      a string; the answer has `labels`, `embedding` or `entities`
//   audio pipeline     a sound file's bytes (ArrayBuffer, Uint8Array or Blob)
//   any model          a typed array (a model with one input), or {name: typed array}, or
//                      {name: {dtype, shape, data}}; a dynamic dimension takes the golden input's size
// The answer: {outputs: {name: {dtype, shape, data}}, feeds (what the input became), ms, backend},
// and for a classifier `top`: [{label, index, score}], best first (`run(input, {topK})`, default 5).
//
// What `load` does is what the site's own page does (js/model.js): the manifest,
// the page's scripts and the model files are checked against their sha256, the
// model runs in a Web Worker, and a backend is kept only if it reproduces the
// manifest's golden output; otherwise the next is tried. Nothing is fetched
// after `load` resolves. Types: webml.d.ts beside this file. Docs: docs/embed.md.

import { golden } from './js/backends.js';
import { loadModel } from './js/model.js';
import { canvasToTensor, fitToCanvas } from './js/preprocess.js';
import { labelled } from './js/tasks/scores.js';
import { toValues, typedArrayFor } from './js/tensors.js';

// Where `webml verify SITE --page host.html` finds the models a page loaded
// (it waits for them, reruns their golden input, and reads when the last was ready).
const REGISTRY = Symbol.for('webml.embed');
const HELPERS = {
  detection: () => import('./js/widgets/detection.js'),
  audio: () => import('./js/widgets/audio.js'),
};
const registry = (globalThis[REGISTRY] ??= { pending: 0, models: [], failed: [], readyAt: null });

/** What kind of input the site's model takes, from its manifest. */
export function inputKind(manifest) {
  if (manifest.pipeline) return 'text';
  if (manifest.detection) return 'detection';
  if (manifest.audio) return 'audio';
  if (manifest.features) return 'tabular';
  if (manifest.preprocess?.kind === 'image') return 'image';
  return 'tensor';
}

const pictureLike = (value) => ['HTMLImageElement', 'HTMLCanvasElement', 'HTMLVideoElement', 'ImageBitmap', 'ImageData', 'OffscreenCanvas', 'Blob', 'SVGImageElement', 'VideoFrame']
  .some((name) => globalThis[name] && value instanceof globalThis[name]);

/** Any picture as an ImageBitmap, which every drawing step takes (ImageData and Blob included). */
async function bitmapOf(picture) {
  if (!pictureLike(picture)) throw new TypeError('this model takes a picture: an <img>, <canvas>, <video>, ImageBitmap, ImageData or Blob');
  if (globalThis.HTMLImageElement && picture instanceof HTMLImageElement) await picture.decode();
  return createImageBitmap(picture);
}

/** A feed from a typed array, plain array or {dtype, shape, data}, for the input `spec`. */
function tensorFor(spec, value, shape) {
  if (value && typeof value === 'object' && 'data' in value && 'shape' in value) return { dtype: value.dtype ?? spec.dtype, shape: value.shape, data: value.data };
  const Ctor = spec.dtype === 'string' ? Array : typedArrayFor(spec.dtype);
  const data = value instanceof Ctor ? value
    : Ctor === BigInt64Array ? BigInt64Array.from(value, (n) => BigInt(n)) : Ctor.from(value);
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`input ${spec.name} takes ${size} values (shape [${shape}]), got ${data.length}`);
  return { dtype: spec.dtype, shape, data };
}

/** The model's feeds for tensor input: one array for a one-input model, or by input name. */
function tensorFeeds(manifest, input) {
  const shapes = golden(manifest).inputs;
  const single = ArrayBuffer.isView(input) || Array.isArray(input) || (input && 'data' in input && 'shape' in input);
  if (single) {
    if (manifest.inputs.length !== 1) throw new Error(`this model has ${manifest.inputs.length} inputs: pass {${manifest.inputs.map((s) => s.name).join(', ')}}`);
    input = { [manifest.inputs[0].name]: input };
  }
  return Object.fromEntries(manifest.inputs.map((spec) => {
    if (!(spec.name in input)) throw new Error(`input ${spec.name} is missing (the model takes ${manifest.inputs.map((s) => s.name).join(', ')})`);
    return [spec.name, tensorFor(spec, input[spec.name], shapes[spec.name].shape)];
  }));
}

/** A row object {feature: number} as the form's one-row tensor [1, features]. */
function rowFeeds(manifest, row) {
  const spec = manifest.inputs[0];
  // Arrays and feeds by input name (what the page's form gives) are tensors already.
  if (ArrayBuffer.isView(row) || Array.isArray(row) || row?.[spec.name]?.data) return tensorFeeds(manifest, row);
  const values = manifest.features.map((feature) => {
    const value = Number(row?.[feature.name]);
    if (row?.[feature.name] === undefined || Number.isNaN(value)) {
      throw new Error(`the row has no number for ${feature.name} (features: ${manifest.features.map((f) => f.name).join(', ')})`);
    }
    return value;
  });
  return { [spec.name]: tensorFor(spec, values, [1, values.length]) };
}

/** The classifier's best classes from its first output, as the page shows them. */
function topOf(manifest, outputs, topK) {
  if (manifest.task !== 'classification') return undefined;
  const first = outputs[manifest.outputs[0].name] ?? Object.values(outputs)[0];
  if (!first || first.dtype === 'string') return undefined;
  return labelled(toValues(first), manifest.labels).slice(0, topK);
}

/**
 * Load the model of the webml site at `src` (its folder; default: the folder this module is in).
 * @param {string|URL} [src]
 * @param {{backend?: string, onProgress?: (loaded: number, total: number) => void, signal?: AbortSignal,
 *          timeoutMs?: number, threads?: number, allowSoftware?: boolean, manifestUrl?: string|URL}} [options]
 */
export async function load(src = new URL('./', import.meta.url), options = {}) {
  // A folder named without its trailing slash ('model') means the folder, not a file in its parent.
  const folder = new URL(src, document.baseURI);
  if (!folder.pathname.endsWith('/')) folder.pathname += '/';
  registry.pending++;
  let loaded;
  let helper = null;
  // A detector's and an audio site's steps live in the page's widget modules: fetched
  // while the model loads, since nothing may be fetched once it is ready.
  const onManifest = (manifest) => {
    helper = HELPERS[inputKind(manifest)]?.();
    options.onManifest?.(manifest);
  };
  try {
    loaded = await loadModel(folder, { ...options, onManifest });
    helper = await helper;
  } catch (error) {
    if (!options.signal?.aborted) registry.failed.push(`${folder.href}: ${error.message}`);
    throw error;
  } finally {
    registry.pending--;
  }
  const { manifest } = loaded;
  const kind = inputKind(manifest);
  let disposed = false;
  const runFeeds = (feeds) => {
    if (disposed) throw new Error('the model was disposed');
    return loaded.run(feeds);
  };

  async function run(input, { topK = 5 } = {}) {
    const began = performance.now();
    const done = (answer) => ({ ...answer, ms: performance.now() - began, backend: loaded.backend });
    if (kind === 'text' && typeof input === 'string') {
      if (disposed) throw new Error('the model was disposed');
      const { encoded, outputs, feeds, labels, embedding, entities } = await loaded.runText(input);
      return done({ outputs, feeds, ids: encoded.ids, tokens: encoded.tokens, truncated: encoded.truncated, labels, embedding, entities });
    }
    if (kind === 'detection' && pictureLike(input)) {
      const { answer } = helper;
      const picture = await bitmapOf(input);
      const { feeds, outputs, detections, where } = await answer(manifest, picture, runFeeds);
      return done({ outputs, feeds, detections, where, picture });
    }
    if (kind === 'audio' && (input instanceof ArrayBuffer || input instanceof Uint8Array || input instanceof Blob)) {
      const { answer } = helper;
      const bytes = input instanceof Blob ? await input.arrayBuffer() : input;
      const result = await answer(manifest, bytes instanceof Uint8Array ? bytes.slice().buffer : bytes, runFeeds);
      return done({ outputs: {}, ...result });
    }
    let feeds;
    if (kind === 'image' && pictureLike(input)) {
      const pre = manifest.preprocess;
      const spec = manifest.inputs[0];
      feeds = { [spec.name]: canvasToTensor(fitToCanvas(await bitmapOf(input), pre.width, pre.height), pre, spec) };
    } else {
      feeds = kind === 'tabular' ? rowFeeds(manifest, input) : tensorFeeds(manifest, input);
    }
    const outputs = await runFeeds(feeds);
    return done({ outputs, feeds, top: topOf(manifest, outputs, topK) });
  }

  const model = {
    manifest,
    kind,
    backend: loaded.backend,
    threads: loaded.threads,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    loadMs: loaded.loadMs,
    selfCheck: loaded.check,  // the golden self-check that passed: {ok, maxAbs, failures}
    skipped: loaded.skipped,
    labels: manifest.labels ?? null,
    features: manifest.features ?? null,
    run,
    /** Run feeds as they are: name -> {dtype, shape, data}. */
    runTensors: runFeeds,
    /** The golden input run again; its outputs as plain numbers (what `webml verify --page` compares). */
    async checkGolden() {
      const outputs = await runFeeds(golden(manifest).inputs);
      return Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { shape: t.shape, data: toValues(t) }]));
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      registry.models.splice(registry.models.indexOf(entry), 1);
      loaded.dispose();
    },
  };
  const entry = { model, manifestUrl: new URL(options.manifestUrl ?? 'webml.json', loaded.baseUrl).href };
  registry.models.push(entry);
  registry.readyAt = performance.now();
  return model;
}

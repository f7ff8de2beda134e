// Choosing a backend: try each candidate in order, reject one that fails to
// load, hangs, or computes the golden input wrongly, and say why.

import { unavailableReason } from './env.js';
import { fetchVerified, manifestUrlOf } from './manifest.js';
import { compare, decodeArray, sizeOf, typedArrayFor } from './tensors.js';

const DEFAULT_TIMEOUT_MS = 120000;

/** Reject after `ms` milliseconds with a message naming what hung. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The backends to try: the one asked for (`?backend=`), or the site's `auto` order. */
export function candidates(manifest, requested) {
  const shipped = manifest.vendor.backends;
  if (!requested || requested === 'auto') return shipped;
  if (!shipped.includes(requested)) {
    throw new Error(`backend ${requested} is not in this site: choose one of auto, ${shipped.join(', ')}`);
  }
  return [requested];
}

// Decoded goldens, by manifest: the golden file is fetched once, for the check.
const goldens = new WeakMap();

/** One golden array: inline (decodeArray), or a copy of its bytes in the golden file. */
function goldenArray(entry, file) {
  if (entry.offset === undefined) return decodeArray(entry);
  if (!file) throw new Error('the manifest keeps the golden in a file, and names none');
  const Ctor = typedArrayFor(entry.dtype);
  // A copy, not a view: a view would post the whole file to the worker on every run.
  const bytes = file.slice(entry.offset, entry.offset + entry.length);
  return { dtype: entry.dtype, shape: entry.shape, data: new Ctor(bytes.buffer) };
}

function decodeGolden(spec, file) {
  const inputs = {};
  const outputs = {};
  const samples = {};  // output name -> the positions its golden values sit at
  for (const [name, entry] of Object.entries(spec.inputs)) inputs[name] = goldenArray(entry, file);
  for (const [name, entry] of Object.entries(spec.outputs)) {
    if (entry.indices) {
      samples[name] = { indices: goldenArray(entry.indices, file).data, size: sizeOf(entry.shape) };
      outputs[name] = goldenArray(entry.values, file);
    } else {
      outputs[name] = goldenArray(entry, file);
    }
  }
  return { inputs, outputs, samples };
}

/**
 * The manifest's golden inputs and outputs as tensors, and `samples`: where a
 * sampled output's values sit. A golden kept in a file is there once `loadGolden` has read it.
 */
export function golden(manifest) {
  if (!goldens.has(manifest)) {
    if (manifest.golden.file) throw new Error('the golden file is not loaded yet');
    goldens.set(manifest, decodeGolden(manifest.golden, null));
  }
  return goldens.get(manifest);
}

/** Fetch (sha256-checked) and decode the manifest's golden: see golden(). */
export async function loadGolden(manifest, baseUrl) {
  const file = manifest.golden.file;
  if (file && !goldens.has(manifest)) {
    // Beside webml.json, as Python writes and reads it (converter/manifest.py).
    const bytes = (await fetchVerified([file], undefined, manifestUrlOf(manifest) ?? baseUrl)).get(file.path);
    goldens.set(manifest, decodeGolden(manifest.golden, bytes));
  }
  return golden(manifest);
}

/** An answer's outputs at the places the golden holds: a sampled output's positions. */
export function pick(outputs, samples) {
  const picked = { ...outputs };
  for (const [name, { indices, size }] of Object.entries(samples)) {
    const tensor = outputs[name];
    if (!tensor || tensor.data.length !== size) continue;  // the comparison reports the size
    const data = new tensor.data.constructor(indices.length);
    for (let i = 0; i < indices.length; i++) data[i] = tensor.data[indices[i]];
    picked[name] = { dtype: tensor.dtype, shape: [indices.length], data };
  }
  return picked;
}

/** An error saying no candidate could run; `unavailable` when none was even possible here. */
export class NoBackendError extends Error {
  constructor(skipped) {
    super(`no backend could run this model (${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})`);
    this.skipped = skipped;
    this.unavailable = skipped.every((s) => s.unavailable);
  }
}

/**
 * Start the first candidate backend that loads and reproduces the golden output.
 * @returns {Promise<{session, check, loadMs, firstRunMs, skipped: {backend: string, reason: string, unavailable: boolean}[]}>}
 */
export async function start({ adapter, manifest, backends, context, auto = false, allowSoftware = false, timeoutMs = DEFAULT_TIMEOUT_MS, onTry = () => {} }) {
  const skipped = [];
  // Fetched beside the first backend's model files.
  const checking = loadGolden(manifest, context.baseUrl);
  checking.catch(() => {});  // a failed fetch is reported where it is awaited, below
  for (const backend of backends) {
    onTry(backend);
    const missing = await unavailableReason(backend, manifest, { auto, allowSoftware });
    if (missing) {
      skipped.push({ backend, reason: missing, unavailable: true });
      continue;
    }
    // A download that fails (a file changed on the server) stops the page: no backend can help.
    const model = await context.modelFor(backend);
    const { inputs, outputs, samples } = await checking;  // as a model file: a failure stops it
    const began = performance.now();
    const attempt = new AbortController();  // ends a load that hangs (its worker)
    let session;
    try {
      session = await withTimeout(adapter.load({ ...context, model, manifest, backend, signal: attempt.signal }), timeoutMs, `loading on ${backend}`);
      const loadMs = performance.now() - began;
      const result = await withTimeout(session.run(inputs), timeoutMs, `the first run on ${backend}`);
      const firstRunMs = performance.now() - began - loadMs;
      const check = compare(outputs, pick(result, samples), manifest.golden.atol, manifest.golden.rtol);
      if (!check.ok) throw new Error(`wrong results on ${backend} (${check.failures.join('; ')}; max abs error ${check.maxAbs.toExponential(2)})`);
      return { session, check, loadMs, firstRunMs, skipped };
    } catch (error) {
      skipped.push({ backend, reason: error.message, unavailable: false });
      attempt.abort();
      try { await session?.dispose(); } catch { /* a broken backend may not dispose cleanly */ }
    }
  }
  throw new NoBackendError(skipped);
}

// Choosing a backend: try each candidate in order, reject one that fails to
// load, hangs, or computes the golden input wrongly, and say why.

import { unavailableReason } from './env.js';
import { compare, decodeArray } from './tensors.js';

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

/** The manifest's golden inputs and outputs as tensors. */
export function golden(manifest) {
  const decode = (map) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, decodeArray(v)]));
  return { inputs: decode(manifest.golden.inputs), outputs: decode(manifest.golden.outputs) };
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
  const { inputs, outputs } = golden(manifest);
  for (const backend of backends) {
    onTry(backend);
    const missing = await unavailableReason(backend, manifest, { auto, allowSoftware });
    if (missing) {
      skipped.push({ backend, reason: missing, unavailable: true });
      continue;
    }
    // A download that fails (a file changed on the server) stops the page: no backend can help.
    const model = await context.modelFor(backend);
    const began = performance.now();
    const attempt = new AbortController();  // ends a load that hangs (its worker)
    let session;
    try {
      session = await withTimeout(adapter.load({ ...context, model, manifest, backend, signal: attempt.signal }), timeoutMs, `loading on ${backend}`);
      const loadMs = performance.now() - began;
      const result = await withTimeout(session.run(inputs), timeoutMs, `the first run on ${backend}`);
      const firstRunMs = performance.now() - began - loadMs;
      const check = compare(outputs, result, manifest.golden.atol, manifest.golden.rtol);
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

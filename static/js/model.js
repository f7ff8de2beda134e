/**
 * Loading a site's model: the steps every page that runs it shares. The
 * generated page (main.js), webml.js (a host app's import) and the
 * <webml-model> element all call loadModel.
 *
 * Steps: fetch the manifest, check the page's own scripts (the worker's: a
 * worker takes no integrity attribute) against its sha256, fetch the model
 * files a backend needs (sha256-checked), start that backend in a worker and
 * keep it only if it reproduces the manifest's golden output; else the next.
 * Errors: a failed download or integrity check stops it; no working backend
 * throws a NoBackendError (backends.js) naming each backend's reason.
 *
 * @module model
 */

/**
 * @typedef {object} LoadOptions
 * @property {string} [backend] 'auto' (default: the site's order, software GPUs passed over) or one of manifest.vendor.backends
 * @property {string|URL} [manifestUrl] where webml.json is (default: baseUrl + 'webml.json')
 * @property {string} [manifestSha256] the manifest's sha256 where a catalogue (models.json) gives it: a changed manifest is refused
 * @property {(manifest: object) => void} [onManifest] once it is read, before any model download
 * @property {(loaded: number, total: number) => void} [onProgress] bytes over the whole download; total is what the backend being tried needs, so it can grow
 * @property {(backend: string) => void} [onTry] as each candidate backend starts
 * @property {AbortSignal} [signal] the load stops (and its worker) when it fires; after the load, it disposes of the model
 * @property {number} [timeoutMs] per load and per first run of each backend (default 120 s)
 * @property {number} [threads] wasm threads, instead of the runtime's own choice (needs cross-origin isolation)
 * @property {boolean} [allowSoftware] `auto` may pick a software WebGPU/WebGL too
 */

/**
 * A Tensor is tensors.js's {dtype, shape, data}.
 *
 * @typedef {object} Model
 * @property {object} manifest the site's webml.json
 * @property {string} baseUrl the site's folder, absolute
 * @property {string} backend what it runs on
 * @property {number} threads the runtime's threads
 * @property {number} loadMs
 * @property {number} firstRunMs
 * @property {{ok: boolean, maxAbs: number, failures: string[]}} check the golden self-check that passed
 * @property {{backend: string, reason: string, unavailable: boolean}[]} skipped the backends that did not
 * @property {object} session the adapter's session (run, runText, dispose)
 * @property {(feeds: Object<string, Tensor>) => Promise<Object<string, Tensor>>} run
 * @property {((text: string) => Promise<object>)|undefined} runText a text site only: tokenized and run in the worker
 * @property {() => Promise<void>} dispose ends the worker; the model cannot run after it
 */

import { candidates, start } from './backends.js';
import { fetchVerified, isSingleFile, loadManifest, modelFiles } from './manifest.js';
import { adapterFor } from './runtimes/index.js';
import { workerAdapter } from './runtimes/remote.js';

/**
 * Load, check and start the model of the site at `baseUrl`.
 * @param {string|URL} baseUrl the site's folder (with a trailing slash): the manifest's paths are relative to it
 * @param {LoadOptions} [options]
 * @returns {Promise<Model>}
 */
export async function loadModel(baseUrl, options = {}) {
  const { backend = 'auto', onManifest = () => {}, onProgress = () => {}, onTry = () => {}, signal, timeoutMs, allowSoftware = false, threads } = options;
  const base = new URL(baseUrl, globalThis.document?.baseURI ?? location.href).href;
  const manifest = await loadManifest(options.manifestUrl ? String(options.manifestUrl) : new URL('webml.json', base).href,
    options.manifestSha256);
  signal?.throwIfAborted();
  onManifest(manifest);

  // One count for the whole download: each fetch (the model here, the runtime in
  // the worker) reports its own bytes, summed here against the total that the
  // backend being tried needs, set when it starts (onTry).
  const meter = { done: 0, total: 0, last: 0, lastTotal: 0 };
  const progress = (loaded, total) => {
    // A fetch's count only grows: a smaller one, or another total, is the next fetch.
    const fresh = loaded < meter.last || total !== meter.lastTotal;
    meter.done += fresh ? loaded : loaded - meter.last;
    meter.last = loaded;
    meter.lastTotal = total;
    meter.total = Math.max(meter.total, meter.done);
    onProgress(meter.done, meter.total);
  };
  const fetched = new Map();
  // An adapter that fetches one of several builds it ships (LiteRT.js) names that one.
  const { runtimeFiles } = await adapterFor(manifest.runtime);
  const expect = (name) => {
    const runtime = runtimeFiles?.(manifest, name) ?? manifest.vendor.files.filter((f) => manifest.vendor.load[name]?.includes(f.path));
    const model = modelFiles(manifest, name).filter((f) => !fetched.has(f.path));
    meter.total = meter.done + [...runtime, ...model].reduce((sum, f) => sum + f.size, 0);
  };
  // The worker's own scripts are checked here: a worker takes no integrity attribute.
  await fetchVerified(manifest.page, undefined, base);
  signal?.throwIfAborted();
  // Model files are fetched for the backend being tried: a site may hold a graph
  // for one backend and another for the rest, and a visitor downloads one.
  const modelFor = async (name) => {
    const files = modelFiles(manifest, name);
    const missing = files.filter((f) => !fetched.has(f.path));
    for (const [path, bytes] of await fetchVerified(missing, progress, base)) fetched.set(path, bytes);
    return new Map(files.map((f) => [f.path, fetched.get(f.path)]));
  };
  // From disk (--single-file) a page can start no worker of its own: it runs here.
  const adapter = isSingleFile ? await adapterFor(manifest.runtime) : workerAdapter(progress);
  const result = await start({
    adapter, manifest, timeoutMs,
    backends: candidates(manifest, backend),
    auto: backend === 'auto',
    allowSoftware,
    context: { modelFor, baseUrl: base, threads, fetchFiles: (files) => fetchVerified(files, progress, base) },
    onTry: (name) => { expect(name); onTry(name); },
  });
  const { session } = result;
  if (signal?.aborted) {
    await session.dispose();
    signal.throwIfAborted();
  }
  signal?.addEventListener('abort', () => session.dispose(), { once: true });
  return {
    manifest,
    baseUrl: base,
    session,
    backend: session.backend,
    threads: session.threads,
    loadMs: result.loadMs,
    firstRunMs: result.firstRunMs,
    check: result.check,
    skipped: result.skipped,
    run: (feeds) => session.run(feeds),
    runText: session.runText && ((text) => session.runText(text)),
    dispose: () => session.dispose(),
  };
}

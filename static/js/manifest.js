// Loading the manifest and fetching files with progress and a sha256 check.

export const SCHEMA_VERSION = 1;

// A page built with --single-file carries the manifest, the model and the wasm
// in a JSON block, as it cannot fetch anything from disk.
const INLINE = (() => {
  const block = globalThis.document?.getElementById('webml-data');
  return block ? JSON.parse(block.textContent) : null;
})();
export const isSingleFile = INLINE !== null;

const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** For TensorFlow.js in a single file: its wasm binaries as data: URLs, by file name. */
export const inlineWasmUrls = () => INLINE && Object.fromEntries(
  Object.entries(INLINE.wasm).map(([name, b64]) => [name, `data:application/wasm;base64,${b64}`]));

// Where each manifest was read from: its golden file sits beside it, which on a
// site of several models (models/NAME/VERSION/webml.json) is not the site root.
const manifestUrls = new WeakMap();

/** The URL a manifest was read from (undefined in a single file). */
export const manifestUrlOf = (manifest) => manifestUrls.get(manifest);

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

async function sha256Of(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw new Error('this page must be served over HTTPS (or from localhost) so it can check the model files');
  }
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

/**
 * Fetch and validate webml.json. `sha256`, where the site's catalogue gives the
 * manifest's (models.json), is checked like a model file's: the manifest holds
 * the sha256 of every file after it, so it must be the one the site was built with.
 */
export async function loadManifest(url = 'webml.json', sha256 = null) {
  let manifest = INLINE?.manifest;
  if (!manifest) {
    const response = await fetch(url, { cache: 'no-cache' });
    if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
    const bytes = await response.arrayBuffer();
    if (sha256) {
      const digest = await sha256Of(bytes);
      if (digest !== sha256) {
        throw new Error(`${new URL(response.url).pathname} failed its integrity check (sha256 ${digest.slice(0, 12)}…, expected ${sha256.slice(0, 12)}…): the file was changed after the site was built`);
      }
    }
    manifest = JSON.parse(new TextDecoder().decode(bytes));
    manifestUrls.set(manifest, response.url);
  }
  if (manifest.schemaVersion !== SCHEMA_VERSION) {
    throw new Error(`this page reads manifest version ${SCHEMA_VERSION}, the site has ${manifest.schemaVersion}: build the site again`);
  }
  if (!manifest.vendor) throw new Error('the manifest names no runtime files: build the site with `webml build`');
  return manifest;
}

/**
 * Fetch files (manifest entries {path, sha256, size}) as bytes, reporting progress
 * over all of them, and refuse any whose sha256 differs from the manifest's.
 * @param {{path: string, sha256: string, size: number}[]} files
 * @param {(loaded: number, total: number) => void} onProgress
 * @param {string} baseUrl what the paths are relative to: the site root
 * @returns {Promise<Map<string, Uint8Array>>}
 */
export async function fetchVerified(files, onProgress = () => {}, baseUrl = globalThis.document?.baseURI ?? location.href) {
  if (!globalThis.crypto?.subtle) {
    throw new Error('this page must be served over HTTPS (or from localhost) so it can check the model files');
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  let loaded = 0;
  // The first file refused ends the others' downloads, and their progress with them:
  // a late progress report must not read as if the page were still loading.
  const stop = new AbortController();
  const fetchOne = async (file) => {
    const inline = INLINE?.files[file.path];
    const response = inline ? new Response(fromBase64(inline)) : await fetch(new URL(file.path, baseUrl), { signal: stop.signal });
    if (!response.ok) throw new Error(`cannot load ${file.path}: HTTP ${response.status}`);
    const chunks = [];
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (stop.signal.aborted) throw stop.signal.reason;
      chunks.push(value);
      loaded += value.byteLength;
      onProgress(loaded, total);
    }
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let offset = 0;
    for (const chunk of chunks) { bytes.set(chunk, offset); offset += chunk.byteLength; }
    const digest = await sha256Of(bytes);
    if (digest !== file.sha256) {
      throw new Error(`${file.path} failed its integrity check (sha256 ${digest.slice(0, 12)}…, expected ${file.sha256.slice(0, 12)}…): the file was changed after the site was built`);
    }
    return [file.path, bytes];
  };
  try {
    return new Map(await Promise.all(files.map(fetchOne)));
  } catch (error) {
    stop.abort(error);
    throw error;
  }
}

const named = (manifest, name) => manifest.files.find((f) => f.path === name || f.path.endsWith(`/${name}`));

/** The site path of the file `backend` opens: manifest.entry, or its variant (the fused ONNX graph). */
export function entryPath(manifest, backend) {
  const name = manifest.variants?.[backend] ?? manifest.entry;
  const file = named(manifest, name);
  if (!file) throw new Error(`the manifest lists no file ${name}`);
  return file.path;
}

/** The model files `backend` needs: all but the entries meant for other backends. */
export function modelFiles(manifest, backend) {
  const mine = entryPath(manifest, backend);
  const entries = new Set([manifest.entry, ...Object.values(manifest.variants ?? {})].map((n) => named(manifest, n)?.path));
  return manifest.files.filter((f) => f.path === mine || !entries.has(f.path));
}

/**
 * Import runtime scripts after checking them against the manifest's sha256.
 * Inference runs in a worker, where neither <script integrity> nor
 * modulepreload exists: each file is fetched and checked, then imported by the
 * same URL, which its immutable caching serves from the HTTP cache. UMD builds
 * (TensorFlow.js) import as modules too: they attach to globalThis.
 * @param {{path: string, sha256: string, size: number}[]} files in import order
 */
export async function importVerified(files, baseUrl, fetchFiles = fetchVerified) {
  // In a single file the runtime scripts are inline, pinned by the page's CSP hashes.
  if (INLINE) return files.map((file) => globalThis.webmlModules?.[file.path] ?? globalThis);
  await fetchFiles(files);
  const modules = [];
  for (const file of files) modules.push(await import(new URL(file.path, baseUrl).href));
  return modules;
}

// The runtime adapters, loaded on demand inside the inference worker (see
// remote.js for the page's side). Each module exports
//   load({manifest, backend, model, fetchFiles, baseUrl}) -> Promise<Session>
// where Session is { backend, run(feeds) -> Promise<outputs>, dispose() } and
// feeds and outputs map tensor names to { dtype, shape, data }.
// A new runtime is one new file and one line here.

export const ADAPTERS = {
  onnx: () => import('./ort.js'),
  tfjs: () => import('./tfjs.js'),
  litert: () => import('./litert.js'),
};

/** The adapter module for a manifest's runtime. */
export async function adapterFor(runtime) {
  const load = ADAPTERS[runtime];
  if (!load) throw new Error(`unsupported runtime ${runtime}: should be one of ${Object.keys(ADAPTERS).join(', ')}`);
  return load();
}

/** The folder (with trailing slash) of a vendor file path, as an absolute URL. */
export const folderOf = (path, baseUrl) => new URL(path.slice(0, path.lastIndexOf('/') + 1), baseUrl).href;

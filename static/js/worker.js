// The inference worker: the runtime adapter runs here, so the page never
// freezes while a model loads or runs. One worker per backend attempt: a
// backend that hangs is ended with its worker.
//
// Messages in:  {id, type: 'load', manifest, backend, model, baseUrl, threads}
//               {id, type: 'run', feeds}
//               {id, type: 'text', text}  (a text site: tokenized here, see tasks/pipeline.js)
// Messages out: {id, ok, ...result | message}, and {type: 'progress', loaded, total}
// One message each way per run; output buffers are transferred, not copied.

import { fetchVerified } from './manifest.js';
import { adapterFor } from './runtimes/index.js';

let session = null;
let textPipeline = null;

// Plain numbers for the page: a BigInt64Array does not cross to Playwright.
const numbers = (feeds) => Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: Array.from(t.data, Number) }]));

const handlers = {
  async load({ manifest, backend, model, baseUrl, threads }) {
    const progress = (loaded, total) => postMessage({ type: 'progress', loaded, total });
    const fetchFiles = (files) => fetchVerified(files, progress, baseUrl);
    const adapter = await adapterFor(manifest.runtime);
    session = await adapter.load({ manifest, backend, model, baseUrl, fetchFiles, threads });
    if (manifest.pipeline) {
      const { loadText } = await import('./tasks/pipeline.js');
      textPipeline = await loadText({ manifest, model, baseUrl, fetchFiles });
    }
    return { threads: session.threads };
  },
  async run({ feeds }) {
    return { outputs: await session.run(feeds) };
  },
  async text({ text }) {
    const began = performance.now();
    let fed;
    const result = await textPipeline.answer(text, (feeds) => { fed = feeds; return session.run(feeds); });
    return { ...result, feeds: numbers(fed), ms: performance.now() - began };
  },
};

// The outputs' buffers move to the page instead of being copied: each is the
// runtime's fresh copy out of its heap, used by nothing here after the run.
// A view of a larger buffer (a wasm heap, a shared one) is copied as before.
function movable(outputs) {
  const buffers = new Set();
  for (const { data } of Object.values(outputs ?? {})) {
    const buffer = data?.buffer;
    if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) buffers.add(buffer);
  }
  return [...buffers];
}

self.onmessage = async ({ data }) => {
  try {
    const reply = await handlers[data.type](data);
    reply.id = data.id;
    reply.ok = true;
    postMessage(reply, movable(reply.outputs));
  } catch (error) {
    postMessage({ id: data.id, ok: false, message: error.message });
  }
};

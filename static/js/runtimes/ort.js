// onnxruntime-web adapter.

import { entryPath, importVerified, isSingleFile } from '../manifest.js';
import { folderOf } from './index.js';

// Page backend -> onnxruntime-web execution provider.
const PROVIDERS = { wasm: 'wasm', webgl: 'webgl', webgpu: 'webgpu' };

export async function load({ manifest, backend, model, fetchFiles, baseUrl, threads }) {
  const provider = PROVIDERS[backend];
  if (!provider) throw new Error(`onnxruntime-web has no backend ${backend}: should be one of ${Object.keys(PROVIDERS).join(', ')}`);
  const files = manifest.vendor.load[backend];
  const entry = files.find((p) => /\/ort\.[^/]*mjs$/.test(p));
  const byPath = new Map(manifest.vendor.files.map((f) => [f.path, f]));
  const [ort] = await importVerified([byPath.get(entry)], baseUrl, fetchFiles);
  // The glue module onnxruntime-web imports itself: checked here, imported there
  // (a single file inlines the bundle build, which carries its glue).
  if (!isSingleFile) await fetchFiles(files.filter((p) => p !== entry && p.endsWith('.mjs')).map((p) => byPath.get(p)));
  ort.env.logLevel = 'error';
  const wasm = ort.env.wasm;
  if (!isSingleFile) wasm.wasmPaths = folderOf(entry, baseUrl);  // the bundle build carries its glue
  // onnxruntime-web defaults to half the cores; threads need cross-origin isolation.
  // A count the page was given (?threads=) wins over the cores.
  wasm.numThreads = globalThis.crossOriginIsolated ? threads || Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  // Hand the runtime its wasm bytes, fetched with progress and checked against the manifest.
  const wasmPath = files.find((p) => p.endsWith('.wasm'));
  if (wasmPath) {
    const entries = manifest.vendor.files.filter((f) => f.path === wasmPath);
    wasm.wasmBinary = (await fetchFiles(entries)).get(wasmPath);
  }
  const session = await ort.InferenceSession.create(model.get(entryPath(manifest, backend)), {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,  // errors only: its warnings are no news to a visitor or to verify
  });
  return {
    backend,
    threads: wasm.numThreads,
    async run(feeds) {
      const inputs = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.dtype, t.data, t.shape);
      const results = await session.run(inputs);
      const outputs = {};
      for (const [name, t] of Object.entries(results)) {
        outputs[name] = { dtype: t.type, shape: Array.from(t.dims), data: t.data };
      }
      return outputs;
    },
    async dispose() { await session.release(); },
  };
}

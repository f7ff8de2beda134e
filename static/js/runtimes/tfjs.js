// TensorFlow.js adapter (graph models). Its UMD builds, checked against the
// manifest and imported, define the global `tf`.

import { entryPath, importVerified, inlineWasmUrls } from '../manifest.js';
import { folderOf } from './index.js';

const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'];

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) { out.set(part, offset); offset += part.byteLength; }
  return out;
}

export async function load({ manifest, backend, model, fetchFiles, baseUrl }) {
  if (!BACKENDS.includes(backend)) throw new Error(`TensorFlow.js has no backend ${backend}: should be one of ${BACKENDS.join(', ')}`);
  const paths = manifest.vendor.load[backend];
  const byPath = new Map(manifest.vendor.files.map((f) => [f.path, f]));
  await importVerified(paths.filter((p) => p.endsWith('.js')).map((p) => byPath.get(p)), baseUrl, fetchFiles);
  const tf = globalThis.tf;
  if (backend === 'wasm') {
    tf.wasm.setWasmPaths(inlineWasmUrls() ?? folderOf(paths[0], baseUrl));
    // The threaded build starts its workers from blob: scripts, which the site's
    // CSP (script-src 'self') refuses; use the single-threaded SIMD build.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js could not start its ${backend} backend`);
  await tf.ready();

  // Build the model from the bytes already fetched and checked, not by URL.
  const entry = entryPath(manifest, backend);
  const folder = entry.slice(0, entry.lastIndexOf('/') + 1);
  const json = JSON.parse(new TextDecoder().decode(model.get(entry)));
  const groups = json.weightsManifest || [];
  const weightData = concat(groups.flatMap((g) => g.paths.map((p) => model.get(folder + p))));
  const graph = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData: weightData.buffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
    modelInitializer: json.modelInitializer,
  }));
  const outputNames = manifest.outputs.map((o) => o.name);
  let needsAsync = false;
  return {
    backend,
    threads: 1,
    async run(feeds) {
      const inputs = {};
      for (const [name, t] of Object.entries(feeds)) {
        // TensorFlow.js has no int64: it computes integers as int32.
        const data = t.dtype === 'int64' ? Int32Array.from(t.data, Number) : t.data;
        inputs[name] = tf.tensor(data, t.shape, t.dtype === 'int64' ? 'int32' : t.dtype);
      }
      let results;
      if (needsAsync) {
        results = await graph.executeAsync(inputs, outputNames);
      } else {
        try {
          // The synchronous executor is faster; graphs with control flow need the async one.
          results = graph.execute(inputs, outputNames);
        } catch (error) {
          if (!/executeAsync|dynamic op/.test(error.message)) throw error;
          needsAsync = true;
          results = await graph.executeAsync(inputs, outputNames);
        }
      }
      if (!Array.isArray(results)) results = [results];
      const outputs = {};
      for (let i = 0; i < outputNames.length; i++) {
        const data = await results[i].data();
        // The worker moves output buffers to the page. wasm's data() is a fresh copy of its
        // heap; cpu and webgl may hand back the tensor's own (a weight's, for a graph
        // that outputs one), which must stay: those are copied.
        outputs[outputNames[i]] = { dtype: results[i].dtype, shape: results[i].shape, data: backend === 'wasm' ? data : data.slice() };
      }
      tf.dispose([...Object.values(inputs), ...results]);
      return outputs;
    },
    async dispose() { graph.dispose(); },
  };
}

// TensorFlow.js adapter (graph models). Its UMD builds, checked against the
// manifest and imported, define the global `tf`.

import { entryPath, importVerified, inlineWasmUrls, isSingleFile } from '../manifest.js';
import { folderOf } from './index.js';

const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'];

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) { out.set(part, offset); offset += part.byteLength; }
  return out;
}

// A tiny model's run ends before its threads have woken: TensorFlow.js's pool
// then costs far more than it saves (the digits CNN: 13 ms on two threads, under
// 1 ms on one; docs/choosing.md). Its work, roughly: model bytes times input values.
const TINY_WORK = 1e9;
function tiny(manifest, model) {
  const bytes = [...model.values()].reduce((n, b) => n + b.byteLength, 0);
  const values = Object.values(manifest.golden.inputs).reduce((n, t) => n + t.shape.reduce((a, d) => a * d, 1), 0);
  return bytes * values < TINY_WORK;
}

export async function load({ manifest, backend, model, fetchFiles, baseUrl, threads: wanted }) {
  if (!BACKENDS.includes(backend)) throw new Error(`TensorFlow.js has no backend ${backend}: should be one of ${BACKENDS.join(', ')}`);
  const paths = manifest.vendor.load[backend];
  const byPath = new Map(manifest.vendor.files.map((f) => [f.path, f]));
  // The UMD builds; the threaded build's pthread script and glue are not imported here.
  await importVerified(paths.filter((p) => p.endsWith('.min.js')).map((p) => byPath.get(p)), baseUrl, fetchFiles);
  const tf = globalThis.tf;
  let threads = 1;
  if (backend === 'wasm') {
    tf.wasm.setWasmPaths(inlineWasmUrls() ?? folderOf(paths[0], baseUrl));
    // Threads need shared memory (cross-origin isolation). The site's copy starts
    // each pthread from the pinned files, not blob: scripts (webapp/runtimes.py),
    // checked here and then loaded by the same URLs from the HTTP cache.
    const pthreads = paths.filter((p) => /threaded-simd\.(worker\.)?js$/.test(p));
    // Half the cores, at most 4: on two cores a second thread made MobileNetV2 3x
    // slower here (docs/choosing.md), so one thread there, and the plain build.
    // A count the page was given (?threads=) is taken as it is, tiny model or not.
    const count = wanted || Math.min(4, Math.floor((navigator.hardwareConcurrency || 1) / 2));
    // WebKitGTK says crossOriginIsolated yet has no SharedArrayBuffer (docs/engines.md).
    const threaded = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function'
      && !isSingleFile && pthreads.length === 2 && count > 1 && (wanted || !tiny(manifest, model));
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threaded);
    if (threaded) {
      await fetchFiles(pthreads.map((p) => byPath.get(p)));
      threads = count;
      tf.wasm.setThreadsCount(threads);
    }
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js could not start its ${backend} backend`);
  await tf.ready();
  if (backend === 'wasm') threads = tf.wasm.getThreadsCount();

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
    threads,
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

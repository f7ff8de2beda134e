// LiteRT.js adapter (.tflite models): XNNPACK on WebAssembly, or its WebGPU
// accelerator. Of its three wasm builds the worker fetches one: threads with
// relaxed SIMD where the engine has relaxed SIMD and the page is cross-origin
// isolated, relaxed SIMD on one thread without isolation, plain SIMD (compat)
// without relaxed SIMD. Every build carries the WebGPU accelerator too.
//
// The site's copies are rewritten at build time (webapp/runtimes.py): the
// Emscripten glue sets globalThis.ModuleFactory when imported as a module, and
// LiteRT.js's loader then skips the importScripts a module worker lacks.
// Thread workers start from the glue's own same-origin URL: no blob: script.

import { wasmFeatures } from '../env.js';
import { entryPath, importVerified } from '../manifest.js';
import { folderOf } from './index.js';

const BACKENDS = ['wasm', 'webgpu'];
const BUILDS = { threaded: 'litert_wasm_threaded_internal', relaxed: 'litert_wasm_internal', compat: 'litert_wasm_compat_internal' };
const ARRAYS = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array };

/** Which of the `available` wasm builds this engine runs, and on how many threads. */
export function chooseBuild(available = Object.keys(BUILDS)) {
  const { relaxedSimd, threads } = wasmFeatures();
  // LiteRT.js's threaded build needs relaxed SIMD as well; as onnxruntime-web, at most 4 threads.
  if (relaxedSimd && threads && available.includes('threaded')) return { build: 'threaded', threads: Math.min(4, navigator.hardwareConcurrency || 1) };
  // A single file carries only the compat build.
  return { build: relaxedSimd && available.includes('relaxed') ? 'relaxed' : 'compat', threads: 1 };
}

// LiteRT.js's default environment asks for a GPU device; a wasm worker needs none
// (a device may wake a discrete GPU), so it sees no WebGPU, and the warning that
// LiteRT.js then gives for its missing device is dropped.
async function withoutWebGpu(start) {
  if (globalThis.navigator?.gpu) Object.defineProperty(navigator, 'gpu', { value: undefined });
  const warn = console.warn;
  console.warn = (...args) => { if (!String(args[0]).startsWith('Failed to create default WebGPU device')) warn(...args); };
  try {
    return await start();
  } finally {
    console.warn = warn;
  }
}

/** The build this engine takes of those the site ships for `backend`, and its files' entries. */
function pick(manifest, backend) {
  const paths = manifest.vendor.load[backend];
  const byPath = new Map(manifest.vendor.files.map((f) => [f.path, f]));
  const file = (name) => byPath.get(paths.find((p) => p.endsWith(`/${name}`)));
  const choice = chooseBuild(Object.keys(BUILDS).filter((b) => file(`${BUILDS[b]}.wasm`)));
  const files = { utils: file('litert-wasm-utils.js'), loader: file('litert.js'), glue: file(`${BUILDS[choice.build]}.js`), wasm: file(`${BUILDS[choice.build]}.wasm`) };
  return { ...choice, files };
}

/** What the worker will fetch for `backend` here (the page's progress total): one build of three. */
export function runtimeFiles(manifest, backend) {
  return Object.values(pick(manifest, backend).files);
}

export async function load({ manifest, backend, model, fetchFiles, baseUrl, threads: wanted }) {
  if (!BACKENDS.includes(backend)) throw new Error(`LiteRT.js has no backend ${backend}: should be one of ${BACKENDS.join(', ')}`);
  const { build, threads: chosen, files } = pick(manifest, backend);
  // A count the page was given (?threads=) wins, on the threaded build only.
  const threads = build === 'threaded' && wanted ? wanted : chosen;
  const { glue, wasm: wasmFile } = files;
  // The wasm bytes, fetched with progress and checked, while the scripts are checked and imported.
  const [wasm, [, , litert]] = await Promise.all([
    fetchFiles([wasmFile]).then((bytes) => bytes.get(wasmFile.path)),
    importVerified([files.utils, glue, files.loader], baseUrl, fetchFiles),
  ]);
  const glueUrl = new URL(glue.path, baseUrl).href;
  globalThis.Module = {
    wasmBinary: wasm,
    mainScriptUrlOrBlob: glueUrl,  // what each thread's worker runs: the checked glue
    locateFile: (name) => new URL(name, folderOf(glue.path, baseUrl)).href,
    // LiteRT logs every line to console.error; only its errors are errors.
    printErr: (line) => (/^(INFO|VERBOSE|DEBUG)\b/.test(line) ? console.debug : /^WARNING\b/.test(line) ? console.warn : console.error)(line),
  };
  const runtime = await (backend === 'wasm' ? withoutWebGpu(() => litert.loadLiteRt(glueUrl)) : litert.loadLiteRt(glueUrl));
  if (backend === 'webgpu' && !runtime.getWebGpuDevice()) throw new Error('LiteRT.js could not get a WebGPU device here');

  const compiled = await litert.loadAndCompile(model.get(entryPath(manifest, backend)), {
    accelerator: backend,
    cpuOptions: { numThreads: threads },
  });
  // Off JSPI builds LiteRT.js quietly compiles for wasm what WebGPU cannot run
  // whole; here that is a failed webgpu attempt, so the page says so and moves on.
  if (backend === 'webgpu' && (compiled.options.accelerator !== 'webgpu' || !compiled.isFullyAccelerated)) {
    compiled.delete();
    throw new Error('LiteRT.js cannot run the whole model on WebGPU');
  }
  const inputs = compiled.getInputDetails();
  const outputs = compiled.getOutputDetails();
  // The manifest names the signature's tensors; by position where it does not.
  const byName = (details, specs) => details.every((d) => specs.some((s) => s.name === d.name));
  const inputNames = byName(inputs, manifest.inputs) ? inputs.map((d) => d.name) : manifest.inputs.map((s) => s.name);
  const outputNames = byName(outputs, manifest.outputs) ? outputs.map((d) => d.name) : manifest.outputs.map((s) => s.name);
  return {
    backend,
    threads: backend === 'wasm' ? threads : 1,
    build,
    async run(feeds) {
      const tensors = inputs.map((detail, i) => {
        const feed = feeds[inputNames[i]];
        if (!feed) throw new Error(`no input ${inputNames[i]} was given`);
        const Ctor = ARRAYS[detail.dtype];
        const data = feed.data instanceof Ctor ? feed.data : Ctor.from(feed.data, Number);
        return new litert.Tensor(data, Array.from(feed.shape));
      });
      let results;
      try {
        results = await compiled.run(tensors);
      } finally {
        for (const tensor of tensors) tensor.delete();
      }
      const answer = {};
      for (let i = 0; i < results.length; i++) {
        const result = results[i];
        try {
          // data() copies out of the wasm heap (or off the GPU) before the tensor is freed.
          answer[outputNames[i]] = { dtype: result.type.dtype, shape: Array.from(result.type.layout.dimensions), data: await result.data() };
        } finally {
          result.delete();
        }
      }
      return answer;
    },
    async dispose() { compiled.delete(); },
  };
}

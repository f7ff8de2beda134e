// What this browser can do, asked once per backend before trying it.

const SOFTWARE_RENDERERS = /swiftshader|llvmpipe|software|basic render/i;

// The smallest module with a relaxed-SIMD instruction (i32x4.relaxed_trunc_f32x4_s),
// the test wasm-feature-detect uses: WebAssembly.validate says whether this engine
// takes it, without compiling anything.
const RELAXED_SIMD = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);

/**
 * What this engine's WebAssembly can do: relaxed SIMD, and threads (shared
 * memory, which needs cross-origin isolation).
 * @returns {{relaxedSimd: boolean, threads: boolean}}
 */
export function wasmFeatures() {
  const relaxedSimd = typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_SIMD);
  const threads = Boolean(globalThis.crossOriginIsolated) && typeof SharedArrayBuffer === 'function';
  return { relaxedSimd, threads };
}

async function webgpuReason(manifest, { auto, allowSoftware }) {
  if (!globalThis.navigator?.gpu) return 'this browser has no WebGPU';
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'WebGPU has no adapter here';
  // onnxruntime-web runs a float16 model in float16, which needs shader-f16:
  // without it pipelines are invalid and runs hang or return wrong numbers
  // silently. (TensorFlow.js turns float16 weights into float32 on load.)
  if (manifest.runtime === 'onnx' && manifest.quantization?.mode === 'float16' && !adapter.features.has('shader-f16')) {
    return 'the WebGPU adapter lacks shader-f16, which this float16 model needs';
  }
  const info = adapter.info || {};
  const software = adapter.isFallbackAdapter || SOFTWARE_RENDERERS.test(`${info.architecture} ${info.description}`);
  if (software && auto && !allowSoftware) return `the WebGPU adapter is software (${info.architecture || 'fallback'}), slower than WebAssembly`;
  return null;
}

function webglReason({ auto, allowSoftware }) {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (!gl) return 'this browser has no WebGL 2';
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = debug ? gl.getParameter(debug.UNMASKED_RENDERER_WEBGL) : '';
  if (SOFTWARE_RENDERERS.test(renderer) && auto && !allowSoftware) return `WebGL is software (${renderer.split('(')[0].trim() || renderer}), slower than WebAssembly`;
  return null;
}

/**
 * Why `backend` should not be tried here, or null when it should.
 * `auto`: the page is choosing by itself, so software GPUs are passed over
 * unless `allowSoftware` (?software=1).
 * @returns {Promise<string|null>}
 */
export async function unavailableReason(backend, manifest, options) {
  switch (backend) {
    case 'webgpu': return webgpuReason(manifest, options);
    case 'webgl': return webglReason(options);
    case 'wasm': return typeof WebAssembly === 'object' ? null : 'this browser has no WebAssembly';
    default: return null;
  }
}

// What this browser can do, asked once per backend before trying it.

/**
 * Why `backend` cannot run in this browser, or null when it can.
 * @param {string} backend
 * @returns {Promise<string|null>}
 */
export async function unavailableReason(backend) {
  switch (backend) {
    case 'webgpu': {
      if (!globalThis.navigator?.gpu) return 'this browser has no WebGPU';
      const adapter = await navigator.gpu.requestAdapter().catch(() => null);
      return adapter ? null : 'WebGPU has no adapter here';
    }
    case 'webgl': {
      const canvas = new OffscreenCanvas(1, 1);
      return canvas.getContext('webgl2') ? null : 'this browser has no WebGL 2';
    }
    case 'wasm':
      return typeof WebAssembly === 'object' ? null : 'this browser has no WebAssembly';
    default:
      return null;
  }
}

// Turning a picture into the model's input tensor, exactly as the manifest says.

import { typedArrayFor } from './tensors.js';

/** Draw `source` into a width x height canvas, cropping to the same aspect ratio (centre). */
export function fitToCanvas(source, width, height) {
  const sw = source.videoWidth || source.width;
  const sh = source.videoHeight || source.height;
  const scale = Math.max(width / sw, height / sh);
  const cw = width / scale;
  const ch = height / scale;
  let canvas = document.createElement('canvas');
  let current = source;
  let [x, y, w, h] = [(sw - cw) / 2, (sh - ch) / 2, cw, ch];
  // Halve in steps: one big drawImage step skips pixels instead of averaging them.
  while (w / 2 >= width && h / 2 >= height) {
    const step = document.createElement('canvas');
    step.width = Math.round(w / 2);
    step.height = Math.round(h / 2);
    const ctx = step.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(current, x, y, w, h, 0, 0, step.width, step.height);
    [current, x, y, w, h] = [step, 0, 0, step.width, step.height];
  }
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(current, x, y, w, h, 0, 0, width, height);
  return canvas;
}

/**
 * The input tensor for a canvas already at the model's size.
 * value = ((invert ? 255 - v : v) * scale - mean[c]) / std[c]
 */
export function canvasToTensor(canvas, pre, spec) {
  const { width, height, channels, layout, scale, mean, std } = pre;
  const rgba = canvas.getContext('2d', { willReadFrequently: true }).getImageData(0, 0, width, height).data;
  const Ctor = typedArrayFor(spec.dtype);
  const data = new Ctor(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = [rgba[p * 4], rgba[p * 4 + 1], rgba[p * 4 + 2]];
    const pixel = channels === 1 ? [0.299 * r + 0.587 * g + 0.114 * b] : [r, g, b];
    for (let c = 0; c < channels; c++) {
      const v = pre.invert ? 255 - pixel[c] : pixel[c];
      const value = (v * scale - mean[c % mean.length]) / std[c % std.length];
      const index = layout === 'NCHW' ? c * width * height + p : p * channels + c;
      data[index] = value;
    }
  }
  // One picture, at the size the manifest's preprocessing gives (the model's own dims may be dynamic).
  const shape = layout === 'NCHW' ? [1, channels, height, width] : [1, height, width, channels];
  return { dtype: spec.dtype, shape, data };
}

// Tensors as the page passes them around: { dtype, shape, data } with a typed array,
// or for dtype 'string' a plain array of strings (as onnxruntime-web takes and returns them).

/** @typedef {{dtype: string, shape: number[], data: ArrayLike<number|bigint|string>}} Tensor */

const TYPED = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array,
};

/** @param {number[]} shape */
export const sizeOf = (shape) => shape.reduce((a, b) => a * b, 1);

/** A typed array constructor for a dtype, or an error naming the dtypes that work. */
export function typedArrayFor(dtype) {
  const ctor = TYPED[dtype];
  if (!ctor) throw new Error(`dtype ${dtype} is not supported by this page (supported: ${Object.keys(TYPED).join(', ')})`);
  return ctor;
}

/** Decode the manifest's { dtype, shape, base64 } (little-endian bytes), or { dtype: 'string', shape, strings }, into a Tensor. */
export function decodeArray({ dtype, shape, base64, strings }) {
  if (dtype === 'string') return { dtype, shape, data: Array.from(strings, String) };
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const Ctor = typedArrayFor(dtype);
  return { dtype, shape, data: new Ctor(bytes.buffer, 0, bytes.byteLength / Ctor.BYTES_PER_ELEMENT) };
}

/** Encode a Tensor as the manifest does: { dtype, shape, base64 of little-endian bytes }. */
export function encodeArray(tensor) {
  if (tensor.dtype === 'string') return { dtype: 'string', shape: tensor.shape, strings: Array.from(tensor.data, String) };
  const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { dtype: tensor.dtype, shape: tensor.shape, base64: btoa(binary) };
}

/** Build a Tensor of `dtype` and `shape` from plain numbers. */
export function fromNumbers(dtype, shape, numbers) {
  if (numbers.length !== sizeOf(shape)) {
    throw new Error(`expected ${sizeOf(shape)} values for shape [${shape}], got ${numbers.length}`);
  }
  const Ctor = typedArrayFor(dtype);
  return { dtype, shape, data: Ctor === BigInt64Array ? Ctor.from(numbers, (n) => BigInt(Math.round(n))) : Ctor.from(numbers) };
}

/** Plain numbers of a Tensor (for JSON, display and comparison). */
export const toNumbers = (tensor) => Array.from(tensor.data, Number);

/** Build a Tensor from a visitor's values: strings kept as strings for a string input, else numbers. */
export function fromValues(dtype, shape, values) {
  if (dtype !== 'string') return fromNumbers(dtype, shape, values.map(Number));
  if (values.length !== sizeOf(shape)) {
    throw new Error(`expected ${sizeOf(shape)} strings for shape [${shape}], got ${values.length}`);
  }
  return { dtype, shape, data: values.map(String) };
}

/** Plain values of a Tensor: its strings for a string tensor, else numbers (for JSON and display). */
export const toValues = (tensor) => (tensor.dtype === 'string' ? Array.from(tensor.data, String) : toNumbers(tensor));

/**
 * Compare outputs with expected ones: |e - a| <= atol + rtol * |e| everywhere.
 * @returns {{ok: boolean, maxAbs: number, failures: string[]}}
 */
export function compare(expected, actual, atol, rtol) {
  let maxAbs = 0;
  const failures = [];
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    if (!got) { failures.push(`${name}: missing`); continue; }
    if (got.data.length !== want.data.length) {
      failures.push(`${name}: ${got.data.length} values, expected ${want.data.length}`);
      continue;
    }
    let bad = 0;
    if (want.dtype === 'string' || got.dtype === 'string') {
      // Text matches exactly or not at all: no tolerance means anything for strings.
      for (let i = 0; i < want.data.length; i++) if (String(want.data[i]) !== String(got.data[i])) bad++;
      if (bad) failures.push(`${name}: ${bad} of ${want.data.length} strings differ`);
      continue;
    }
    for (let i = 0; i < want.data.length; i++) {
      const e = Number(want.data[i]);
      const a = Number(got.data[i]);
      const err = Math.abs(e - a);
      if (!(err <= atol + rtol * Math.abs(e))) bad++;  // NaN counts as bad
      if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? Infinity : err;
    }
    if (bad) failures.push(`${name}: ${bad} of ${want.data.length} values off`);
  }
  return { ok: failures.length === 0, maxAbs, failures };
}

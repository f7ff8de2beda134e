// The stages after the model for a text embedding: pool the token vectors, normalise.
// The page's side of converter/tasks/pooling.py.

/** One text's vector from a [1, tokens, width] output: the mean over the mask, or the first token's. */
export function pool(tensor, mask, mode) {
  const [, tokens, width] = tensor.shape;
  const values = Array.from(tensor.data, Number);
  const row = (t) => values.slice(t * width, (t + 1) * width);
  if (mode === 'cls') return row(0);
  const sum = new Array(width).fill(0);
  let kept = 0;
  for (let t = 0; t < tokens; t++) {
    if (!mask[t]) continue;
    kept++;
    row(t).forEach((v, i) => { sum[i] += v; });
  }
  return sum.map((v) => v / Math.max(kept, 1));
}

/** The vector at unit length (a zero vector stays zero). */
export function normalize(vector) {
  const norm = Math.hypot(...vector);
  return norm > 0 ? vector.map((v) => v / norm) : vector;
}

/** Cosine similarity of two vectors (0 when either is zero). */
export function cosine(a, b) {
  const denominator = Math.hypot(...a) * Math.hypot(...b);
  return denominator > 0 ? a.reduce((sum, v, i) => sum + v * b[i], 0) / denominator : 0;
}

// The stages after the model for a classifier: softmax, then labels with scores.
// The page's side of converter/tasks/scores.py.

/** Softmax over a row of logits, in doubles. */
export function softmax(values) {
  const top = Math.max(...values);
  const exp = values.map((v) => Math.exp(v - top));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

/** Every class of the first example as {label, index, score}, best first (ties: class order). */
export function labelled(scores, labels) {
  return scores.map((score, index) => ({ label: labels ? labels[index] : `class ${index}`, index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}

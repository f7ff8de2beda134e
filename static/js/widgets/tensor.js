// Generic input: a JSON editor per input tensor, pre-filled with the sample input.

import { fromNumbers, toNumbers } from '../tensors.js';
import { golden } from '../backends.js';

export function mount(container, manifest, onInput) {
  const sample = golden(manifest).inputs;
  const editors = manifest.inputs.map((spec) => {
    const label = document.createElement('label');
    const dims = spec.shape.map((d) => d ?? '?').join(', ');
    label.textContent = `${spec.name} — ${spec.dtype} [${dims}], values as a flat or nested JSON array`;
    const area = document.createElement('textarea');
    area.spellcheck = false;
    area.value = JSON.stringify(toNumbers(sample[spec.name]).map((v) => Number(v.toPrecision(6))));
    label.append(area);
    container.append(label);
    return [spec, area];
  });
  const error = document.createElement('p');
  error.className = 'error';
  error.setAttribute('role', 'alert');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'primary';
  button.textContent = 'Run';
  button.addEventListener('click', () => {
    error.textContent = '';
    try {
      const feeds = {};
      for (const [spec, area] of editors) {
        const values = JSON.parse(area.value);
        feeds[spec.name] = fromNumbers(spec.dtype, shapeOf(spec, values, sample[spec.name]), [values].flat(Infinity).map(Number));
      }
      onInput(feeds);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  container.append(button, error);
}

/**
 * The shape of a visitor's values: a nested array's own when it has the input's
 * rank (a dynamic dimension, a sequence length say, takes any size), else the
 * sample input's, which fills the dynamic dimensions of a flat list.
 */
function shapeOf(spec, values, sample) {
  const nested = [];
  for (let v = values; Array.isArray(v); v = v[0]) nested.push(v.length);
  const fits = nested.length === spec.shape.length && spec.shape.every((d, i) => !Number.isInteger(d) || d === nested[i]);
  return fits ? nested : sample.shape;
}

// Generic input: a JSON editor per input tensor, pre-filled with the sample input.

import { fromValues, toValues } from '../tensors.js';
import { golden } from '../backends.js';

export function mount(container, manifest, onInput) {
  const sample = golden(manifest).inputs;
  const editors = manifest.inputs.map((spec) => {
    const label = document.createElement('label');
    const dims = spec.shape.map((d) => d ?? '?').join(', ');
    const what = spec.dtype === 'string' ? 'strings' : 'values';
    label.textContent = `${spec.name} — ${spec.dtype} [${dims}], ${what} as a flat or nested JSON array`;
    const area = document.createElement('textarea');
    area.spellcheck = false;
    const values = toValues(sample[spec.name]);
    area.value = JSON.stringify(spec.dtype === 'string' ? values : values.map((v) => Number(v.toPrecision(6))));
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
        feeds[spec.name] = fromValues(spec.dtype, shapeOf(spec, values, sample[spec.name]), [values].flat(Infinity));
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

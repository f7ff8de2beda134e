// Generic input: a JSON editor per input tensor, pre-filled with the sample input.

import { fromNumbers, toNumbers } from '../tensors.js';
import { golden } from '../backends.js';

export function mount(container, manifest, onInput) {
  const sample = golden(manifest).inputs;
  const editors = manifest.inputs.map((spec) => {
    const label = document.createElement('label');
    label.textContent = `${spec.name} — ${spec.dtype} [${spec.shape.join(', ')}], values as a flat or nested JSON array`;
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
        feeds[spec.name] = fromNumbers(spec.dtype, spec.shape, [values].flat(Infinity).map(Number));
      }
      onInput(feeds);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  container.append(button, error);
}

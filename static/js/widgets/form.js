// Tabular input: one labelled number field per feature, from the manifest.

import { fromNumbers } from '../tensors.js';

export function mount(container, manifest, onInput) {
  const spec = manifest.inputs[0];
  const form = document.createElement('form');
  form.className = 'features';
  const fields = manifest.features.map((feature, i) => {
    const input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.required = true;
    input.id = `feature-${i}`;
    input.name = feature.name;
    if (feature.min !== null) input.min = feature.min;
    if (feature.max !== null) input.max = feature.max;
    const middle = feature.min !== null && feature.max !== null ? (feature.min + feature.max) / 2 : 0;
    input.value = feature.default ?? middle;
    const label = document.createElement('label');
    label.htmlFor = input.id;
    label.textContent = feature.name;
    const range = document.createElement('span');
    range.className = 'range';
    if (feature.min !== null || feature.max !== null) range.textContent = `${feature.min ?? '−∞'} to ${feature.max ?? '∞'}`;
    const row = document.createElement('div');
    row.className = 'feature';
    row.append(label, input, range);
    form.append(row);
    return input;
  });
  const button = document.createElement('button');
  button.type = 'submit';
  button.className = 'primary';
  button.textContent = 'Predict';
  form.append(button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();  // nothing is submitted anywhere: the model runs here
    // One row of features: [1, features], whatever the model's batch dimension says.
    onInput({ [spec.name]: fromNumbers(spec.dtype, [1, fields.length], fields.map((f) => Number(f.value))) });
  });
  container.append(form);
}

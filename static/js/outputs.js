// Showing a model's outputs: top classes with bars for a classifier, values otherwise.

import { toValues } from './tensors.js';

const TOP_K = 5;
const MAX_VALUES = 200;

function topK(values, labels, container) {
  const order = values.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, TOP_K);
  const list = document.createElement('ol');
  list.className = 'topk';
  for (const [score, index] of order) {
    const item = document.createElement('li');
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = labels ? labels[index] : `class ${index}`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    bar.append(fill);
    const value = document.createElement('span');
    value.className = 'score';
    value.textContent = score.toFixed(3);
    item.append(label, bar, value);
    list.append(item);
  }
  container.append(list);
}

function named(values, labels, container) {
  const table = document.createElement('table');
  table.className = 'named';
  values.forEach((value, i) => {
    const row = table.insertRow();
    row.insertCell().textContent = labels[i];
    row.insertCell().textContent = Number(value.toPrecision(6)).toString();
  });
  container.append(table);
}

function downloadLink(outputs) {
  const data = Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { shape: t.shape, data: toValues(t) }]));
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([JSON.stringify(data)], { type: 'application/json' }));
  link.download = 'outputs.json';
  link.textContent = 'Download the outputs (JSON)';
  link.className = 'download';
  return link;
}

/** Render `outputs` (name -> tensor) into `container`, as the manifest's task says. */
export function render(manifest, outputs, container) {
  container.replaceChildren();
  for (const [name, tensor] of Object.entries(outputs)) {
    const values = toValues(tensor);
    const strings = tensor.dtype === 'string';  // shown as they are: text, not numbers
    if (manifest.task === 'classification' && !strings) {
      topK(values, manifest.labels, container);
      continue;
    }
    if (manifest.labels && manifest.labels.length === values.length && !strings) {
      named(values, manifest.labels, container);
      continue;
    }
    const heading = document.createElement('h3');
    heading.textContent = `${name} [${tensor.shape.join(', ')}]`;
    const pre = document.createElement('pre');
    pre.className = 'values';
    const shown = values.slice(0, MAX_VALUES).map((v) => (strings ? v : Number(v.toPrecision(6))));
    pre.textContent = JSON.stringify(shown) + (values.length > MAX_VALUES ? ` … (${values.length} values)` : '');
    container.append(heading, pre);
  }
  if (manifest.task !== 'classification') container.append(downloadLink(outputs));
}

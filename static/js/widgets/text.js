// Text input, for a site whose manifest has a text pipeline: type, paste or drop
// a .txt file. The text is tokenized in the inference worker (tasks/pipeline.js);
// the answer shows the labels with their scores, the tokens on request, and
// says when the text was cut to what the model reads.

const TOP_K = 5;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Mount the text box; `onText(text)` runs the pipeline and shows the answer (main.js). */
export function mount(container, manifest, onText) {
  const root = element('div', 'text-widget');
  const label = element('label', '', 'Text (type, paste, or drop a .txt file)');
  const area = element('textarea');
  area.id = 'text-input';
  area.rows = 6;
  area.value = manifest.pipeline.sampleText;
  label.append(area);
  const file = document.createElement('input');
  file.type = 'file';
  file.id = 'text-file';
  file.accept = '.txt,text/plain';
  const fileLabel = element('label', '', 'Or open a .txt file ');
  fileLabel.append(file);
  const toggle = document.createElement('input');
  toggle.type = 'checkbox';
  toggle.id = 'show-tokens';
  const toggleLabel = element('label', 'toggle', ' Show tokens');
  toggleLabel.prepend(toggle);
  toggle.addEventListener('change', () => {
    for (const tokens of document.querySelectorAll('.tokens')) tokens.hidden = !toggle.checked;
  });
  const button = element('button', 'primary', 'Run');
  button.type = 'button';
  button.addEventListener('click', () => onText(area.value));
  const useFile = async (picked) => {
    if (!picked) return;
    area.value = await picked.text();
    onText(area.value);
  };
  file.addEventListener('change', () => useFile(file.files[0]));
  // A dropped file is read here: the browser must not open it in place of the page.
  area.addEventListener('dragover', (event) => event.preventDefault());
  area.addEventListener('drop', (event) => {
    const picked = event.dataTransfer?.files?.[0];
    if (!picked) return;
    event.preventDefault();
    useFile(picked);
  });
  root.append(label, fileLabel, toggleLabel, button);
  container.append(root);
}

/** Show one answer ({labels, tokens, ids, truncated}) in `container`. */
export function render(manifest, answer, container) {
  container.replaceChildren();
  const list = element('ol', 'topk');
  for (const { label, score } of answer.labels.slice(0, TOP_K)) {
    const item = element('li');
    const bar = element('span', 'bar');
    const fill = element('span');
    fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    bar.append(fill);
    item.append(element('span', 'label', label), bar, element('span', 'score', score.toFixed(3)));
    list.append(item);
  }
  container.append(list);
  const stage = manifest.pipeline.stages[0];
  if (answer.truncated) {
    container.append(element('p', 'truncated', `The text was cut to ${stage.maxLength} tokens: the model reads no more than that, so the rest was not used.`));
  }
  const tokens = element('p', 'tokens');
  tokens.hidden = !document.getElementById('show-tokens')?.checked;
  tokens.append(element('span', '', `${answer.tokens.length} tokens: `));
  answer.tokens.forEach((token, i) => {
    const piece = element('code', '', token);
    piece.title = `id ${answer.ids[i]}`;
    tokens.append(piece, ' ');
  });
  container.append(tokens);
}

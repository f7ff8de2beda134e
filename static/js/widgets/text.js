// Text input, for a site whose manifest has a text pipeline: type, paste or drop
// a .txt file. The text is tokenized in the inference worker (tasks/pipeline.js).
// A classifier's answer shows the labels with their scores; an embedding's, one
// text per line, each vector and their cosine similarities, with a download; a
// token classifier's, the entities marked in the text, with their types and scores.
// Both show the tokens on request and say when a text was cut to what the
// model reads.

import { element } from './dom.js';

const TOP_K = 5;

/** Mount the text box; `onText(text)` runs the pipeline and shows the answer (main.js). */
export function mount(container, manifest, onText) {
  const root = element('div', 'text-widget');
  const embedding = manifest.pipeline.task === 'text-embedding';
  const label = element('label', '', embedding ? 'Texts, one per line, to compare (type, paste, or drop a .txt file)'
    : 'Text (type, paste, or drop a .txt file)');
  const area = element('textarea');
  area.id = 'text-input';
  area.rows = 6;
  area.value = embedding ? `${manifest.pipeline.sampleText}\nNothing typed here is sent anywhere.` : manifest.pipeline.sampleText;
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
    // The widget's own root: in <webml-model> that is its shadow root, not the document.
    for (const tokens of root.getRootNode().querySelectorAll('.tokens')) tokens.hidden = !toggle.checked;
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

/** The texts one run takes from the box: the whole text, or for an embedding each line. */
export function texts(manifest, value) {
  if (manifest.pipeline.task !== 'text-embedding') return [value];
  const lines = value.split('\n').filter((line) => line.trim());
  return lines.length ? lines : [value];
}

function scoresList(answer) {
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
  return list;
}

function tokensOf(answer, shown) {
  const tokens = element('p', 'tokens');
  tokens.hidden = !shown;
  tokens.append(element('span', '', `${answer.tokens.length} tokens: `));
  answer.tokens.forEach((token, i) => {
    const piece = element('code', '', token);
    piece.title = `id ${answer.ids[i]}`;
    tokens.append(piece, ' ');
  });
  return tokens;
}

const short = (text) => (text.length > 60 ? `${text.slice(0, 57)}…` : text);
const dot = (a, b) => a.reduce((sum, v, i) => sum + v * b[i], 0);

/** Each text's vector (its first values), their cosine similarities, and a download. */
function embeddings(answers, container) {
  for (const answer of answers) {
    const shown = answer.embedding.slice(0, 8).map((v) => v.toFixed(4)).join(', ');
    container.append(element('p', 'vector', `${short(answer.text)} → [${shown}${answer.embedding.length > 8 ? ', …' : ''}] (${answer.embedding.length} values)`));
  }
  if (answers.length > 1) {
    // The vectors are normalised: a dot product is their cosine similarity.
    const table = element('table', 'similarity');
    table.createCaption().textContent = 'Cosine similarity';
    const head = table.createTHead().insertRow();
    head.append(element('th'));
    answers.forEach((_, j) => head.append(element('th', '', `${j + 1}`)));
    const body = table.createTBody();
    answers.forEach((a, i) => {
      const row = body.insertRow();
      row.append(element('th', '', `${i + 1}. ${short(a.text)}`));
      answers.forEach((b) => { row.insertCell().textContent = dot(a.embedding, b.embedding).toFixed(3); });
    });
    container.append(table);
  }
  const link = element('a', 'download', 'Download the vectors (JSON)');
  link.href = URL.createObjectURL(new Blob([JSON.stringify(answers.map((a) => ({ text: a.text, embedding: a.embedding })))], { type: 'application/json' }));
  link.download = 'embeddings.json';
  container.append(link);
}

/**
 * The text with its entities marked in place (those whose characters were found),
 * and a table of every entity: its text, type and score.
 */
function marked(answer, container) {
  const located = answer.entities.filter((e) => e.chars).sort((a, b) => a.chars[0] - b.chars[0]);
  const paragraph = element('p', 'entities-text');
  let at = 0;
  for (const entity of located) {
    if (entity.chars[0] < at) continue;
    paragraph.append(answer.text.slice(at, entity.chars[0]));
    const mark = element('mark', 'entity', answer.text.slice(...entity.chars));
    mark.dataset.label = entity.label;
    mark.title = `${entity.label} ${entity.score.toFixed(3)}`;
    mark.append(element('span', 'tag', ` ${entity.label}`));
    paragraph.append(mark);
    at = entity.chars[1];
  }
  paragraph.append(answer.text.slice(at));
  container.append(paragraph);
  if (!answer.entities.length) {
    container.append(element('p', 'no-entities', 'No entities found.'));
    return;
  }
  const table = element('table', 'entities');
  const head = table.createTHead().insertRow();
  for (const name of ['Entity', 'Type', 'Score']) head.append(element('th', '', name));
  const body = table.createTBody();
  for (const entity of answer.entities) {
    const row = body.insertRow();
    row.insertCell().textContent = entity.text ?? answer.tokens.slice(entity.start, entity.end).join(' ');
    row.insertCell().textContent = entity.label;
    row.insertCell().textContent = entity.score.toFixed(3);
  }
  container.append(table);
}

/** Show the answers ({text, labels, embedding, tokens, ids, truncated}) in `container`. */
export function render(manifest, answers, container) {
  container.replaceChildren();
  if (manifest.pipeline.task === 'text-embedding') embeddings(answers, container);
  else if (manifest.pipeline.task === 'token-classification') marked(answers[0], container);
  else container.append(scoresList(answers[0]));
  const stage = manifest.pipeline.stages[0];
  const cut = answers.filter((a) => a.truncated);
  if (cut.length) {
    const which = answers.length > 1 ? `${cut.length} of the ${answers.length} texts were` : 'The text was';
    container.append(element('p', 'truncated', `${which} cut to ${stage.maxLength} tokens: the model reads no more than that, so the rest was not used.`));
  }
  const shown = container.getRootNode().querySelector('#show-tokens')?.checked;
  for (const answer of answers) container.append(tokensOf(answer, shown));
}

// The batch panel: many inputs at once, scored in the page. A CSV or JSONL of
// rows for a tabular site, pictures (several files, a folder, or a drop) for an
// image site, a .txt of one text per line for a text site. The answers fill a
// table as they come (the first SHOWN rows; every row stays in memory for the
// download), with a progress bar, a cancel button, and CSV and JSON downloads
// made in the page (a Blob's object URL: nothing is sent anywhere). The model
// runs in the inference worker; parsing and the run loop are ../batch.js.

import { answerCells, plan, readLines, readRows, runAll, stack, tensorRunner, toCsv, toJson } from '../batch.js';
import { canvasToTensor, fitToCanvas } from '../preprocess.js';
import { encodeArray, fromNumbers } from '../tensors.js';
import { element } from './dom.js';

const SHOWN = 100;  // table rows in the page; the downloads hold every row

/** What kind of batch a site takes: 'rows', 'images', 'texts', or null (none). */
export function kindOf(manifest) {
  if (manifest.pipeline) return 'texts';
  if (manifest.detection || manifest.audio) return null;  // one input at a time, their own widgets
  if (manifest.features && manifest.inputs.length === 1) return 'rows';
  if (manifest.preprocess?.kind === 'image' && manifest.inputs.length === 1) return 'images';
  return null;
}

const isPicture = (f) => f.type.startsWith('image/') || /\.(png|jpe?g|gif|bmp|webp)$/i.test(f.name);

/**
 * Mount the batch panel into `container` for the loaded `model` (model.js).
 * `want` (the page's ?batch=) asks for smaller chunks, or one input at a time.
 * Returns the panel's handle (`window.webml.batch`), or null for a site that
 * takes no batch.
 */
export function mount(container, model, { want = null } = {}) {
  const { manifest } = model;
  const kind = kindOf(manifest);
  if (!kind) return null;
  const spec = manifest.inputs[0];
  const features = manifest.features?.map((f) => f.name);
  const pre = manifest.preprocess;

  const file = document.createElement('input');
  file.type = 'file';
  file.id = 'batch-file';
  file.accept = { rows: '.csv,.jsonl,text/csv', images: 'image/*', texts: '.txt,text/plain' }[kind];
  file.multiple = kind === 'images';
  const choose = element('label', '', { rows: 'A CSV or JSONL of rows ', images: 'Pictures ', texts: 'A .txt file, one text per line ' }[kind]);
  choose.append(file);
  const controls = element('div', 'actions');
  controls.append(choose);
  if (kind === 'images') {
    const folder = document.createElement('input');
    folder.type = 'file';
    folder.id = 'batch-folder';
    folder.webkitdirectory = true;
    folder.addEventListener('change', () => take(folder));
    const folderLabel = element('label', '', 'or a folder ');
    folderLabel.append(folder);
    controls.append(folderLabel);
  }
  const cancel = element('button', '', 'Cancel');
  cancel.type = 'button';
  cancel.id = 'batch-cancel';
  cancel.disabled = true;
  controls.append(cancel);
  const hint = element('p', 'drop-hint', kind === 'rows'
    ? `or drop the file here. The header names the ${features.length} features, in any order: ${features.join(', ')}.`
    : kind === 'images' ? 'or drop pictures here.' : 'or drop the file here.');
  const progress = document.createElement('progress');
  progress.id = 'batch-progress';
  progress.max = 1;
  progress.value = 0;
  progress.hidden = true;
  const status = element('p', 'batch-status');
  status.id = 'batch-status';
  status.setAttribute('aria-live', 'polite');
  const error = element('p', 'batch-error');
  error.id = 'batch-error';
  error.setAttribute('role', 'alert');
  error.hidden = true;
  const table = element('table', 'batch-results');
  table.id = 'batch-results';
  const wrap = element('div', 'batch-table');
  wrap.append(table);
  const more = element('p', 'drop-hint');
  more.id = 'batch-more';
  const downloads = element('div', 'actions');
  downloads.hidden = true;
  const csvLink = element('a', 'download', 'Download the answers (CSV)');
  csvLink.id = 'batch-csv';
  csvLink.download = 'answers.csv';
  const jsonLink = element('a', 'download', 'Download the answers (JSON)');
  jsonLink.id = 'batch-json';
  jsonLink.download = 'answers.json';
  downloads.append(csvLink, jsonLink);
  container.append(element('h2', '', 'Many inputs'), controls, hint, progress, status, error, wrap, more, downloads);
  container.hidden = false;

  const state = { status: 'idle', done: 0, total: 0, size: 1, calls: 0, ms: 0, perSecond: 0, error: null };
  let run = { inputs: [], answers: [], columns: [], cells: [] };
  let controller = null;
  let urls = [];
  let current = 0;  // the run now shown: a file chosen mid-run cancels the one before

  const reset = () => {
    controller?.abort();
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
    run = { inputs: [], answers: [], columns: [], cells: [] };
    Object.assign(state, { status: 'idle', done: 0, total: 0, calls: 0, ms: 0, perSecond: 0, error: null });
    table.replaceChildren();
    more.textContent = status.textContent = '';
    error.hidden = downloads.hidden = progress.hidden = true;
  };

  const fail = (message) => {
    state.status = 'error';
    state.error = message;
    error.textContent = message;
    error.hidden = false;
    progress.hidden = true;
    cancel.disabled = true;
  };

  // The items to run and what the table shows of each input.
  async function itemsOf(files) {
    if (kind === 'images') {
      const pictures = files.filter(isPicture);
      if (!pictures.length) throw new Error('none of these files is a picture (PNG, JPEG, GIF, BMP, WebP)');
      return { items: pictures, inputColumns: ['file'], shown: (f) => [f.webkitRelativePath || f.name] };
    }
    const text = await files[0].text();
    if (kind === 'texts') {
      const lines = readLines(text);
      return { items: lines, inputColumns: ['text'], shown: (t) => [t] };
    }
    const { rows } = readRows(text, features, /\.jsonl$/i.test(files[0].name) ? 'jsonl' : 'csv');
    return { items: rows, inputColumns: features, shown: (r) => r };
  }

  function runnerFor(chunk) {
    if (kind === 'texts') {
      return async (texts) => [await model.runText(texts[0])];
    }
    const feedOf = kind === 'rows'
      ? (row) => ({ [spec.name]: fromNumbers(spec.dtype, [1, row.length], row) })
      : async (picture) => {
        const bitmap = await createImageBitmap(picture);
        return { [spec.name]: canvasToTensor(fitToCanvas(bitmap, pre.width, pre.height), pre, spec) };
      };
    const counted = async (feeds) => { state.calls++; return model.run(feeds); };
    return tensorRunner(feedOf, counted, chunk);
  }

  function cellsOf(answer) {
    if (kind !== 'texts') return answerCells(manifest, answer);
    const top = answer.labels?.[0];
    if (top) return { columns: ['label', 'score'], cells: [top.label, top.score] };
    if (answer.embedding) return { columns: answer.embedding.map((_, i) => `embedding:${i}`), cells: answer.embedding };
    return { columns: ['entities'], cells: [JSON.stringify(answer.entities ?? [])] };
  }

  function addRows(inputs, answers, shown) {
    for (let i = 0; i < answers.length; i++) {
      const { columns, cells } = cellsOf(answers[i]);
      if (!run.columns.length) {
        run.columns = [...run.inputColumns, ...columns];
        const head = table.createTHead().insertRow();
        for (const name of run.columns) head.append(element('th', '', name));
        table.createTBody();
      }
      const row = [...shown(inputs[i]), ...cells];
      run.cells.push(row);
      if (run.cells.length <= SHOWN) {
        const tr = table.tBodies[0].insertRow();
        for (const value of row) tr.insertCell().textContent = typeof value === 'number' ? Number(value.toPrecision(6)).toString() : String(value);
      }
    }
  }

  function offerDownloads() {
    if (!run.cells.length) return;
    const link = (a, body, type) => {
      a.href = URL.createObjectURL(new Blob([body], { type }));
      urls.push(a.href);
    };
    link(csvLink, toCsv(run.columns, run.cells), 'text/csv');
    link(jsonLink, toJson(run.columns, run.cells), 'application/json');
    downloads.hidden = false;
  }

  async function start(files) {
    reset();
    const mine = ++current;
    const began = performance.now();  // reading the file counts in the rate too
    let prepared;
    try {
      prepared = await itemsOf(files);
    } catch (e) {
      return mine === current && fail(e.message);
    }
    if (mine !== current) return;
    const { items, inputColumns, shown } = prepared;
    run.inputColumns = inputColumns;
    run.inputs = items;
    const values = kind === 'rows' ? features.length : kind === 'images' ? pre.width * pre.height * pre.channels : 1;
    const chunk = kind === 'texts' ? { size: 1, pad: false } : plan(manifest, model.backend, { want, values });
    Object.assign(state, { status: 'running', total: items.length, size: chunk.size });
    controller = new AbortController();
    cancel.disabled = false;
    progress.hidden = false;
    progress.value = 0;
    const noun = { rows: 'rows', images: 'pictures', texts: 'texts' }[kind];
    const say = () => {
      state.ms = performance.now() - began;
      state.perSecond = state.done / Math.max(state.ms / 1000, 1e-3);
      status.textContent = `${state.done} of ${state.total} ${noun} on ${model.backend}, ${chunk.size === 1 ? 'one at a time' : `${chunk.size} a run`}: ${Math.round(state.perSecond)} a second`;
    };
    try {
      const { cancelled } = await runAll(items, chunk.size, runnerFor(chunk), {
        signal: controller.signal,
        onAnswers: (answers, at, done) => {
          if (mine !== current) return;
          run.answers.push(...answers);
          addRows(items.slice(at, at + answers.length), answers, shown);
          state.done = done;
          progress.value = done / items.length;
          say();
        },
      });
      if (mine !== current) return;
      say();
      state.status = cancelled ? 'cancelled' : 'done';
      if (cancelled) status.textContent += ` · cancelled: ${state.total - state.done} not run`;
    } catch (e) {
      if (mine !== current) return;
      fail(`Stopped after ${state.done} of ${state.total} ${noun}: ${e.message}`);
    }
    cancel.disabled = true;
    progress.hidden = true;
    more.textContent = run.cells.length > SHOWN ? `The table shows the first ${SHOWN} of ${run.cells.length}; the downloads have every one.` : '';
    offerDownloads();
  }

  // Emptied once taken: the same file chosen again (edited since) runs again.
  const take = (input) => { const files = [...input.files]; input.value = ''; if (files.length) start(files); };
  file.addEventListener('change', () => take(file));
  cancel.addEventListener('click', () => controller?.abort());
  // Every file dropped (dom.js's takeDroppedFiles takes one).
  container.addEventListener('dragover', (e) => { e.preventDefault(); container.classList.add('dragging'); });
  container.addEventListener('dragleave', () => container.classList.remove('dragging'));
  container.addEventListener('drop', (e) => {
    e.preventDefault();
    container.classList.remove('dragging');
    const dropped = [...e.dataTransfer.files];
    if (dropped.length) start(dropped);
  });

  /**
   * What ran, for `webml verify --input rows.csv` and the tests: rows as float64 and
   * outputs stacked on the first axis, encoded as the manifest encodes arrays (one
   * base64 string each: 10,000 rows cross to Playwright in a blink), pictures by name.
   */
  function result() {
    const outputs = {};
    const count = run.answers.length;
    if (kind !== 'texts') {
      for (const name of Object.keys(run.answers[0] ?? {})) {
        const parts = run.answers.map((a) => a[name]);
        outputs[name] = encodeArray({ dtype: parts[0].dtype, shape: [count, ...parts[0].shape.slice(1)], data: stack(parts.map((t) => ({ t })), count).t.data });
      }
    }
    const done = run.inputs.slice(0, count);
    return {
      status: state.status, error: state.error, size: state.size, calls: state.calls, ms: state.ms,
      inputs: kind === 'rows' ? encodeArray({ dtype: 'float64', shape: [count, features.length], data: Float64Array.from(done.flat()) })
        : done.map((x) => (typeof x === 'string' ? x : x.webkitRelativePath || x.name)),
      columns: run.columns, outputs,
    };
  }

  return { kind, state, reset, result, start, cancel: () => controller?.abort() };
}

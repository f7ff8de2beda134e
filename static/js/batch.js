// Batch scoring: many inputs at once. Reading rows (CSV, JSONL) and matching their
// columns to the manifest's features, the run loop (chunks of the batch the
// manifest says the model takes, or one input at a time), and writing inputs
// and answers as CSV or JSON. No DOM and no runtime here: node and the tests
// import this module as it is, and widgets/batch.js draws it.
//
// The rules for rows are webapp/verify_batch.py's too, rule for rule (a CSV as
// Python's csv module reads it with strict=True; numbers as NUMBER below; one
// message for missing and extra columns): tests/unit/test_batch_rows.py feeds
// both the same files.

/** A file the batch cannot read: `message` names what and where, `hint` the fix. */
export class BatchError extends Error {
  constructor(message, hint) {
    super(hint ? `${message} (${hint})` : message);
    this.detail = message;
    this.hint = hint;
  }
}

// A decimal number, as written in a CSV cell or a JSON string: no NaN, no
// infinity, no hex, no thousands separators; spaces around it are ignored.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// The spaces trimmed around a cell or a column name: ASCII ones only (Python's
// str.strip and JavaScript's trim disagree about the others).
const trim = (text) => String(text).replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, '');

/** The number a cell holds, or null when it holds none (empty, a word, NaN, too large). */
export function parseNumber(text) {
  const trimmed = trim(text);
  if (!NUMBER.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

/**
 * The records of a CSV text (RFC 4180: commas, double quotes, "" for a quote,
 * quoted newlines), as Python's csv.reader reads it with strict=True: a quote is
 * special only at the start of a field, and an empty line is no record.
 * @returns {string[][]}
 */
export function parseCsv(text) {
  const records = [];
  let record = [];
  let field = '';
  let state = 'record';  // record (a line's start) | start (a field's) | field | quoted | quote
  let line = 1;
  const save = () => { record.push(field); field = ''; };
  const finish = () => {  // an empty line is no record
    if (state !== 'record') { save(); records.push(record); }
    record = [];
    state = 'record';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const newline = c === '\n' || c === '\r';
    if (newline) {
      if (c === '\r' && text[i + 1] === '\n') i++;
      line++;
    }
    if (state === 'quoted') {
      if (c === '"') state = 'quote';
      else field += newline ? text.slice(c === '\r' && text[i] === '\n' ? i - 1 : i, i + 1) : c;
    } else if (state === 'quote' && c === '"') {
      field += '"';
      state = 'quoted';
    } else if (c === ',') {
      save();
      state = 'start';
    } else if (newline) {
      finish();
    } else if (state === 'quote') {
      throw new BatchError(`line ${line}: a character after a closing quote`, 'quote the whole field, and write a quote inside it as ""');
    } else if (c === '"' && state !== 'field') {
      state = 'quoted';
    } else {
      field += c;
      state = 'field';
    }
  }
  if (state === 'quoted') throw new BatchError('a quoted field never ends', 'close its quote');
  finish();
  return records;
}

/**
 * Where each feature is among a header's columns. Names are matched exactly,
 * after trimming spaces; every feature must be there once and nothing else.
 * @returns {number[]} for each feature, the index of its column
 */
export function matchColumns(header, features, where = 'the file') {
  const names = header.map(trim);
  const wanted = new Set(features);
  const seen = new Map();
  const repeated = [];
  names.forEach((name, i) => { if (seen.has(name)) repeated.push(name); else seen.set(name, i); });
  const missing = features.filter((f) => !seen.has(f));
  const extra = names.filter((n) => !wanted.has(n));
  if (!missing.length && !extra.length && !repeated.length) return features.map((f) => seen.get(f));
  const quoted = (list) => list.map((n) => JSON.stringify(n)).join(', ');
  const parts = [];
  if (missing.length) parts.push(`missing column${missing.length > 1 ? 's' : ''} ${quoted(missing)}`);
  if (extra.length) parts.push(`extra column${extra.length > 1 ? 's' : ''} ${quoted(extra)}`);
  if (repeated.length) parts.push(`repeated column${repeated.length > 1 ? 's' : ''} ${quoted(repeated)}`);
  throw new BatchError(`${where}: ${parts.join('; ')}`,
    `name each of the model's ${features.length} features once, in any order: ${quoted(features)}`);
}

/**
 * Rows of numbers from a CSV (a header, then one row per line) or a JSONL text
 * (one object per line, a feature -> number or numeric string), in the
 * features' order.
 * @returns {{columns: string[], rows: number[][]}}
 */
export function readRows(text, features, format) {
  if (format === 'jsonl') return readJsonl(text, features);
  const [header, ...records] = parseCsv(text);
  if (!header) throw new BatchError('the file has no header', `its first line names the columns: ${features.join(', ')}`);
  const order = matchColumns(header, features, 'the header');
  const rows = records.map((record, r) => {
    if (record.length !== header.length) {
      throw new BatchError(`row ${r + 1}: ${record.length} fields, the header has ${header.length}`, 'give every row one value per column');
    }
    return order.map((column, f) => cell(record[column], `row ${r + 1}, column ${JSON.stringify(features[f])}`));
  });
  return { columns: features.slice(), rows };
}

function readJsonl(text, features) {
  const rows = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!trim(line)) return;
    let item;
    try {
      item = JSON.parse(line);
    } catch {
      item = undefined;
    }
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new BatchError(`line ${i + 1}: not a JSON object`, 'write one {"feature": number, ...} per line');
    }
    const order = matchColumns(Object.keys(item), features, `line ${i + 1}`);
    const values = Object.values(item);
    rows.push(order.map((k, f) => cell(values[k], `line ${i + 1}, ${JSON.stringify(features[f])}`)));
  });
  return { columns: features.slice(), rows };
}

function cell(value, where) {
  const number = typeof value === 'number' ? (Number.isFinite(value) ? value : null)
    : typeof value === 'string' ? parseNumber(value) : null;
  if (number === null) {
    throw new BatchError(`${where}: ${JSON.stringify(value ?? null)} is not a number`, 'write a decimal number such as 12.5 or -3e-2');
  }
  return number;
}

/** One text per line (a blank line is no text), for a site with a text pipeline. */
export const readLines = (text) => text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim());

// A dynamic batch: rows per call, and at most this many input values per call
// (a picture is many values: fewer of them go in one call).
export const DYNAMIC_ROWS = 256;
const DYNAMIC_VALUES = 1 << 20;

/**
 * How many inputs one call takes on `backend`, from the manifest's `batch`
 * (written by Python: converter/batch.py): any number for a backend listed as
 * dynamic, exactly `size` otherwise (the last call padded), one at a time
 * without it. `want` (the page's ?batch=) asks for fewer, or for one.
 * @returns {{size: number, pad: boolean}}
 */
export function plan(manifest, backend, { want = null, values = 1 } = {}) {
  const batch = manifest.batch;
  if (!batch) return { size: 1, pad: false };
  if (batch.dynamic.includes(backend)) {
    const most = Math.max(1, Math.min(DYNAMIC_ROWS, Math.floor(DYNAMIC_VALUES / Math.max(1, values))));
    return { size: want ? Math.max(1, Math.min(want, most)) : most, pad: false };
  }
  return { size: batch.size, pad: batch.size > 1 };
}

/**
 * Stack inputs (each name -> a tensor whose first dimension is 1) into one
 * feed of `size` along the first dimension; `pad` repeats the last input up to
 * `size` (a model that takes exactly that batch).
 */
export function stack(items, size = items.length) {
  const count = Math.max(size, items.length);
  const feeds = {};
  for (const [name, first] of Object.entries(items[0])) {
    const one = first.data.length;
    const Ctor = first.data.constructor;
    const data = Ctor === Array ? new Array(one * count) : new Ctor(one * count);
    for (let i = 0; i < count; i++) {
      const part = items[Math.min(i, items.length - 1)][name].data;
      if (Ctor === Array) for (let k = 0; k < one; k++) data[i * one + k] = part[k];
      else data.set(part, i * one);
    }
    feeds[name] = { dtype: first.dtype, shape: [count, ...first.shape.slice(1)], data };
  }
  return feeds;
}

/** The first `count` answers of a batched run: each output split along its first dimension. */
export function split(outputs, count) {
  const answers = Array.from({ length: count }, () => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    const rows = t.shape[0];
    if (count === 1 && rows !== 1) { answers[0][name] = t; continue; }  // no batch dimension
    if (rows < count) throw new Error(`output ${name} has ${rows} rows for ${count} inputs`);
    const one = t.data.length / rows;
    for (let i = 0; i < count; i++) {
      answers[i][name] = { dtype: t.dtype, shape: [1, ...t.shape.slice(1)], data: t.data.slice(i * one, (i + 1) * one) };
    }
  }
  return answers;
}

/**
 * Run `items` in chunks of `size`: `runChunk(chunk, start)` answers one chunk
 * (an array, one answer per item); `onAnswers(answers, start, done)` hears of
 * each. Stops before the next chunk once `signal` is aborted.
 * @returns {Promise<{answers: any[], cancelled: boolean}>}
 */
export async function runAll(items, size, runChunk, { signal, onAnswers } = {}) {
  const answers = [];
  for (let start = 0; start < items.length; start += size) {
    if (signal?.aborted) break;
    const got = await runChunk(items.slice(start, start + size), start);
    answers.push(...got);
    onAnswers?.(got, start, answers.length);
  }
  return { answers, cancelled: answers.length < items.length };
}

/**
 * A chunk runner over tensors: `feedOf(item)` makes an item's feeds (first
 * dimension 1), `run(feeds)` runs the model once on the stacked chunk.
 */
export function tensorRunner(feedOf, run, { size, pad }) {
  return async (chunk) => {
    const feeds = await Promise.all(chunk.map(feedOf));
    if (size === 1) return [await run(feeds[0])];
    return split(await run(stack(feeds, pad ? size : chunk.length)), chunk.length);
  };
}

const plainValues = (t) => Array.from(t.data, (v) => (typeof v === 'string' ? v : Number(v)));

/**
 * What a model's outputs say, as table cells: a classifier's label and score,
 * then every output value, named by the labels where they fit.
 * @returns {{columns: string[], cells: (number|string)[]}}
 */
export function answerCells(manifest, outputs) {
  const columns = [];
  const cells = [];
  const entries = Object.entries(outputs);
  if (manifest.task === 'classification' && entries.length) {
    const values = plainValues(entries[0][1]);
    let best = 0;
    values.forEach((v, i) => { if (v > values[best]) best = i; });
    columns.push('label', 'score');
    cells.push(manifest.labels?.[best] ?? `class ${best}`, values[best]);
  }
  for (const [name, t] of entries) {
    const values = plainValues(t);
    const labels = manifest.labels && manifest.labels.length === values.length ? manifest.labels : null;
    values.forEach((v, i) => {
      columns.push(values.length === 1 ? name : `${name}:${labels ? labels[i] : i}`);
      cells.push(v);
    });
  }
  return { columns, cells };
}

function csvField(value) {
  const text = typeof value === 'number' ? String(value) : String(value ?? '');
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV of a table: a header line, then a line per row (RFC 4180 quoting). */
export function toCsv(columns, rows) {
  return [columns, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** JSON of a table: one object per row, column -> value. */
export function toJson(columns, rows) {
  return JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]]))));
}

// Running a text pipeline in the page: raw text -> the final answer. It runs in
// the inference worker, next to the model. The page's side of
// converter/tasks/pipeline.py: `webml verify --input` compares the two.

import { importVerified } from '../manifest.js';
import { entities, offsets } from './entities.js';
import { normalize, pool } from './pooling.js';
import { labelled, softmax } from './scores.js';
import { encode, feeds, makeTokenizer } from './tokenize.js';

/**
 * A token's text as it stands in the original: without WordPiece's "##", with
 * SentencePiece's "▁" as a space, byte-level BPE's bytes decoded ('' when a
 * token is part of a character, whose bytes no single token holds).
 */
function surfaceOf(tokenizer, json) {
  const prefix = json.model?.continuing_subword_prefix;
  const byteLevel = JSON.stringify(json.pre_tokenizer ?? {}).includes('"ByteLevel"');
  return (token) => {
    let text = prefix && token.startsWith(prefix) ? token.slice(prefix.length) : token;
    text = text.replaceAll('\u2581', ' ');
    if (byteLevel && tokenizer.decoder) text = tokenizer.decoder([text]);
    return text.includes('\ufffd') ? '' : text;
  };
}

const sameIds = (a, b) => a.length === b.length && a.every((v, i) => Number(v) === Number(b[i]));

/**
 * Load the pinned tokenizer library and the site's tokenizer.json (`model`
 * holds the model files, checked), and check that the sample text tokenizes to
 * the golden input's ids, which the Python library made at convert time.
 */
export async function loadText({ manifest, model, baseUrl, fetchFiles }) {
  const pipeline = manifest.pipeline;
  const [stage, ...post] = pipeline.stages;
  if (!pipeline.library) throw new Error('the manifest names no tokenizer library: build the site with `webml build`');
  const [library] = await importVerified([pipeline.library], baseUrl, fetchFiles);
  const path = [...model.keys()].find((p) => p === stage.file || p.endsWith(`/${stage.file}`));
  if (!path) throw new Error(`the model files hold no ${stage.file}`);
  const tokenizer = makeTokenizer(library.Tokenizer, model.get(path));
  const surface = surfaceOf(tokenizer, JSON.parse(new TextDecoder().decode(model.get(path))));
  const expected = manifest.golden.inputs[stage.inputs.ids];
  const sample = encode(tokenizer, stage, pipeline.sampleText);
  const golden = Array.from(atob(expected.base64), (c) => c.charCodeAt(0));
  const view = new DataView(Uint8Array.from(golden).buffer);
  const width = expected.dtype === 'int64' ? 8 : 4;
  const row = Array.from({ length: expected.shape[1] }, (_, i) => (width === 8 ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true)));
  if (!sameIds(sample.ids, row)) {
    throw new Error(`the page's tokenizer gives other ids than Python's tokenizers for the sample text ([${sample.ids.slice(0, 8)}…], expected [${row.slice(0, 8)}…])`);
  }
  return {
    /** Tokenize `text`, run the model, and apply the stages after it. */
    async answer(text, run) {
      const encoded = encode(tokenizer, stage, text);
      const outputs = await run(feeds(stage, encoded));
      const output = Object.values(outputs)[0];
      const width = output.shape.at(-1);
      if (pipeline.task === 'text-embedding') {
        let embedding = Array.from(output.data, Number).slice(0, width);
        for (const step of post) {
          if (step.name === 'pool') embedding = pool(output, encoded.mask, step.mode);
          if (step.name === 'normalize') embedding = normalize(embedding);
        }
        return { encoded, outputs, labels: [], embedding };
      }
      if (pipeline.task === 'token-classification') {
        const values = Array.from(output.data, Number);
        let rows = encoded.ids.map((_, t) => values.slice(t * width, (t + 1) * width));
        if (post.some((step) => step.name === 'softmax')) rows = rows.map(softmax);
        const special = new Set(tokenizer.special_tokens);
        const keep = encoded.tokens.map((t, i) => encoded.mask[i] === 1 && !special.has(t));
        const spans = offsets(text, encoded.tokens, keep, surface);
        const found = entities(rows, manifest.labels, keep).map((e) => {
          const [first, last] = [spans[e.start], spans[e.end - 1]];
          return first && last ? { ...e, chars: [first[0], last[1]], text: text.slice(first[0], last[1]) } : e;
        });
        return { encoded, outputs, labels: [], entities: found };
      }
      let scores = Array.from(output.data, Number).slice(0, width);
      for (const step of post) if (step.name === 'softmax') scores = softmax(scores);
      return { encoded, outputs, labels: labelled(scores, manifest.labels) };
    },
  };
}

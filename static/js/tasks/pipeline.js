// Running a text pipeline in the page: raw text -> the final answer. It runs in
// the inference worker, next to the model. The page's side of
// converter/tasks/pipeline.py: `webml verify --input` compares the two.

import { importVerified } from '../manifest.js';
import { normalize, pool } from './pooling.js';
import { labelled, softmax } from './scores.js';
import { encode, feeds, makeTokenizer } from './tokenize.js';

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
      let scores = Array.from(output.data, Number).slice(0, width);
      for (const step of post) if (step.name === 'softmax') scores = softmax(scores);
      return { encoded, outputs, labels: labelled(scores, manifest.labels) };
    },
  };
}

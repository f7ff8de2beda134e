// The tokenize stage: text -> token ids (and mask, type ids), as the manifest's
// stage says. The page's side of converter/tasks/tokenize.py: the same
// truncation and padding, applied here around @huggingface/tokenizers, which
// reads tokenizer.json's normalizer, pre-tokenizer, model and post-processor
// but leaves truncation and padding to its caller.

// Rust's \w (the tokenizers library's Whitespace pre-tokenizer: \w+|[^\w\s]+) is Unicode.
const WHITESPACE_SPLIT = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\s]+/gu;
// The Python library's Punctuation, isolated (its default): each punctuation character alone.
const PUNCTUATION = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const PUNCTUATION_ISOLATED = new RegExp(`[^${PUNCTUATION}]+|[${PUNCTUATION}]`, 'gu');

/**
 * Where @huggingface/tokenizers 0.2.0 splits otherwise than the Python library,
 * give its pre-tokenizers (alone or in a Sequence) the Python library's split:
 * its Whitespace matches \w without the `u` flag, ASCII only ("café" became
 * "caf" + "é"); its Punctuation keeps a run of punctuation together ("<|"),
 * where the default behaviour isolates each character. (Behaviours it cannot
 * follow at all are refused at convert: converter/tasks/tokenize.py.)
 */
function pythonSplits(pre, config) {
  if (!pre || !config) return;
  if (config.type === 'Whitespace') pre.pre_tokenize_text = (text) => text.match(WHITESPACE_SPLIT) || [];
  if (config.type === 'Punctuation' && (config.behavior ?? 'Isolated') === 'Isolated') {
    pre.pre_tokenize_text = (text) => text.match(PUNCTUATION_ISOLATED) || [];
  }
  if (config.type === 'Sequence') (config.pretokenizers ?? []).forEach((c, i) => pythonSplits(pre.tokenizers?.[i], c));
}

/** A tokenizer from tokenizer.json's bytes, with the library's Tokenizer class. */
export function makeTokenizer(Tokenizer, bytes) {
  const json = JSON.parse(new TextDecoder().decode(bytes));
  const tokenizer = new Tokenizer(json, {});
  pythonSplits(tokenizer.pre_tokenizer, json.pre_tokenizer);
  return tokenizer;
}

/**
 * Tokenize one text: {ids, tokens, mask, typeIds, truncated}.
 * Truncation cuts the text's own tokens to maxLength less the special tokens the
 * post-processor adds, as the Python library does; then the post-processor runs.
 */
export function encode(tokenizer, stage, text) {
  let pieces = tokenizer.encode_text(text) ?? [];
  const post = (tokens) => (tokenizer.post_processor ? tokenizer.post_processor(tokens, null, true) : { tokens });
  let truncated = false;
  if (stage.maxLength != null) {
    const room = Math.max(0, stage.maxLength - post([]).tokens.length);
    if (pieces.length > room) {
      truncated = true;
      pieces = stage.direction === 'left' ? pieces.slice(pieces.length - room) : pieces.slice(0, room);
    }
  }
  const { tokens, token_type_ids: types } = post(pieces);
  const unk = tokenizer.model.unk_token_id;
  const encoded = {
    ids: tokens.map((t) => tokenizer.token_to_id(t) ?? unk),
    tokens: [...tokens],
    mask: tokens.map(() => 1),
    typeIds: types ? [...types] : tokens.map(() => 0),
    truncated,
  };
  return pad(encoded, stage.padding);
}

function pad(encoded, padding) {
  if (!padding) return encoded;
  const n = encoded.ids.length;
  let length = Math.max(n, padding.length ?? n);
  const multiple = padding.multipleOf;
  if (multiple && length % multiple) length += multiple - (length % multiple);
  const extra = length - n;
  if (!extra) return encoded;
  const fill = (values, value) => (padding.direction === 'left'
    ? [...Array(extra).fill(value), ...values] : [...values, ...Array(extra).fill(value)]);
  return {
    ids: fill(encoded.ids, padding.id),
    tokens: fill(encoded.tokens, padding.token),
    mask: fill(encoded.mask, 0),
    typeIds: fill(encoded.typeIds, padding.typeId),
    truncated: encoded.truncated,
  };
}

/** The model's inputs for one tokenized text: [1, tokens] each, in the stage's dtype. */
export function feeds(stage, encoded) {
  const tensor = (values) => ({
    dtype: stage.dtype,
    shape: [1, values.length],
    data: stage.dtype === 'int64' ? BigInt64Array.from(values, BigInt) : Int32Array.from(values),
  });
  const out = { [stage.inputs.ids]: tensor(encoded.ids) };
  if (stage.inputs.mask) out[stage.inputs.mask] = tensor(encoded.mask);
  if (stage.inputs.typeIds) out[stage.inputs.typeIds] = tensor(encoded.typeIds);
  return out;
}

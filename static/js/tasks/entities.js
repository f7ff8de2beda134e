// The stage after the model for token classification: entities from BIO tags.
// The page's side of converter/tasks/entities.py (the rules are written there).
// The page's tokenizer gives no character offsets: they are found here by
// looking for each token's text in the original, accents and case folded, so
// an entity can be highlighted in place; one not found is listed only.

export function splitTag(tag) {
  if (tag === 'O') return ['O', ''];
  if (tag.length > 2 && '-_'.includes(tag[1]) && 'BIES'.includes(tag[0])) {
    return [{ E: 'I', S: 'B' }[tag[0]] ?? tag[0], tag.slice(2)];
  }
  return ['I', tag];
}

/** Entities of one text from its [tokens, tags] scores (rows of numbers); `keep` marks real tokens. */
export function entities(rows, labels, keep) {
  const found = [];
  let current = null;
  rows.forEach((row, i) => {
    if (!keep[i]) { current = null; return; }
    let best = 0;
    row.forEach((v, j) => { if (v > row[best]) best = j; });
    const [prefix, kind] = splitTag(labels[best]);
    if (prefix === 'O') { current = null; return; }
    if (current && prefix === 'I' && current.label === kind) {
      current.end = i + 1;
      current.scores.push(row[best]);
      return;
    }
    current = { label: kind, start: i, end: i + 1, scores: [row[best]] };
    found.push(current);
  });
  return found.map(({ scores, ...entity }) => ({ ...entity, score: scores.reduce((a, b) => a + b, 0) / scores.length }));
}

const fold = (s) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();

/** Each token's [start, end) in `text`, or null where its text is not found there. */
export function offsets(text, tokens, keep, surface) {
  // The folded text, and for each of its code units the index in `text` it came from.
  let folded = '';
  const from = [];
  for (let i = 0; i < text.length;) {
    const char = String.fromCodePoint(text.codePointAt(i));
    const piece = fold(char);
    folded += piece;
    for (let k = 0; k < piece.length; k++) from.push([i, i + char.length]);
    i += char.length;
  }
  let cursor = 0;
  return tokens.map((token, i) => {
    const wanted = keep[i] ? fold(surface(token)).trim() : '';
    if (!wanted) return null;
    const at = folded.indexOf(wanted, cursor);
    if (at < 0) return null;
    cursor = at + wanted.length;
    return [from[at][0], from[cursor - 1][1]];
  });
}

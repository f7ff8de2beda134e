// Object detection in the page: the picture placed in the model's input, the
// head decoded to boxes, the score threshold and class-wise non-maximum
// suppression. The page's side of converter/tasks/detection.py, with the same
// arithmetic (float64, half-up rounding, stable order for equal scores), so
// that `webml verify --input photo.png` finds the same boxes in both.

/** Where a sourceW x sourceH picture goes in the model's input: scale per axis, then the offset. */
export function geometry(sourceW, sourceH, modelW, modelH, mode) {
  if (mode === 'stretch') return { scaleX: modelW / sourceW, scaleY: modelH / sourceH, padX: 0, padY: 0, width: modelW, height: modelH };
  const scale = Math.min(modelW / sourceW, modelH / sourceH);
  const width = Math.floor(sourceW * scale + 0.5);
  const height = Math.floor(sourceH * scale + 0.5);
  return { scaleX: width / sourceW, scaleY: height / sourceH, padX: Math.floor((modelW - width) / 2), padY: Math.floor((modelH - height) / 2), width, height };
}

/** Corner boxes (model pixels), scores and classes of the first picture; outputs: name -> {shape, data}. */
export function decode(outputs, stage) {
  if (stage.head === 'boxes') {
    const [b, s, c] = stage.outputs.map((name) => Array.from(outputs[name].data, Number));
    return { boxes: s.map((_, i) => b.slice(i * 4, i * 4 + 4)), scores: s, classes: c.map((v) => Math.round(v)) };
  }
  const { shape, data } = outputs[stage.outputs[0]];
  const values = Array.from(data, Number);
  const [a, b] = [shape[1], shape[2]];
  const [count, width] = stage.head === 'channels' ? [b, a] : [a, b];
  const at = stage.head === 'channels' ? (n, k) => values[k * b + n] : (n, k) => values[n * b + k];
  const boxes = [];
  const scores = [];
  const classes = [];
  for (let n = 0; n < count; n++) {
    const [cx, cy, w, h] = [at(n, 0), at(n, 1), at(n, 2), at(n, 3)];
    boxes.push([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]);
    let best = 0;
    for (let k = 1; k < width - 4; k++) if (at(n, 4 + k) > at(n, 4 + best)) best = k;
    scores.push(at(n, 4 + best));
    classes.push(best);
  }
  return { boxes, scores, classes };
}

/** Intersection over union of two corner boxes (0 when both are empty). */
export function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Indices kept, best first: score >= the threshold, then greedy NMS within each class. */
export function nms(boxes, scores, classes, scoreThreshold, iouThreshold) {
  const order = scores.map((_, i) => i).sort((i, j) => scores[j] - scores[i] || i - j)
    .filter((i) => scores[i] >= scoreThreshold);
  const kept = [];
  for (const i of order) {
    if (kept.every((k) => classes[k] !== classes[i] || iou(boxes[k], boxes[i]) <= iouThreshold)) kept.push(i);
  }
  return kept;
}

const clip = (value, limit) => Math.min(Math.max(value, 0), limit);

/** The detections in the picture's own pixels: {box: [x0, y0, x1, y1], score, class, label}. */
export function detect(outputs, pipeline, where, sourceW, sourceH, labels) {
  const stage = Object.fromEntries(pipeline.stages.map((s) => [s.name, s]));
  const { boxes, scores, classes } = decode(outputs, stage.decode);
  return nms(boxes, scores, classes, stage.nms.scoreThreshold, stage.nms.iouThreshold).map((i) => {
    const [x0, y0, x1, y1] = boxes[i];
    return {
      box: [clip((x0 - where.padX) / where.scaleX, sourceW), clip((y0 - where.padY) / where.scaleY, sourceH),
        clip((x1 - where.padX) / where.scaleX, sourceW), clip((y1 - where.padY) / where.scaleY, sourceH)],
      score: scores[i],
      class: classes[i],
      label: labels && classes[i] < labels.length ? labels[classes[i]] : `class ${classes[i]}`,
    };
  });
}

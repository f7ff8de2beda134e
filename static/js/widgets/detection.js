// Picture input for a detector (the manifest's `detection` section): pick, drop
// or paste a picture; it is placed in the model's input as the manifest says
// (letterbox or stretch), the model runs, and tasks/detection.js finds the
// boxes. The answer: the boxes drawn over the picture with labels and scores,
// a list of the detections, a JSON download, and a one-click blur of every
// box (faces, plates): the picture never leaves the page.

import { canvasToTensor } from '../preprocess.js';
import { detect, geometry } from '../tasks/detection.js';
import { element, takeDroppedFiles } from './dom.js';

const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

/** Mount the picture input; `onPicture(bitmap, name)` runs the model and shows the answer (main.js). */
export function mount(container, manifest, onPicture) {
  const root = element('div', 'image-widget detection-widget');
  const file = document.createElement('input');
  file.type = 'file';
  file.accept = 'image/*';
  file.id = 'image-file';
  const feed = async (blob) => onPicture(await createImageBitmap(blob), blob.name || 'picture');
  file.addEventListener('change', () => { if (file.files.length) feed(file.files[0]); });
  const label = element('label', '', 'Choose a picture ');
  label.append(file);
  root.append(label, element('p', 'drop-hint', 'or drop a picture here, or paste one'));
  takeDroppedFiles(root, (f) => f.type.startsWith('image/'), feed, { paste: true });
  container.append(root);
}

/** The picture placed in the model's input, the model run by `run(feeds)`, and the detections. */
export async function answer(manifest, picture, run) {
  const pre = manifest.preprocess;
  const spec = manifest.inputs[0];
  const resize = manifest.detection.stages.find((s) => s.name === 'resize');
  const where = geometry(picture.width, picture.height, pre.width, pre.height, resize.mode);
  const canvas = document.createElement('canvas');
  canvas.width = pre.width;
  canvas.height = pre.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = `rgb(${resize.fill}, ${resize.fill}, ${resize.fill})`;
  ctx.fillRect(0, 0, pre.width, pre.height);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(picture, where.padX, where.padY, where.width, where.height);
  const feeds = { [spec.name]: canvasToTensor(canvas, pre, spec) };
  const outputs = await run(feeds);
  const detections = detect(outputs, manifest.detection, where, picture.width, picture.height, manifest.labels);
  return { feeds, outputs, detections, where };
}

// A small picture is drawn this many times larger (its pixels kept sharp), so that
// labels and lines stay readable; a large one at its own size.
const MIN_SIDE = 320;

function draw(canvas, picture, detections, blur) {
  const k = Number(canvas.dataset.scale);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
  const line = Math.max(2, Math.round(Math.max(canvas.width, canvas.height) / 200));
  for (const d of detections) {
    const [x0, y0, x1, y1] = d.box.map((v) => v * k);
    if (blur) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0, y0, x1 - x0, y1 - y0);
      ctx.clip();
      ctx.filter = `blur(${Math.max(4, Math.round((x1 - x0) / 6))}px)`;
      ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
      ctx.restore();
      continue;
    }
    const colour = COLOURS[d.class % COLOURS.length];
    ctx.strokeStyle = colour;
    ctx.lineWidth = line;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const text = `${d.label} ${d.score.toFixed(2)}`;
    ctx.font = `${Math.max(10, line * 6)}px sans-serif`;
    const width = ctx.measureText(text).width + line * 2;
    const height = Math.max(10, line * 6) + line;
    const top = y0 >= height ? y0 - height : y0;
    ctx.fillStyle = colour;
    ctx.fillRect(x0, top, width, height);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x0 + line, top + height - line);
  }
}

/** Show the picture with its boxes, the list of detections and a JSON download. */
export function render(manifest, result, picture, name, target) {
  target.replaceChildren();
  const canvas = element('canvas', 'detections');
  const k = Math.max(1, Math.ceil(MIN_SIDE / Math.max(picture.width, picture.height)));
  canvas.dataset.scale = String(k);
  canvas.width = picture.width * k;
  canvas.height = picture.height * k;
  canvas.setAttribute('aria-label', `The picture with ${result.detections.length} boxes`);
  canvas.style.display = 'block';
  canvas.style.maxWidth = '100%';
  draw(canvas, picture, result.detections, false);
  const toggle = document.createElement('input');
  toggle.type = 'checkbox';
  toggle.id = 'blur-boxes';
  toggle.addEventListener('change', () => draw(canvas, picture, result.detections, toggle.checked));
  const toggleLabel = element('label', 'toggle', ' Blur what was found');
  toggleLabel.prepend(toggle);
  const list = element('ol', 'detection-list');
  for (const d of result.detections) {
    list.append(element('li', '', `${d.label} ${(d.score * 100).toFixed(1)}% at x ${Math.round(d.box[0])}–${Math.round(d.box[2])}, y ${Math.round(d.box[1])}–${Math.round(d.box[3])}`));
  }
  const summary = element('p', '', result.detections.length ? `${result.detections.length} found in ${name} (${picture.width}×${picture.height})` : `Nothing found in ${name} above the score threshold.`);
  const link = element('a', 'download', 'Download the detections (JSON)');
  link.href = URL.createObjectURL(new Blob([JSON.stringify({ picture: name, width: picture.width, height: picture.height, detections: result.detections }, null, 1)], { type: 'application/json' }));
  link.download = 'detections.json';
  target.append(summary, canvas, toggleLabel, list, link);
}

// Image input: pick or drop a picture; for small grey-scale models, draw one.

import { canvasToTensor, fitToCanvas } from '../preprocess.js';
import { takeDroppedFiles } from './dom.js';

const DRAW_SIZE = 280;

function labelled(text, control) {
  const label = document.createElement('label');
  label.textContent = text;
  label.append(control);
  return label;
}

/** The bounding square of what was drawn (non-black pixels), with a margin. */
function drawnSquare(canvas) {
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let [x0, y0, x1, y1] = [canvas.width, canvas.height, -1, -1];
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      if (data[(y * canvas.width + x) * 4] > 0) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0, y1 - y0) * 1.25 + 8;
  const crop = document.createElement('canvas');
  crop.width = crop.height = Math.ceil(side);
  const ctx = crop.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, crop.width, crop.height);
  ctx.drawImage(canvas, (x0 + x1) / 2 - side / 2, (y0 + y1) / 2 - side / 2, side, side, 0, 0, side, side);
  return crop;
}

/** "Use the camera", then "Take a picture": the frame never leaves the page. */
function cameraControls(pre, onPicture) {
  const box = document.createElement('div');
  box.className = 'camera';
  if (!navigator.mediaDevices?.getUserMedia) return box;
  const start = document.createElement('button');
  start.type = 'button';
  start.textContent = 'Use the camera';
  const video = document.createElement('video');
  video.playsInline = true;
  video.muted = true;
  video.hidden = true;
  video.setAttribute('aria-label', 'Camera preview');
  const take = document.createElement('button');
  take.type = 'button';
  take.textContent = 'Take a picture';
  take.hidden = true;
  start.addEventListener('click', async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      await video.play();
      video.hidden = take.hidden = false;
      start.hidden = true;
    } catch (error) {
      start.textContent = `Camera unavailable: ${error.message}`;
      start.disabled = true;
    }
  });
  take.addEventListener('click', () => onPicture(video));
  box.append(start, video, take);
  return box;
}

export function mount(container, manifest, onInput) {
  const pre = manifest.preprocess;
  const spec = manifest.inputs[0];
  const root = document.createElement('div');
  root.className = 'image-widget';

  const fed = document.createElement('canvas');
  fed.className = 'fed';
  fed.width = pre.width;
  fed.height = pre.height;
  fed.setAttribute('aria-label', 'The image given to the model');
  const fedFigure = document.createElement('figure');
  const caption = document.createElement('figcaption');
  caption.textContent = `What the model sees (${pre.width}×${pre.height})`;
  fedFigure.append(fed, caption);

  const feed = (canvas, { invert }) => {
    fed.getContext('2d').drawImage(canvas, 0, 0);
    onInput({ [spec.name]: canvasToTensor(canvas, { ...pre, invert }, spec) });
  };

  const feedFile = async (blob) => {
    const bitmap = await createImageBitmap(blob);
    feed(fitToCanvas(bitmap, pre.width, pre.height), { invert: pre.invert });
  };
  const file = document.createElement('input');
  file.type = 'file';
  file.accept = 'image/*';
  file.id = 'image-file';
  file.addEventListener('change', () => { if (file.files.length) feedFile(file.files[0]); });
  const controls = document.createElement('div');
  const hint = document.createElement('p');
  hint.className = 'drop-hint';
  hint.textContent = 'or drop an image here, or paste one';
  controls.append(labelled('Choose an image ', file), hint, cameraControls(pre, (video) => feed(fitToCanvas(video, pre.width, pre.height), { invert: pre.invert })));

  // Drag and drop anywhere on the widget; paste anywhere on the page.
  takeDroppedFiles(root, (f) => f.type.startsWith('image/'), feedFile, { paste: true });

  if (pre.channels === 1 && pre.width <= 64 && pre.height <= 64) {
    const draw = document.createElement('canvas');
    draw.className = 'draw';
    draw.width = draw.height = DRAW_SIZE;
    draw.setAttribute('aria-label', 'Drawing area: draw with the mouse, a pen or a finger');
    draw.tabIndex = 0;
    const ctx = draw.getContext('2d', { willReadFrequently: true });
    const clear = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, DRAW_SIZE, DRAW_SIZE); };
    clear();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = DRAW_SIZE / 12;
    ctx.lineCap = ctx.lineJoin = 'round';
    const at = (e) => {
      const box = draw.getBoundingClientRect();
      return [(e.clientX - box.left) * DRAW_SIZE / box.width, (e.clientY - box.top) * DRAW_SIZE / box.height];
    };
    let drawing = false;
    draw.addEventListener('pointerdown', (e) => {
      drawing = true;
      draw.setPointerCapture(e.pointerId);
      ctx.beginPath();
      ctx.moveTo(...at(e));
    });
    draw.addEventListener('pointermove', (e) => {
      if (!drawing) return;
      ctx.lineTo(...at(e));
      ctx.stroke();
    });
    draw.addEventListener('pointerup', () => {
      drawing = false;
      const square = drawnSquare(draw);
      // Drawn strokes are already light on dark: no inversion.
      if (square) feed(fitToCanvas(square, pre.width, pre.height), { invert: false });
    });
    const clearButton = document.createElement('button');
    clearButton.type = 'button';
    clearButton.textContent = 'Clear';
    clearButton.addEventListener('click', clear);
    const figure = document.createElement('figure');
    const drawCaption = document.createElement('figcaption');
    drawCaption.textContent = 'Draw here';
    figure.append(draw, drawCaption, clearButton);
    root.append(figure);
  }
  root.append(fedFigure, controls);
  container.append(root);
}

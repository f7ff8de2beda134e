// Sound input for an audio site (the manifest's `audio` section): open or drop a
// sound file; it is decoded here (a WAV at its own rate), mixed to mono,
// resampled and run frame by frame (tasks/audio.js). The answer: the waveform
// with the per-frame probability over it and the speech segments marked (voice
// activity), or the clip's labels with scores (classification); a JSON download.
// Nothing is recorded or sent: the sound stays in the page.

import { answer as run, decodeFile } from '../tasks/audio.js';

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Mount the file input; `onClip(bytes, name)` runs the model and shows the answer (main.js). */
export function mount(container, manifest, onClip) {
  const root = element('div', 'audio-widget');
  const file = document.createElement('input');
  file.type = 'file';
  file.accept = 'audio/*,.wav';
  file.id = 'audio-file';
  const feed = async (blob) => onClip(new Uint8Array(await blob.arrayBuffer()), blob.name || 'clip');
  file.addEventListener('change', () => { if (file.files.length) feed(file.files[0]); });
  const rate = manifest.audio.stages.find((s) => s.name === 'resample').rate;
  const label = element('label', '', `Choose a sound file (a WAV is resampled here to ${rate} Hz, as in Python) `);
  label.append(file);
  root.append(label, element('p', 'drop-hint', 'or drop one here'));
  root.addEventListener('dragover', (e) => { e.preventDefault(); root.classList.add('dragging'); });
  root.addEventListener('dragleave', () => root.classList.remove('dragging'));
  root.addEventListener('drop', (e) => {
    e.preventDefault();
    root.classList.remove('dragging');
    const dropped = [...e.dataTransfer.files].find((f) => f.type.startsWith('audio/') || f.name.endsWith('.wav'));
    if (dropped) feed(dropped);
  });
  container.append(root);
}

/** Decode the file and run the clip: {decoded, ...answer}. */
export async function answer(manifest, bytes, runModel) {
  const rate = manifest.audio.stages.find((s) => s.name === 'resample').rate;
  const decoded = await decodeFile(bytes, rate);
  return { decoded, ...(await run(manifest, decoded, runModel)) };
}

const WIDTH = 800;
const HEIGHT = 160;

/** The waveform (min and max per column), the probability line over it, segments shaded. */
function timeline(manifest, result) {
  const stage = Object.fromEntries(manifest.audio.stages.map((s) => [s.name, s]));
  const canvas = element('canvas', 'waveform');
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  canvas.style.display = 'block';
  canvas.style.maxWidth = '100%';
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, WIDTH, HEIGHT);
  const { samples } = result;
  const seconds = samples.length / stage.resample.rate;
  const x = (t) => (t / seconds) * WIDTH;
  ctx.fillStyle = 'rgba(46, 160, 67, 0.25)';
  for (const [from, to] of result.segments) ctx.fillRect(x(from), 0, x(Math.min(to, seconds)) - x(from), HEIGHT);
  ctx.fillStyle = '#57606a';
  const per = Math.max(1, Math.floor(samples.length / WIDTH));
  for (let c = 0; c < WIDTH; c++) {
    let [low, high] = [0, 0];
    for (let i = c * per; i < Math.min((c + 1) * per, samples.length); i++) {
      low = Math.min(low, samples[i]);
      high = Math.max(high, samples[i]);
    }
    ctx.fillRect(c, HEIGHT / 2 - high * HEIGHT / 2, 1, Math.max(1, (high - low) * HEIGHT / 2));
  }
  if (manifest.audio.task === 'voice-activity') {
    ctx.strokeStyle = '#0969da';
    ctx.lineWidth = 2;
    ctx.beginPath();
    result.rows.forEach((row, k) => {
      const t = ((k * stage.frame.hop) + stage.frame.size / 2) / stage.resample.rate;
      const y = HEIGHT - row[0] * HEIGHT;
      if (k === 0) ctx.moveTo(x(t), y); else ctx.lineTo(x(t), y);
    });
    ctx.stroke();
  }
  return canvas;
}

/** Show the timeline, the segments or labels, and a JSON download. */
export function render(manifest, result, name, target) {
  target.replaceChildren();
  const rate = manifest.audio.stages.find((s) => s.name === 'resample').rate;
  const seconds = result.samples.length / rate;
  const speech = manifest.audio.task === 'voice-activity';
  target.append(element('p', '', `${name}: ${seconds.toFixed(2)} s, ${result.decoded.channels.length} channel${result.decoded.channels.length === 1 ? '' : 's'} at ${result.decoded.rate} Hz, ${result.rows.length} frames`
    + (result.decoded.resampledByBrowser ? ' (not a WAV: the browser resampled it, so Python may differ slightly)' : '')));
  target.append(timeline(manifest, result));
  const list = element('ol', speech ? 'segment-list' : 'topk');
  if (speech) {
    for (const [from, to] of result.segments) list.append(element('li', '', `speech ${from.toFixed(2)}–${Math.min(to, seconds).toFixed(2)} s`));
    if (!result.segments.length) target.append(element('p', '', 'No speech found.'));
  } else {
    for (const item of result.labels.slice(0, 5)) list.append(element('li', '', `${item.label} ${(item.score * 100).toFixed(1)}%`));
  }
  const link = element('a', 'download', speech ? 'Download the timeline (JSON)' : 'Download the scores (JSON)');
  link.href = URL.createObjectURL(new Blob([JSON.stringify({ clip: name, frames: result.rows, segments: result.segments, labels: result.labels })], { type: 'application/json' }));
  link.download = speech ? 'timeline.json' : 'scores.json';
  target.append(list, link);
}

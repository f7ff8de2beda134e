// Sound input for an audio site (the manifest's `audio` section): open or drop a
// sound file; it is decoded here (a WAV at its own rate), mixed to mono,
// resampled and run frame by frame (tasks/audio.js). The answer: the waveform
// with the per-frame probability over it and the speech segments marked (voice
// activity), or the clip's labels with scores (classification); a JSON download.
// Nothing is recorded or sent: the sound stays in the page.

import { answerClip, decodeFile, segments, stream } from '../tasks/audio.js';
import { element, takeDroppedFiles } from './dom.js';

const LIVE_SECONDS = 10;  // the live view shows the last this many seconds

/**
 * "Use the microphone": getUserMedia into an AudioWorklet (worklets/audio-capture.js, from
 * this site) at the model's rate (the browser resamples the microphone); every frame
 * runs as it completes, states carried over; `onLive(view)` shows the last seconds.
 * Nothing is recorded beyond what the view shows, and nothing leaves the page.
 */
function microphone(manifest, runModel, onLive) {
  const box = element('div', 'microphone');
  if (!navigator.mediaDevices?.getUserMedia || !globalThis.AudioWorkletNode) return box;
  const stage = Object.fromEntries(manifest.audio.stages.map((s) => [s.name, s]));
  const rate = stage.resample.rate;
  const button = element('button', '', 'Use the microphone');
  button.type = 'button';
  button.id = 'microphone';
  let stop = null;
  button.addEventListener('click', async () => {
    if (stop) { stop(); return; }
    try {
      const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      const context = new AudioContext({ sampleRate: rate });
      await context.audioWorklet.addModule(new URL('worklets/audio-capture.js', document.baseURI));
      const source = context.createMediaStreamSource(media);
      const node = new AudioWorkletNode(context, 'webml-capture');
      const mute = context.createGain();
      mute.gain.value = 0;  // pulled by the graph, heard by nobody
      source.connect(node).connect(mute).connect(context.destination);
      const live = stream(manifest, runModel);
      const keep = LIVE_SECONDS * rate;
      let recent = new Float32Array(0);
      let shown = 0;
      node.port.onmessage = async ({ data }) => {
        const joined = new Float32Array(Math.min(keep, recent.length + data.length));
        joined.set(recent.subarray(Math.max(0, recent.length + data.length - keep)));
        joined.set(data, joined.length - data.length);
        recent = joined;
        await live.push(data);
        if (live.rows.length === shown || !stop) return;
        shown = live.rows.length;
        // The frames the last seconds hold, and their segments, from the view's start.
        const fit = Math.max(1, Math.floor((recent.length - stage.frame.size) / stage.frame.hop) + 1);
        const rows = live.rows.slice(-fit);
        const found = manifest.audio.task === 'voice-activity'
          ? segments(rows.map((r) => r[0]), stage.segments.threshold, stage.frame.hop, stage.frame.size, rate) : [];
        onLive({ live: true, frames: live.rows.length, samples: recent, rows, segments: found, labels: [], decoded: { channels: [recent], rate } });
      };
      stop = () => {
        media.getTracks().forEach((t) => t.stop());
        context.close();
        stop = null;
        button.textContent = 'Use the microphone';
      };
      button.textContent = 'Stop the microphone';
    } catch (error) {
      button.textContent = `Microphone unavailable: ${error.message}`;
      button.disabled = true;
    }
  });
  box.append(button);
  return box;
}

/**
 * Mount the file input and the microphone; `onClip(bytes, name)` runs a file and shows
 * the answer, `live.run` runs the model and `live.show(view)` shows the microphone's (main.js).
 */
export function mount(container, manifest, onClip, live) {
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
  if (live) root.append(microphone(manifest, live.run, live.show));
  takeDroppedFiles(root, (f) => f.type.startsWith('audio/') || f.name.endsWith('.wav'), feed);
  container.append(root);
}

/** Decode the file and run the clip: {decoded, ...answer}. */
export async function answer(manifest, bytes, runModel) {
  const rate = manifest.audio.stages.find((s) => s.name === 'resample').rate;
  const decoded = await decodeFile(bytes, rate);
  return { decoded, ...(await answerClip(manifest, decoded, runModel)) };
}

let downloadUrl = null;
// Classification: each frame's best class as a band under the waveform, in these colours.
const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];
const BAND = 12;
const best = (row) => row.reduce((top, v, i) => (v > row[top] ? i : top), 0);
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
  if (manifest.audio.task !== 'voice-activity') {
    result.rows.forEach((row, k) => {
      ctx.fillStyle = COLOURS[best(row) % COLOURS.length];
      ctx.fillRect(x((k * stage.frame.hop) / stage.resample.rate), HEIGHT - BAND, x(stage.frame.hop / stage.resample.rate) + 1, BAND);
    });
  } else {
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
  const list = element('ol', speech ? 'segment-list' : 'clip-labels');
  if (speech) {
    for (const [from, to] of result.segments) list.append(element('li', '', `speech ${from.toFixed(2)}–${Math.min(to, seconds).toFixed(2)} s`));
    if (!result.segments.length) target.append(element('p', '', 'No speech found.'));
  } else {
    for (const item of result.labels.slice(0, 5)) {
      const swatch = element('span', 'swatch', '■ ');
      swatch.style.color = COLOURS[item.index % COLOURS.length];  // its colour in the band
      const li = element('li', '', `${item.label} ${(item.score * 100).toFixed(1)}%`);
      li.prepend(swatch);
      list.append(li);
    }
    target.append(element('p', 'hint', 'The band under the waveform: each frame\'s best class.'));
  }
  const link = element('a', 'download', speech ? 'Download the timeline (JSON)' : 'Download the scores (JSON)');
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);  // the live view renders often
  downloadUrl = link.href = URL.createObjectURL(new Blob([JSON.stringify({ clip: name, frames: result.rows, segments: result.segments, labels: result.labels })], { type: 'application/json' }));
  link.download = speech ? 'timeline.json' : 'scores.json';
  target.append(list, link);
}

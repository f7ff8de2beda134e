// Audio in the page: a sound file decoded, mixed to mono, resampled to the
// model's rate, cut into frames, run frame by frame with the state carried
// over, and turned into the answer (speech segments, or the clip's labels).
// The page's side of converter/tasks/audio.py, with the same float arithmetic
// in the same order: `webml verify --input clip.wav` compares the two.

import { labelled, softmax } from './scores.js';
import { decodeArray, typedArrayFor } from '../tensors.js';

/** A WAV file's sample rate from its fmt chunk, or null for another kind of file. */
export function wavRate(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return null;
  for (let at = 12; at + 8 <= bytes.length; at += 8 + view.getUint32(at + 4, true) + (view.getUint32(at + 4, true) % 2)) {
    if (tag(at) === 'fmt ') return view.getUint32(at + 12, true);
  }
  return null;
}

/**
 * Decode a sound file with the browser's decoder at the file's own rate (a WAV's,
 * read from its header), so that the resampling is ours, as in Python; another
 * kind of file is decoded at the model's rate by the browser's resampler.
 */
export async function decodeFile(bytes, modelRate) {
  const rate = wavRate(bytes) || modelRate;
  const context = new OfflineAudioContext(1, 1, rate);
  const buffer = await context.decodeAudioData(bytes.slice().buffer);
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  return { channels, rate: buffer.sampleRate, resampledByBrowser: rate !== wavRate(bytes) };
}

/** Channels averaged: summed one by one in doubles, divided, stored as float32. */
export function mono(channels) {
  const out = new Float32Array(channels[0].length);
  for (let i = 0; i < out.length; i++) {
    let total = 0;
    for (const channel of channels) total += channel[i];
    out[i] = total / channels.length;
  }
  return out;
}

/** Linear interpolation to `target` Hz: output i at input position i * source / target. */
export function resample(samples, source, target) {
  if (source === target) return Float32Array.from(samples);
  const n = samples.length;
  const out = new Float32Array(Math.floor((n * target) / source));
  for (let i = 0; i < out.length; i++) {
    const position = (i * source) / target;
    const left = Math.floor(position);
    const frac = position - left;
    const right = Math.min(left + 1, n - 1);
    out[i] = samples[left] * (1 - frac) + samples[right] * frac;
  }
  return out;
}

/** Windows of `size` every `hop` samples, the last one padded with zeros; at least one. */
export function frames(samples, size, hop) {
  const count = samples.length <= size ? 1 : 1 + Math.ceil((samples.length - size) / hop);
  return Array.from({ length: count }, (_, k) => {
    const window = new Float32Array(size);
    window.set(samples.subarray(k * hop, Math.min(k * hop + size, samples.length)));
    return window;
  });
}

/** Runs of frames at or above the threshold, as [start, end] seconds. */
export function segments(probabilities, threshold, hop, size, rate) {
  const found = [];
  let start = null;
  [...probabilities, -Infinity].forEach((p, k) => {
    if (p >= threshold && start === null) start = k;
    else if (p < threshold && start !== null) {
      found.push([(start * hop) / rate, ((k - 1) * hop + size) / rate]);
      start = null;
    }
  });
  return found;
}

const fixed = (shape) => shape.map((d) => (typeof d === 'number' ? d : 1));

/** A state loop: `step(window)` runs one frame, its states carried to the next (zeros first). */
function stateLoop(pipeline, specs, run) {
  const stage = Object.fromEntries(pipeline.stages.map((s) => [s.name, s]));
  const { input, size } = stage.frame;
  const spec = (name) => specs.find((s) => s.name === name);
  let state = Object.fromEntries(stage.run.states.map(({ input: name }) => {
    const shape = fixed(spec(name).shape);
    return [name, { dtype: spec(name).dtype, shape, data: new (typedArrayFor(spec(name).dtype))(shape.reduce((a, b) => a * b, 1)) }];
  }));
  const constants = Object.fromEntries(Object.entries(stage.run.constants).map(([k, v]) => [k, decodeArray(v)]));
  return async (window) => {
    const outputs = await run({ [input]: { dtype: spec(input).dtype, shape: [1, size], data: window }, ...state, ...constants });
    state = Object.fromEntries(stage.run.states.map((s) => [s.input, outputs[s.output]]));
    return Array.from(outputs[stage.run.output].data, Number);
  };
}

/** Each frame through `run(feeds)`, the states carried over: one row of numbers per frame. */
export async function runClip(pipeline, specs, samples, run) {
  const { size, hop } = pipeline.stages.find((s) => s.name === 'frame');
  const step = stateLoop(pipeline, specs, run);
  const rows = [];
  for (const window of frames(samples, size, hop)) rows.push(await step(window));
  return rows;
}

/**
 * A live stream (the microphone, at the model's rate): `push(block)` adds samples and
 * runs every whole frame they complete, in order; `rows` grows by one per frame.
 */
export function stream(manifest, run) {
  const { size, hop } = manifest.audio.stages.find((s) => s.name === 'frame');
  const step = stateLoop(manifest.audio, manifest.inputs, run);
  const rows = [];
  let pending = new Float32Array(0);
  let queue = Promise.resolve();
  return {
    rows,
    push(block) {
      const joined = new Float32Array(pending.length + block.length);
      joined.set(pending);
      joined.set(block, pending.length);
      pending = joined;
      const windows = [];
      while (pending.length >= size) {
        windows.push(pending.slice(0, size));
        pending = pending.slice(hop);
      }
      queue = queue.then(async () => { for (const window of windows) rows.push(await step(window)); });
      return queue;
    },
  };
}

/** A decoded clip ({channels, rate}) to the answer: samples, per-frame rows, segments or labels. */
export async function answerClip(manifest, decoded, run) {
  const pipeline = manifest.audio;
  const stage = Object.fromEntries(pipeline.stages.map((s) => [s.name, s]));
  const samples = resample(mono(decoded.channels), decoded.rate, stage.resample.rate);
  const rows = await runClip(pipeline, manifest.inputs, samples, run);
  if (pipeline.task === 'voice-activity') {
    const found = segments(rows.map((r) => r[0]), stage.segments.threshold, stage.frame.hop, stage.frame.size, stage.resample.rate);
    return { samples, rows, segments: found, labels: [] };
  }
  const probabilities = stage.softmax ? rows.map(softmax) : rows;
  const mean = probabilities[0].map((_, c) => probabilities.reduce((sum, r) => sum + r[c], 0) / probabilities.length);
  return { samples, rows, segments: [], labels: labelled(mean, manifest.labels) };
}

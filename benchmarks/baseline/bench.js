// The untuned baselines of benchmarks/browser.py: each runtime with its defaults.
//   ?runtime=ort   onnxruntime-web as `import 'onnxruntime-web'` gives it (ort.bundle.min.mjs)
//   ?runtime=tfjs  TensorFlow.js graph model by URL, wasm backend
// Reads input.json ({dtype, shape, base64}); leaves the timings in window.result.

const params = new URLSearchParams(location.search);
const runs = Number(params.get('runs') || 20);
const warmup = Number(params.get('warmup') || 3);

async function input() {
  const { shape, base64 } = await (await fetch('input.json')).json();
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return { shape, data: new Float32Array(bytes.buffer) };
}

async function timed(run) {
  let began = performance.now();
  await run();
  const firstMs = performance.now() - began;
  for (let i = 0; i < warmup; i++) await run();
  const timesMs = [];
  for (let i = 0; i < runs; i++) {
    began = performance.now();
    await run();
    timesMs.push(performance.now() - began);
  }
  return { firstMs, timesMs };
}

async function main() {
  const { shape, data } = await input();
  const began = performance.now();
  if (params.get('runtime') === 'ort') {
    const ort = await import('./ort/ort.bundle.min.mjs');
    const session = await ort.InferenceSession.create('model.onnx');
    const loadMs = performance.now() - began;
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
    return { loadMs, ...(await timed(() => session.run(feeds))) };
  }
  const tf = globalThis.tf;
  tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
  await tf.setBackend('wasm');
  const model = await tf.loadGraphModel('model.json');
  const loadMs = performance.now() - began;
  const x = tf.tensor(data, shape);
  return { loadMs, ...(await timed(async () => { const y = await model.executeAsync(x); await y.data(); y.dispose(); })) };
}

main().then((result) => { window.result = result; document.getElementById('status').textContent = 'done'; },
  (error) => { window.result = { error: error.message }; });

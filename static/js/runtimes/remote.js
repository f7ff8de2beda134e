// The adapter the page uses: the same load/run/dispose, answered by a Web
// Worker (js/worker.js) that hosts the real adapter for the manifest's runtime.

export function workerAdapter(onProgress = () => {}) {
  return {
    async load({ manifest, backend, model, baseUrl, threads: wanted, signal }) {
      const worker = new Worker(new URL('../worker.js', import.meta.url), { type: 'module' });
      const pending = new Map();
      let next = 0;
      const failAll = (message) => {
        for (const { reject } of pending.values()) reject(new Error(message));
        pending.clear();
      };
      worker.onmessage = ({ data }) => {
        if (data.type === 'progress') return onProgress(data.loaded, data.total);
        const call = pending.get(data.id);
        pending.delete(data.id);
        if (data.ok) call.resolve(data); else call.reject(new Error(data.message));
      };
      worker.onerror = (event) => failAll(`the inference worker failed: ${event.message || 'could not start'}`);
      const call = (message, transfer) => new Promise((resolve, reject) => {
        message.id = next++;
        pending.set(message.id, { resolve, reject });
        worker.postMessage(message, transfer);
      });
      // A run is one message each way. A feed that views part of a larger buffer
      // (a batch's chunk) goes as a copy of its own values, moved: posting the
      // view would copy the whole buffer on every run. A whole buffer is copied
      // by the post itself, and stays the caller's.
      const run = async (feeds) => {
        let sent = feeds;
        const transfer = [];
        for (const [name, t] of Object.entries(feeds)) {
          const data = t.data;
          if (ArrayBuffer.isView(data) && data.byteLength !== data.buffer.byteLength) {
            if (sent === feeds) sent = { ...feeds };
            sent[name] = { dtype: t.dtype, shape: t.shape, data: data.slice() };
            transfer.push(sent[name].data.buffer);
          }
        }
        return (await call({ type: 'run', feeds: sent }, transfer)).outputs;
      };
      const dispose = async () => { worker.terminate(); failAll('the worker was stopped'); };
      signal?.addEventListener('abort', dispose);
      try {
        const { threads } = await call({ type: 'load', manifest, backend, model, baseUrl, threads: wanted });
        const runText = (text) => call({ type: 'text', text });  // a text site: tokenized in the worker
        return { backend, threads, run, runText, dispose };
      } catch (error) {
        dispose();
        throw error;
      }
    },
  };
}

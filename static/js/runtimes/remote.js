// The adapter the page uses: the same load/run/dispose, answered by a Web
// Worker (js/worker.js) that hosts the real adapter for the manifest's runtime.

export function workerAdapter(onProgress = () => {}) {
  return {
    async load({ manifest, backend, model, baseUrl, signal }) {
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
      const call = (type, payload) => new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, type, ...payload });
      });
      const dispose = async () => { worker.terminate(); failAll('the worker was stopped'); };
      signal?.addEventListener('abort', dispose);
      try {
        const { threads } = await call('load', { manifest, backend, model, baseUrl });
        const runText = (text) => call('text', { text });  // a text site: tokenized in the worker
        return { backend, threads, run: async (feeds) => (await call('run', { feeds })).outputs, runText, dispose };
      } catch (error) {
        dispose();
        throw error;
      }
    },
  };
}

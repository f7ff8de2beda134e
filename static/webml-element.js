// <webml-model>: a webml site's model as an element of your own page.
//
//   <script type="module" src="model/webml-element.js"></script>
//   <webml-model src="model/" backend="auto" input="auto">Optional content of yours</webml-model>
//
// Attributes
//   src       the site's folder (default: the folder this module is in)
//   backend   auto (default) or one the site ships (manifest.vendor.backends)
//   input     auto (default): the site page's own input widget for the task
//             (image file or drawing, feature form, text box, tensor editor,
//             picture for a detector, sound file); none: no widget, call run()
//   output    auto (default): answers shown as the site's page shows them; none: events only
// Events (bubbling, composed; each a CustomEvent)
//   progress  detail {loaded, total} bytes of the download
//   ready     detail {backend, threads, crossOriginIsolated, manifest}
//   result    detail: the answer of webml.js's model.run (outputs, top, ...)
//   error     detail {message, error}
// Properties and methods
//   el.model  the webml.js model once ready (null before); el.ready a Promise of it
//   el.run(input)  the model's run, shown in the output part and sent as `result`
// Styling: parts `status`, `progress`, `input`, `output`; your own content goes in
// the default slot, above the input. The shadow root links css/app.css and
// css/webml-element.css from the site (style-src 'self' allows both): no inline
// style, so a page under a strict CSP can use the element.
//
// Changing src or backend loads the model again; removing the element disposes of it.

import { inputKind, load } from './webml.js';
import { render } from './js/outputs.js';

const WIDGETS = {
  text: () => import('./js/widgets/text.js'),
  detection: () => import('./js/widgets/detection.js'),
  audio: () => import('./js/widgets/audio.js'),
  tabular: () => import('./js/widgets/form.js'),
  image: () => import('./js/widgets/image.js'),
  tensor: () => import('./js/widgets/tensor.js'),
};

const STYLES = ['css/app.css', 'css/webml-element.css'].map((path) => new URL(path, import.meta.url).href);

function part(tag, name) {
  const node = document.createElement(tag);
  node.setAttribute('part', name);
  node.className = name;
  return node;
}

export class WebmlModelElement extends HTMLElement {
  static observedAttributes = ['src', 'backend'];

  #parts;
  #model = null;
  #loading = null;  // the AbortController of the load under way
  #starts = 0;  // loads begun while connected: a reload needs a fresh `ready`
  #connected = false;
  #ready;
  #resolveReady;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const links = STYLES.map((href) => Object.assign(document.createElement('link'), { rel: 'stylesheet', href }));
    this.#parts = {
      status: part('p', 'status'),
      progress: part('progress', 'progress'),
      input: part('div', 'input'),
      output: part('div', 'output'),
    };
    this.#parts.status.setAttribute('aria-live', 'polite');
    this.#parts.progress.max = 1;
    this.#parts.progress.value = 0;
    this.#parts.output.hidden = true;
    root.append(...links, this.#parts.status, this.#parts.progress, document.createElement('slot'), this.#parts.input, this.#parts.output);
    this.#newReady();
  }

  /** The webml.js model once ready, else null. */
  get model() { return this.#model; }

  /** A Promise of the model, settled by the load under way (or the next one). */
  get ready() { return this.#ready; }

  connectedCallback() {
    this.#connected = true;
    this.#start();
  }

  disconnectedCallback() {
    this.#connected = false;
    this.#stop();
  }

  attributeChangedCallback(_name, before, after) {
    // Before connectedCallback (the parser's attributes) there is nothing to reload.
    if (before !== after && this.#connected) this.#start();
  }

  /** Run the model on `input` (as webml.js's model.run takes it); shows and sends the answer. */
  async run(input) {
    const model = await this.#ready;
    try {
      const answer = await model.run(input);
      this.#show(model, answer);
      this.#emit('result', answer);
      return answer;
    } catch (error) {
      this.#fail(error);
      throw error;
    }
  }

  #newReady() {
    this.#ready = new Promise((resolve, reject) => { this.#resolveReady = { resolve, reject }; });
    this.#ready.catch(() => {});  // the `error` event reports it
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #status(state, text) {
    this.#parts.status.dataset.state = state;
    this.#parts.status.textContent = text;
  }

  #fail(error) {
    this.#status('error', `Error: ${error.message}`);
    this.#emit('error', { message: error.message, error });
  }

  #stop() {
    this.#loading?.abort();
    this.#loading = null;
    this.#model?.dispose();
    this.#model = null;
  }

  async #start() {
    if (this.#starts++ > 0) {
      this.#stop();
      this.#newReady();
    }
    const controller = new AbortController();
    this.#loading = controller;
    const { progress, input, output } = this.#parts;
    input.replaceChildren();
    output.replaceChildren();
    output.hidden = true;
    progress.hidden = false;
    this.#status('loading', 'Loading…');
    const settle = this.#resolveReady;
    // Ready means the widget is in place too: webml verify --page counts any request after it.
    const registry = globalThis[Symbol.for('webml.embed')];
    registry.pending++;
    let widget = null;
    try {
      const model = await load(this.getAttribute('src') || new URL('./', import.meta.url), {
        backend: this.getAttribute('backend') || 'auto',
        signal: controller.signal,
        // The widget's modules download with the model, not after it.
        onManifest: (manifest) => { if (this.getAttribute('input') !== 'none') widget = WIDGETS[inputKind(manifest)](); },
        onProgress: (loaded, total) => {
          progress.value = total ? loaded / total : 1;
          this.#emit('progress', { loaded, total });
        },
      });
      if (controller.signal.aborted) return model.dispose();
      this.#model = model;
      progress.hidden = true;
      this.#status('ready', `Ready on ${model.backend}${model.threads > 1 ? ` (${model.threads} threads)` : ''}.`);
      if (widget) this.#mount(model, await widget);
      registry.readyAt = performance.now();
      settle.resolve(model);
      this.#emit('ready', { backend: model.backend, threads: model.threads, crossOriginIsolated: model.crossOriginIsolated, manifest: model.manifest });
    } catch (error) {
      if (controller.signal.aborted) return;
      progress.hidden = true;
      settle.reject(error);
      this.#fail(error);
    } finally {
      registry.pending--;
      if (this.#loading === controller) this.#loading = null;
    }
  }

  /** The site page's own widget for the task, feeding this.run. */
  #mount(model, widget) {
    const { manifest } = model;
    const kind = inputKind(manifest);
    const quiet = (promise) => promise.catch(() => {});  // the error event reports it
    const onInput = kind === 'text' ? (value) => quiet(this.#runTexts(model, widget, value))
      : kind === 'audio' ? (bytes) => quiet(this.run(bytes))
        : kind === 'detection' ? (picture) => quiet(this.run(picture))
          : (feeds) => quiet(this.run(feeds));
    this.#widget = widget;
    widget.mount(this.#parts.input, manifest, onInput);
  }

  #widget = null;

  /** A text box's texts (one, or one per line for an embedding), shown together. */
  async #runTexts(model, widget, value) {
    const answers = [];
    for (const text of widget.texts(model.manifest, value)) answers.push({ text, ...(await model.run(text)) });
    this.#show(model, answers);
    this.#emit('result', answers.length === 1 ? answers[0] : answers);
  }

  #show(model, answer) {
    if (this.getAttribute('output') === 'none') return;
    const { output } = this.#parts;
    const { manifest } = model;
    const kind = inputKind(manifest);
    output.hidden = false;
    if (kind === 'text' && this.#widget) this.#widget.render(manifest, [answer].flat(), output);
    else if (kind === 'detection' && this.#widget) this.#widget.render(manifest, answer, answer.picture, 'the picture', output);
    else if (kind === 'audio' && this.#widget) this.#widget.render(manifest, answer, 'the sound', output);
    else render(manifest, answer.outputs, output);
  }
}

if (!customElements.get('webml-model')) customElements.define('webml-model', WebmlModelElement);

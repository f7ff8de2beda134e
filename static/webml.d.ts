// Types for webml.js and webml-element.js, shipped in every webml site. Docs: docs/embed.md.

/** A tensor as webml passes it: a typed array (strings: a plain array) with its dtype and shape. */
export interface Tensor {
  dtype: 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'int32' | 'int64' | 'bool' | 'string';
  shape: number[];
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array | string[];
}

export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array;

/** A picture an image model or detector takes. */
export type Picture = HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | ImageBitmap | ImageData | OffscreenCanvas | Blob;

/** What `run` takes: the task's natural input. */
export type ModelInput =
  | Picture                                   // image models, detectors
  | Record<string, number>                    // tabular models: {feature: value}
  | string                                    // text pipelines
  | ArrayBuffer | Uint8Array                  // audio pipelines: a sound file's bytes
  | TypedArray | number[]                     // a model with one input
  | Record<string, TypedArray | number[] | Tensor>;  // inputs by name

export interface Scored { label: string; index: number; score: number }

export interface Answer {
  /** The model's raw outputs by name (empty for an audio clip: see rows). */
  outputs: Record<string, Tensor>;
  /** What the input became: the tensors fed to the model (a text's: as plain numbers). */
  feeds?: Record<string, Tensor | { dtype: string; shape: number[]; data: number[] }>;
  ms: number;
  backend: string;
  /** A classifier's best classes (manifest labels), best first; `run(input, {topK})`. */
  top?: Scored[];
  /** Text pipelines: the token ids and tokens, whether the text was cut, and the task's answer. */
  ids?: number[];
  tokens?: string[];
  truncated?: boolean;
  labels?: Scored[];
  embedding?: number[];
  /** Token classifiers: entities as token spans [start, end). */
  entities?: { label: string; score: number; start: number; end: number }[];
  /** Detectors: boxes [x0, y0, x1, y1] in the picture's pixels. */
  detections?: { label: string; class: number; score: number; box: [number, number, number, number] }[];
  /** Audio: the samples at the model's rate, one output row per frame, speech segments in seconds. */
  samples?: Float32Array;
  rows?: number[][];
  segments?: [number, number][];
}

export interface LoadOptions {
  /** 'auto' (default) or one of manifest.vendor.backends: 'wasm', 'webgpu', 'webgl'. */
  backend?: string;
  /** Bytes downloaded over the whole load; total grows when a backend is given up for the next. */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
  /** Per backend: the load, and then its first run (default 120000). */
  timeoutMs?: number;
  /** WebAssembly threads, instead of the runtime's own choice from the cores (needs cross-origin isolation). */
  threads?: number;
  /** Let 'auto' choose a software WebGPU or WebGL (SwiftShader) too. */
  allowSoftware?: boolean;
  /** The manifest (default: the site folder's webml.json). */
  manifestUrl?: string | URL;
}

export interface Model {
  /** The site's webml.json (docs/manifest.md). */
  manifest: any;
  kind: 'image' | 'detection' | 'tabular' | 'text' | 'audio' | 'tensor';
  backend: string;
  threads: number;
  crossOriginIsolated: boolean;
  loadMs: number;
  /** The golden self-check this backend passed. */
  selfCheck: { ok: boolean; maxAbs: number; failures: string[] };
  /** The backends given up, and why. */
  skipped: { backend: string; reason: string; unavailable: boolean }[];
  labels: string[] | null;
  features: { name: string; min: number | null; max: number | null; default: number | null }[] | null;
  run(input: ModelInput, options?: { topK?: number }): Promise<Answer>;
  runTensors(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** The manifest's golden input run again; outputs as plain numbers. */
  checkGolden(): Promise<Record<string, { shape: number[]; data: (number | string)[] }>>;
  /** Ends the worker; run() fails after it. */
  dispose(): void;
}

/** Load the model of the webml site in `src` (default: the folder webml.js is in). */
export function load(src?: string | URL, options?: LoadOptions): Promise<Model>;

/** The input kind a manifest's model takes. */
export function inputKind(manifest: any): Model['kind'];

/** <webml-model src backend input output>: see webml-element.js. */
export declare class WebmlModelElement extends HTMLElement {
  readonly model: Model | null;
  readonly ready: Promise<Model>;
  run(input: ModelInput): Promise<Answer>;
}

declare global {
  interface HTMLElementTagNameMap { 'webml-model': WebmlModelElement }
}

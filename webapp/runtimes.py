"""The browser runtimes a site can ship, pinned file by file.

Each file is copied from the project's npm install (``npm ci`` with
package-lock.json) and must match the sha256 written here, so a changed or
tampered package never reaches a site. Only the files a runtime's chosen
backends load are copied. A wheel carries every pinned file in
``webapp/node_modules`` (put there by the build hook, hatch_build.py, which
reads this table), so an installed webml needs no npm.

This module imports nothing of webml's but ``converter.errors`` at import
time: the build hook loads it in a build environment with no numpy.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from converter.errors import BuildError

ORT_VERSION = "1.30.0"
TFJS_VERSION = "4.22.0"
LITERT_VERSION = "2.5.3"


@dataclass(frozen=True)
class VendorFile:
    """One runtime file: where npm puts it, and its pinned sha256."""

    package: str
    path: str  # inside the npm package
    sha256: str
    site_name: str = ""  # its name in a site, where the package's own would clash
    # (text, replacement) pairs applied on copy, each text found exactly once: the
    # sha256 pins the package's file, the site's manifest the copy's.
    rewrite: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.site_name or Path(self.path).name


@dataclass(frozen=True)
class Runtime:
    """A page runtime: its files, and which of them each backend loads, in order."""

    name: str  # the page adapter: static/js/runtimes/<name>.js
    package: str
    version: str
    files: tuple[VendorFile, ...]
    backends: dict[str, tuple[str, ...]]  # backend -> file names, in load order

    @property
    def folder(self) -> str:
        """The site folder the files go to; the version is in the path, as a cache key."""
        return f"vendor/{self.package}-{self.version}"

    def files_for(self, backends: tuple[str, ...]) -> tuple[VendorFile, ...]:
        """The files the given backends need (each once), in table order."""
        unknown = [b for b in backends if b not in self.backends]
        if unknown:
            raise BuildError(f"the {self.name} runtime has no backend {', '.join(unknown)}",
                             f"choose from: {', '.join(self.backends)}")
        wanted = {name for b in backends for name in self.backends[b]}
        return tuple(f for f in self.files if f.name in wanted)


_ORT = "onnxruntime-web"
_TF = "@tensorflow/tfjs-"
_LITERT = "@litertjs/core"
# LiteRT.js runs in the page's inference worker, a module worker, where its loader
# fails twice: dist/index.js imports "@litertjs/wasm-utils" by bare name (a worker
# has no import map), and that loader runs the Emscripten glue with importScripts,
# which a module worker lacks. So the copies get three small rewrites: the import
# names the site's copy, the glue also sets globalThis.ModuleFactory (the adapter
# imports it as a module; a pthread worker still runs it as a classic script), and
# the loader skips its script when ModuleFactory is already set.
_LITERT_IMPORT = (('from "@litertjs/wasm-utils";', 'from "./litert-wasm-utils.js";'),)
_LITERT_LOADER = (("if (wasmLoaderScript) {", "if (wasmLoaderScript && !self.ModuleFactory) {"),)
_LITERT_GLUE = (("var ModuleFactory = (() => {",
                 "var ModuleFactory = globalThis.ModuleFactory = (() => {"),)

# TensorFlow.js's threaded wasm build starts each pthread from a blob: script
# (the worker code, a string in its bundle) that imports a second blob (its
# Emscripten glue, rebuilt from a function's source): the site's CSP allows
# script-src 'self' only, so as shipped the build cannot start. The copy instead
# names the package's own two files, served from the site: the pthread script
# (wasm-out/...worker.js, a module exporting that same string, made a plain
# script by its rewrite) and the glue (wasm-out/...threaded-simd.js). The
# pthreads then load by URL, under script-src 'self', no blob: anywhere.
_TFJS_THREADS = (
    ('u=new Blob([r],{type:"application/javascript"});return URL.createObjectURL(u)}',
     'u=null;return(null!=Sr?Sr:n)+"tfjs-backend-wasm-threaded-simd.worker.js"}'),
    ('i.mainScriptUrlOrBlob=new Blob(["var WasmBackendModuleThreadedSimd = "+yr.toString()],'
     '{type:"text/javascript"})',
     'i.mainScriptUrlOrBlob=(null!=Sr?Sr:"")+"tfjs-backend-wasm-threaded-simd.js"'),
)
_TFJS_WORKER = (("module.exports.wasmWorkerContents = `", ""), ("throw ex}};`;", "throw ex}};"))

RUNTIMES: dict[str, Runtime] = {
    "onnx": Runtime(
        name="onnx", package="onnxruntime-web", version=ORT_VERSION,
        files=(
            # The plain wasm build: the JSEP build (ort.min.js) ran the same model
            # 1.8x slower in wasm and needs 'unsafe-eval' under a CSP.
            VendorFile(_ORT, "dist/ort.wasm.min.mjs",
                       "219e6a1fc8a9938268d18efca3c91d310bd2f4a59bbd13744df5b2b7fc6cee3b"),
            VendorFile(_ORT, "dist/ort-wasm-simd-threaded.mjs",
                       "e13f7f94fc51b4ca72b12faeb1ee95f4ace6dfbc8939bc718aabdc0a27c4299b"),
            VendorFile(_ORT, "dist/ort-wasm-simd-threaded.wasm",
                       "3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2"),
            # WebGPU through the native execution provider (not JSEP, which returned
            # wrong float16 numbers silently and builds code with `new Function`),
            # in the asyncify build: the JSPI one is smaller but Chromium-only.
            VendorFile(_ORT, "dist/ort.webgpu.min.mjs",
                       "3dffff71811bc13a3a3d9591c57ca5ee5735b8f5f3eaf789510b02bb040ae3a0"),
            VendorFile(_ORT, "dist/ort-wasm-simd-threaded.asyncify.mjs",
                       "3d1c85995364bb643302fc6fd877a0c3ba5ae72401815e0f24828a53d9191e28"),
            VendorFile(_ORT, "dist/ort-wasm-simd-threaded.asyncify.wasm",
                       "39f9f0894d478800487ed9f7dbe92618498db320cf55c8e3d89adff8dce658da"),
            VendorFile(_ORT, "dist/ort.webgl.min.mjs",
                       "bf9d3bf9589b7caecd4f3ed3fccd7cdb15210c908e8f51f62fba9fdf0a532af9"),
        ),
        backends={
            "webgpu": ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs",
                       "ort-wasm-simd-threaded.asyncify.wasm"),
            "webgl": ("ort.webgl.min.mjs",),
            "wasm": ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs",
                     "ort-wasm-simd-threaded.wasm"),
        },
    ),
    "tfjs": Runtime(
        name="tfjs", package="tfjs", version=TFJS_VERSION,
        files=(
            # UMD builds, loaded as classic scripts: the ES builds of the backends
            # import "@tensorflow/tfjs-core" by bare name, and the wasm one imports
            # Node's "fs" and "path", which no browser resolves.
            VendorFile(_TF + "core", "dist/tf-core.min.js",
                       "0924438788ff7da57b14d0f7c45a05d81611a5a4b52653da6d065e86d348757c"),
            VendorFile(_TF + "converter", "dist/tf-converter.min.js",
                       "0cf35a2982b637997e8cae097c991c0123b7d5393b3d45730aa732b907c6cd1b"),
            VendorFile(_TF + "backend-wasm", "dist/tf-backend-wasm.min.js",
                       "691bbec0ef8b5a7f17f212e9c5d85832030f90d030b46e99acb4dea1fb16f009",
                       rewrite=_TFJS_THREADS),
            VendorFile(_TF + "backend-wasm", "dist/tfjs-backend-wasm.wasm",
                       "70a5d516060464e5269f01c74bac1772d6b8ab6cb612acf16b5cdaf61f78d892"),
            VendorFile(_TF + "backend-wasm", "dist/tfjs-backend-wasm-simd.wasm",
                       "77ebb28a6d34f371dbbf2086b7f2de8994acd8ea5a3cf1fa24d2c26c840cac7b"),
            VendorFile(_TF + "backend-wasm", "dist/tfjs-backend-wasm-threaded-simd.wasm",
                       "c052228d4bef185c27bbe59a9e029570c78bbb9f08b3cb46b597851650373de2"),
            # The threaded build's pthread script and the glue it imports, as files
            # (see _TFJS_THREADS); the page fetches them only when it runs threads.
            VendorFile(_TF + "backend-wasm", "wasm-out/tfjs-backend-wasm-threaded-simd.worker.js",
                       "2d56f7279a8515423f59e3a8a5793d27aee4fcf4c9f955c28c6d38a4462f9472",
                       rewrite=_TFJS_WORKER),
            VendorFile(_TF + "backend-wasm", "wasm-out/tfjs-backend-wasm-threaded-simd.js",
                       "d79fba6f8a1648e9e068c73930d4898d99fcc24ca3163a8679464c96a644949f"),
            VendorFile(_TF + "backend-webgpu", "dist/tf-backend-webgpu.min.js",
                       "c02ae6ef5e7fff6dc9cec8b14b45e36e8894614f3ef006973e98f7568b590f3f"),
            VendorFile(_TF + "backend-webgl", "dist/tf-backend-webgl.min.js",
                       "b41fcbb4aee7721af0cc77ecfede60b44ad4ed6d5782a8392b84f774f4359a45"),
            VendorFile(_TF + "backend-cpu", "dist/tf-backend-cpu.min.js",
                       "4f232e90455e04cc5f69a691295d07a881a4ad93d7f229598459b9b533259d83"),
        ),
        backends={
            "webgpu": ("tf-core.min.js", "tf-converter.min.js", "tf-backend-webgpu.min.js"),
            "wasm": ("tf-core.min.js", "tf-converter.min.js", "tf-backend-wasm.min.js",
                     "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm",
                     "tfjs-backend-wasm-threaded-simd.wasm",
                     "tfjs-backend-wasm-threaded-simd.worker.js",
                     "tfjs-backend-wasm-threaded-simd.js"),
            "webgl": ("tf-core.min.js", "tf-converter.min.js", "tf-backend-webgl.min.js"),
            "cpu": ("tf-core.min.js", "tf-converter.min.js", "tf-backend-cpu.min.js"),
        },
    ),
    "litert": Runtime(
        name="litert", package="litertjs", version=LITERT_VERSION,
        files=(
            VendorFile(_LITERT, "dist/index.js",
                       "e7daccc3a31eef890848a737ccb863ded5f046a6b40c3fdc0556495adeb5d9b3",
                       site_name="litert.js", rewrite=_LITERT_IMPORT),
            VendorFile("@litertjs/wasm-utils", "dist/index.js",
                       "e0e20bc28ab001ac732cf40d15b6eebd24fb0deaeb95eeba5100f51eebf015f2",
                       site_name="litert-wasm-utils.js", rewrite=_LITERT_LOADER),
            # Three builds; the page fetches one (static/js/runtimes/litert.js): threads
            # and relaxed SIMD where the browser has both and the page is cross-origin
            # isolated, relaxed SIMD on one thread, or plain SIMD (the compat build).
            # All three carry the WebGPU accelerator. (The JSPI build, for WebNN and
            # for a model split between WebGPU and wasm, is left out.)
            VendorFile(_LITERT, "wasm/litert_wasm_threaded_internal.js",
                       "92fe7a720c6deedaa1194c011c79a005ea4f6fc98f533b661cf7900760ab4849",
                       rewrite=_LITERT_GLUE),
            VendorFile(_LITERT, "wasm/litert_wasm_threaded_internal.wasm",
                       "b5e54eca10f043497edf9a02186332707cae260c550d7ea22b2cae55669596cf"),
            VendorFile(_LITERT, "wasm/litert_wasm_internal.js",
                       "68efb69f770e3f76aff36a377de629ca496c131b86ac0f0f4b592a1543a898eb",
                       rewrite=_LITERT_GLUE),
            VendorFile(_LITERT, "wasm/litert_wasm_internal.wasm",
                       "7280cf4471774867e385e6c3cd53e2b45e2975b80fea338fff4ef359b0865614"),
            VendorFile(_LITERT, "wasm/litert_wasm_compat_internal.js",
                       "4d8f894b7883654fd6e8439730aa41e79ceaab7d19184fc4f1f0b0f1a2a2c8a5",
                       rewrite=_LITERT_GLUE),
            VendorFile(_LITERT, "wasm/litert_wasm_compat_internal.wasm",
                       "5255c8ad06eabdbd2522cdebf6b22fc10faf74625c23a49b9e072570cd1fa41c"),
        ),
        backends={
            # Each backend lists every build: which one a visitor fetches, the page
            # decides (static/js/runtimes/litert.js), so the site ships all three.
            backend: ("litert.js", "litert-wasm-utils.js",
                      "litert_wasm_threaded_internal.js", "litert_wasm_threaded_internal.wasm",
                      "litert_wasm_internal.js", "litert_wasm_internal.wasm",
                      "litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm")
            for backend in ("webgpu", "wasm")
        },
    ),
}

# onnxruntime-web's build with its wasm glue inside, for --single-file
# (webapp/single_file.py): from disk there is no second module to import.
# Its one rewrite: for a module under file:// it rebuilds its own URL against
# location.origin, which Firefox gives a file:// page as "null", an invalid base
# that throws ("URL constructor: null is not a valid URL"); Chromium's "file://"
# gives back import.meta.url itself, which the rewrite now always takes.
ORT_SINGLE_FILE = VendorFile(
    _ORT, "dist/ort.wasm.bundle.min.mjs",
    "11e64bd8ffe11bd1a2a2f0d6275fdfbbba7262f0b76b99b53d228a8a22ef3d90",
    rewrite=(('an=import.meta.url>"file:"&&import.meta.url<"file;"', "an=!1"),))

# The backends a site ships when the user names none, in the order the page's
# `auto` tries them: GPU first. The page skips a GPU backend in `auto` when the
# adapter is a software rasterizer (SwiftShader: WebGL was 17x and WebGPU 100x
# slower than WebAssembly here); `?backend=` still picks it. The page downloads
# only the files of the backend it starts.
DEFAULT_BACKENDS = {"onnx": ("webgpu", "webgl", "wasm"), "tfjs": ("webgpu", "webgl", "wasm", "cpu"),
                    "litert": ("webgpu", "wasm")}

# The `convert --to` target that makes each runtime's model.
TARGETS = {"onnx": "onnx", "tfjs": "tfjs", "litert": "tflite"}

# The tokenizer a text site's page runs in its inference worker (converter.tasks):
# one plain ES module, no imports and no eval, so it loads under the page's CSP
# with no bundler, after the worker checks it against the manifest's sha256.
TOKENIZERS_VERSION = "0.2.0"
TOKENIZER = VendorFile("@huggingface/tokenizers", "dist/tokenizers.min.mjs",
                       "258e46332101335ce8d95aed7745b19ac3b46d37f3e159a89cf894c2ea9b1d3a")
TOKENIZER_FOLDER = f"vendor/tokenizers-{TOKENIZERS_VERSION}"


# In a wheel: the pinned files, laid out as in node_modules (see hatch_build.py).
PACKAGED = Path(__file__).resolve().parent / "node_modules"


def node_modules() -> Path:
    """Where the pinned npm packages are.

    $WEBML_NODE_MODULES when set; else the copy an installed wheel carries;
    else the checkout's node_modules (``npm ci``).
    """
    override = os.environ.get("WEBML_NODE_MODULES")
    if override:
        return Path(override)
    if PACKAGED.is_dir():
        return PACKAGED
    return Path(__file__).resolve().parent.parent / "node_modules"


def all_files() -> tuple[VendorFile, ...]:
    """Every pinned file a site can ship (--single-file's, a text site's tokenizer): a wheel's."""
    return (*(f for runtime in RUNTIMES.values() for f in runtime.files), ORT_SINGLE_FILE,
            TOKENIZER)


def runtime_bytes(file: VendorFile) -> bytes:
    """A pinned runtime file's bytes as a site holds them: checked, then rewritten."""
    from converter.files import sha256_file  # here: see the module docstring

    root = node_modules()
    source = root / file.package / file.path
    if not source.is_file():
        hint = ("reinstall webml: its wheel carries the runtime files" if root == PACKAGED
                else "run `npm ci` in the webml checkout (or set WEBML_NODE_MODULES)")
        raise BuildError(f"runtime file {file.package}/{file.path} is not installed", hint)
    digest = sha256_file(source)
    if digest != file.sha256:
        raise BuildError(f"runtime file {file.package}/{file.path} has sha256 {digest[:12]}..., "
                         f"not the pinned {file.sha256[:12]}...",
                         "run `npm ci` to reinstall the pinned versions" if root != PACKAGED
                         else "reinstall webml")
    data = source.read_bytes()
    for text, replacement in file.rewrite:
        if data.count(text.encode()) != 1:
            raise BuildError(f"runtime file {file.package}/{file.path} does not hold {text!r} "
                             "once, as the copy's rewrite expects", "run `npm ci`")
        data = data.replace(text.encode(), replacement.encode())
    return data


def copy_runtime_file(file: VendorFile, target: Path) -> str:
    """Copy one runtime file into a site after checking its pinned sha256.

    Returns the sha256 of the copy: the pinned one, or the rewritten file's.
    """
    data = runtime_bytes(file)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return hashlib.sha256(data).hexdigest() if file.rewrite else file.sha256

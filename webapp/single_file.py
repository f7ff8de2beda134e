"""webml build --single-file: one .html that works opened straight from disk.

A page opened from ``file://`` cannot fetch anything (its origin is 'null'),
so everything is inlined: the page's modules (joined in dependency order, each
in its own function scope), the runtime (onnxruntime-web's bundle build, or
TensorFlow.js's UMD scripts), the wasm binaries and the model (base64 in a JSON
block). It runs on the main thread, WebAssembly only, on one thread: a page
from disk gets neither workers of its own files nor cross-origin isolation.
Its CSP allows only those inline scripts, by hash.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from converter.errors import BuildError
from converter.files import sha256_file
from converter.manifest import Manifest, ModelFile, Vendor
from webapp import runtimes
from webapp.assets import static_root
from webapp.build import sri

# The page's modules in the single file: all but the worker's entry, which a
# page from disk cannot start (the page then runs the adapter itself).
SKIPPED_MODULES = ("js/worker.js",)

ORT_SINGLE_FILE = runtimes.ORT_SINGLE_FILE

_IMPORT = re.compile(r"^import \{([^}]*)\} from '([^']+)';\n", re.M)
_EXPORT = re.compile(r"^export (?:async )?(?:function\*? |const |let |class )([A-Za-z_$][\w$]*)",
                     re.M)
_DYNAMIC = re.compile(r"import\('(\.[^']+)'\)")
_FINAL_EXPORT = re.compile(r"export\s*\{([^}]*)\};?\s*(//# sourceMappingURL=\S+)?\s*$")


def write_single_file(manifest: Manifest, model_dir: Path, out: Path) -> Path:
    """Write the page for ``manifest`` (files in ``model_dir``) as one file, ``out``."""
    runtime = runtimes.RUNTIMES[manifest.runtime]
    # The single file runs on wasm only: it carries that backend's model files.
    manifest = dataclasses.replace(manifest, entry=manifest.entry_for("wasm"), variants={},
                                   files=manifest.files_for("wasm"))
    data = {"files": {f.path: _b64(model_dir / f.path) for f in manifest.files},
            "modules": {}, "wasm": {}}
    scripts = []
    if manifest.runtime == "onnx":
        entry = f"{runtime.folder}/ort.wasm.min.mjs"
        code = runtimes.runtime_bytes(ORT_SINGLE_FILE).decode("utf-8")
        scripts.append(("module", _expose_exports(code, entry)))
        wasm = next(f for f in runtime.files if f.name == "ort-wasm-simd-threaded.wasm")
        data["files"][f"{runtime.folder}/{wasm.name}"] = _b64(_pinned_path(wasm))
    elif manifest.runtime == "litert":
        litert_vendor = _inline_litert(runtime, scripts, data)
    else:
        for file in runtime.files_for(("wasm",)):
            if file.name.endswith(".min.js"):  # not the threaded build's pthread files
                scripts.append(("classic", _pinned_path(file).read_text(encoding="utf-8")))
            else:
                data["wasm"][file.name] = _b64(_pinned_path(file))
    vendor = Vendor(runtime.package, runtime.version, ("wasm",),
                    tuple(ModelFile(f"{runtime.folder}/{f.name}", f.sha256,
                                    _pinned_path(f).stat().st_size)
                          for f in runtime.files_for(("wasm",))),
                    {"wasm": tuple(f"{runtime.folder}/{name}" for name in
                                   runtime.backends["wasm"])})
    if manifest.runtime == "litert":
        vendor = litert_vendor
    page_manifest = dataclasses.replace(manifest, vendor=vendor)
    data["manifest"], golden = page_manifest.to_json(), page_manifest.golden.encode()[1]
    if golden:  # the golden file, read like the model's files
        data["files"][data["manifest"]["golden"]["file"]["path"]] = base64.b64encode(
            golden).decode("ascii")
    scripts.append(("module", _bundle_page()))
    out.write_text(_html(scripts, data), encoding="utf-8")
    return out


def _pinned_path(file: runtimes.VendorFile) -> Path:
    """The installed runtime file, after checking it is the pinned one."""
    path = runtimes.node_modules() / file.package / file.path
    if not path.is_file() or sha256_file(path) != file.sha256:
        raise BuildError(f"runtime file {file.package}/{file.path} is missing or not the "
                         "pinned version", "run `npm ci` in the webml checkout")
    return path


# LiteRT.js in a single file: its compat build, the one every engine runs (a page
# from disk is never cross-origin isolated, so it would get no threads anyway).
LITERT_SINGLE_FILE = ("litert.js", "litert-wasm-utils.js", "litert_wasm_compat_internal.js",
                      "litert_wasm_compat_internal.wasm")
_LITERT_IMPORT = re.compile(r'^import \{ createWasmLib \} from "\./litert-wasm-utils\.js";\n',
                            re.M)


def _inline_litert(runtime: runtimes.Runtime, scripts: list[tuple[str, str]],
                   data: dict[str, Any]) -> Vendor:
    """LiteRT.js as the site copies it: its glue as a classic script (which sets
    ModuleFactory, so its loader fetches no script), its loader and wasm-utils as
    one module, the build's wasm with the model's files. Returns what it carries."""
    by_name = {f.name: f for f in runtime.files}
    carried = [by_name[name] for name in LITERT_SINGLE_FILE]
    code = {f.name: runtimes.runtime_bytes(f) for f in carried}
    scripts.append(("classic", code["litert_wasm_compat_internal.js"].decode("utf-8")))
    utils = _FINAL_EXPORT.sub("", code["litert-wasm-utils.js"].decode("utf-8"))
    loader, found = _LITERT_IMPORT.subn("", code["litert.js"].decode("utf-8"))
    if found != 1:
        raise BuildError("cannot inline LiteRT.js: its loader's import is not where expected",
                         "reinstall the pinned runtime with `npm ci`")
    scripts.append(("module", _expose_exports(f"{utils}\n{loader}",
                                              f"{runtime.folder}/litert.js")))
    wasm = by_name["litert_wasm_compat_internal.wasm"]
    data["files"][f"{runtime.folder}/{wasm.name}"] = base64.b64encode(
        code[wasm.name]).decode("ascii")
    paths = tuple(f"{runtime.folder}/{f.name}" for f in carried)
    return Vendor(runtime.package, runtime.version, ("wasm",),
                  tuple(ModelFile(path, hashlib.sha256(code[f.name]).hexdigest(),
                                  len(code[f.name])) for path, f in zip(paths, carried,
                                                                        strict=True)),
                  {"wasm": paths})


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _expose_exports(code: str, name: str) -> str:
    """Turn an ES module's final ``export{a as b}`` into a registration by ``name``."""
    match = _FINAL_EXPORT.search(code)
    if match is None:
        raise BuildError(f"cannot inline {name}: no final export statement",
                         "reinstall the pinned runtime with `npm ci`")
    pairs = [part.strip().split(" as ") for part in match.group(1).split(",")]
    exported = ",".join(f"{p[-1]}:{p[0]}" for p in pairs)
    return (code[:match.start()]
            + f"(globalThis.webmlModules??={{}})[{json.dumps(name)}]={{{exported}}};")


def _module_order(root: Path) -> list[str]:
    """The page's modules, each after the ones it imports."""
    sources = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
               for p in sorted((root / "js").rglob("*.js"))}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name in SKIPPED_MODULES:
            return
        for _, target in _IMPORT.findall(sources[name]):
            visit(_resolve(name, target))
        order.append(name)

    for name in sources:
        visit(name)
    return order


def _resolve(importer: str, target: str) -> str:
    parts = importer.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _bundle_page() -> str:
    """Every page module in one script, each in a function scope, main.js last."""
    root = static_root()
    order = _module_order(root)
    order.remove("js/main.js")
    order.append("js/main.js")
    chunks = ["const __m = {};"]
    for name in order:
        code = (root / name).read_text(encoding="utf-8")
        code = _IMPORT.sub(lambda m, n=name: f"const {{{m.group(1)}}} = "
                                             f"__m[{json.dumps(_resolve(n, m.group(2)))}];\n",
                           code)
        code = _DYNAMIC.sub(lambda m, n=name: f"Promise.resolve(__m["
                                              f"{json.dumps(_resolve(n, m.group(1)))}])", code)
        exported = _EXPORT.findall(code)
        code = re.sub(r"^export ", "", code, flags=re.M)
        chunks.append(f"__m[{json.dumps(name)}] = (() => {{\n{code}\n"
                      f"return {{ {', '.join(exported)} }};\n}})();")
    return "\n".join(chunks)


def _sha(text: str) -> str:
    return f"'{sri(text.encode())}'"


def _html(scripts: list[tuple[str, str]], data: dict[str, object]) -> str:
    root = static_root()
    style = (root / "css" / "app.css").read_text(encoding="utf-8")
    body = (root / "index.html").read_text(encoding="utf-8")
    body = body[body.index("<body>"):body.index("</body>") + len("</body>")]
    csp = "; ".join((
        "default-src 'none'",
        "script-src " + " ".join(_sha(code) for _, code in scripts) + " 'wasm-unsafe-eval'",
        "style-src " + _sha(style),
        # The runtimes read their inlined wasm through data: URLs.
        "connect-src data:",
        "img-src data: blob:",
        "base-uri 'none'",
        "form-action 'none'",
    ))
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    opening = {"module": '<script type="module">', "classic": "<script>"}
    tags = "".join(f"{opening[kind]}{code}</script>\n" for kind, code in scripts)
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="generator" content="webml">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n<title>webml</title>\n'
        '<link rel="icon" href="data:,">\n'
        f"<style>{style}</style>\n"
        f'<script type="application/json" id="webml-data">{payload}</script>\n'
        f"{tags}</head>\n{body}\n</html>\n")

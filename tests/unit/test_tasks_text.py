"""Text tasks: the page's tokenize stage (JavaScript, @huggingface/tokenizers) gives the
ids the Python reference (the tokenizers library) gives, and convert writes the pipeline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converter.errors import UnsupportedModelError
from converter.manifest import read_manifest
from converter.pipeline import ConvertOptions, convert_model
from converter.spec import TensorSpec
from converter.tasks import TextPipeline, scores, tokenize
from converter.tasks import pipeline as text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import text_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs"

# Strings that trip tokenizers: accents and combining marks, NFKC cases, emoji (with
# modifiers and joiners), CJK, Arabic, runs of whitespace, zero-width characters, a
# text long enough to truncate, and nothing at all.
HARD = [
    "Café au lait, naïve façade, résumé.",
    "e\u0301 vs \u00e9, A\u030a vs \u00c5",
    "ﬁne ① ™ Ｆｕｌｌｗｉｄｔｈ ｶﾀｶﾅ ㎏",
    "Emoji 🙂 👍🏽 👨‍👩‍👧 🇫🇷!",
    "東京タワーは高い。北京欢迎你",
    "مرحبا بالعالم، كيف حالك؟",
    "a    b\t\t\nc \u00a0 d\u3000e",
    "zero\u200bwidth and soft\u00adhyphen",
    " ".join(text_models.SENTENCES) * 3,
    "",
    "[CLS] looks special, <|endoftext|> too",
    "Prices: 1234.56 € and ２０２４年; don't STOP—it's O'Neil's 3rd!!",
]
INPUTS = (TensorSpec("input_ids", "int64", (None, None)),
          TensorSpec("attention_mask", "int64", (None, None)))

node = shutil.which("node")
needs_node = pytest.mark.skipif(node is None or not LIBRARY.is_file(),
                                reason="node and the pinned @huggingface/tokenizers (npm ci)")

NODE_SCRIPT = """
import { readFileSync } from 'node:fs';
const { Tokenizer } = await import(process.argv[2]);
const { encode, makeTokenizer } = await import(process.argv[3]);
const { stage, file, texts } = JSON.parse(readFileSync(process.argv[4], 'utf8'));
const tokenizer = makeTokenizer(Tokenizer, readFileSync(file));
console.log(JSON.stringify(texts.map((t) => encode(tokenizer, stage, t))));
"""


def _page_encodings(tmp_path: Path, stage: tokenize.TokenizeStage, file: Path,
                    texts: list[str]) -> list[dict]:
    script = tmp_path / "encode.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"stage": stage.to_json(), "file": str(file), "texts": texts}),
                   encoding="utf-8")
    module = (ROOT / "static/js/tasks/tokenize.js").as_uri()
    done = subprocess.run([node, str(script), LIBRARY.as_uri(), module, str(job)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@needs_node
@pytest.mark.parametrize("make", [text_models.wordpiece, text_models.byte_level_bpe,
                                  text_models.classic_bpe, text_models.unigram,
                                  text_models.wordpiece_punctuation],
                         ids=["wordpiece", "byte-level-bpe", "classic-bpe", "unigram",
                              "wordpiece-punctuation-digits"])
@pytest.mark.parametrize("fixed", [None, 24], ids=["dynamic", "padded-to-24"])
def test_js_tokenize_stage_matches_the_python_library(tmp_path: Path, make, fixed) -> None:
    file = make(tmp_path / "tokenizer.json")
    inputs = tuple(t.with_shape((None, fixed)) for t in INPUTS)
    stage = tokenize.stage_for(file, inputs)
    assert stage.max_length == 16 and stage.pad_to == fixed
    reference = tokenize.load(stage, tmp_path)
    want = [tokenize.encode(reference, t) for t in HARD]
    got = _page_encodings(tmp_path, stage, file, HARD)
    for text_, a, b in zip(HARD, want, got, strict=True):
        assert b["ids"] == a.ids, text_
        assert b["mask"] == a.mask and b["typeIds"] == a.type_ids, text_
        assert b["truncated"] == a.truncated, text_
    # The corpus exercises what it claims to: truncation, an empty text, unknown pieces.
    assert [e.truncated for e in want].count(True) >= 1
    long = want[HARD.index(" ".join(text_models.SENTENCES) * 3)]
    assert long.truncated and sum(long.mask) == 16
    assert len(want[HARD.index("")].ids) == (fixed or len(want[HARD.index("")].ids))


def test_stage_takes_truncation_from_tokenizer_json_and_length_from_the_model(
        tmp_path: Path) -> None:
    file = text_models.wordpiece(tmp_path / "tokenizer.json", max_length=40)
    assert tokenize.stage_for(file, INPUTS).max_length == 40
    fixed = tokenize.stage_for(file, tuple(t.with_shape((1, 12)) for t in INPUTS))
    assert (fixed.max_length, fixed.pad_to) == (12, 12)
    again = tokenize.TokenizeStage.from_json(json.loads(json.dumps(fixed.to_json())))
    assert again == fixed


def test_stage_refuses_inputs_no_text_fills(tmp_path: Path) -> None:
    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    with pytest.raises(UnsupportedModelError, match="no text fills the input 'pixels'"):
        tokenize.stage_for(file, (*INPUTS, TensorSpec("pixels", "float32", (1, 4))))
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(UnsupportedModelError, match="cannot read the tokenizer"):
        tokenize.stage_for(bad, INPUTS)


def test_text_task_needs_a_tokenizer_and_the_other_way_round(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="--tokenizer tokenizer.json"):
        text.check_task("text-classification", None)
    with pytest.raises(UnsupportedModelError, match="--tokenizer needs a text task"):
        text.check_task("classification", tmp_path / "tokenizer.json")


def test_convert_writes_the_pipeline_and_golden_input_is_the_sample_sentence(
        tmp_path: Path) -> None:
    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    vocab = json.loads(file.read_text(encoding="utf-8"))["model"]["vocab"]
    model = text_models.classifier(tmp_path / "clf.onnx", len(vocab))
    result = convert_model(model, tmp_path / "out", ConvertOptions(
        task="text-classification", tokenizer=file, labels=text_models.LABELS))
    manifest = read_manifest(tmp_path / "out")
    pipeline = manifest.pipeline
    assert isinstance(pipeline, TextPipeline) and manifest.task == "classification"
    assert [s["name"] for s in pipeline.post] == ["labels"]  # the model ends in a softmax
    assert any(f.path == "tokenizer.json" for f in manifest.files)
    reference = tokenize.load(pipeline.tokenize, result.out_dir)
    sample = tokenize.encode(reference, pipeline.sample_text)
    np.testing.assert_array_equal(manifest.golden.inputs["input_ids"], [sample.ids])
    np.testing.assert_array_equal(manifest.golden.inputs["attention_mask"], [sample.mask])
    # The pipeline survives its own JSON.
    assert TextPipeline.from_json(json.loads(json.dumps(pipeline.to_json()))) == pipeline


def test_softmax_stage_only_when_the_model_gives_logits() -> None:
    logits = np.array([[2.0, -1.0, 0.5]])
    probabilities = scores.softmax(logits)
    assert scores.looks_like_probabilities(probabilities)
    assert not scores.looks_like_probabilities(logits)
    stage = tokenize.TokenizeStage("input_ids")
    assert [s["name"] for s in text.finish("text-classification", stage, {"y": logits}).post] \
        == ["softmax", "labels"]
    ranked = scores.labelled(probabilities, ("a", "b", "c"))
    assert [r["label"] for r in ranked] == ["a", "c", "b"]


def test_input_file_reads_txt_and_jsonl(tmp_path: Path) -> None:
    txt = tmp_path / "in.txt"
    txt.write_text("first line\n\nthird, after an empty one\n", encoding="utf-8")
    assert text.read_texts(txt) == ["first line", "", "third, after an empty one"]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('"plain"\n{"text": "with key"}\n', encoding="utf-8")
    assert text.read_texts(jsonl) == ["plain", "with key"]
    jsonl.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(UnsupportedModelError, match="line 1"):
        text.read_texts(jsonl)


def test_verify_flags_other_ids_and_other_truncation(tmp_path: Path) -> None:
    from webapp.verify_text import TextReference, compare

    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    stage = tokenize.stage_for(file, INPUTS)
    reference = tokenize.load(stage, tmp_path)
    pipeline = text.finish("text-classification", stage, {"probs": np.array([[0.2, 0.8]])})
    answer = text.answer(pipeline, reference, lambda f: {"probs": np.array([[1.0, 3.0]])},
                         ("no", "yes"), "Café au lait")
    found = TextReference("Café au lait", answer)
    page = {"ids": answer.encoded.ids, "truncated": False, "labels": answer.labels}
    want, got, problem = compare(found, page, "probs")
    assert problem == "" and np.array_equal(want["probs"], got["probs"])
    assert want["probs"].shape == (1, 2) and want["probs"][0, 1] > want["probs"][0, 0]
    _, _, problem = compare(found, {**page, "ids": [*answer.encoded.ids[:-1], 0]}, "probs")
    assert "the page's token ids" in problem
    _, _, problem = compare(found, {**page, "truncated": True}, "probs")
    assert "truncated in the page only" in problem


def test_manifest_doc_names_every_pipeline_field(tmp_path: Path) -> None:
    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    stage = tokenize.stage_for(file, tuple(t.with_shape((None, 20)) for t in INPUTS))
    data = TextPipeline("text-classification", stage, ({"name": "labels"},)).to_json()
    doc = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    keys = [*data, *data["stages"][0], *data["stages"][0]["inputs"],
            *data["stages"][0]["padding"]]
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"docs/manifest.md does not describe {', '.join(missing)}"


@pytest.mark.parametrize("pooling", [None, "cls"])
def test_convert_text_embedding_pools_and_normalises(tmp_path: Path, pooling) -> None:
    from converter.tasks import pooling as pool

    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    vocab = json.loads(file.read_text(encoding="utf-8"))["model"]["vocab"]
    model = text_models.encoder(tmp_path / "encoder.onnx", len(vocab))
    result = convert_model(model, tmp_path / "out", ConvertOptions(
        task="text-embedding", tokenizer=file, pooling=pooling))
    pipeline = result.manifest.pipeline
    assert result.manifest.task == "generic"
    assert pipeline.post == ({"name": "pool", "mode": pooling or "mean"}, {"name": "normalize"})
    hidden = result.manifest.golden.outputs["last_hidden_state"]
    reference = tokenize.load(pipeline.tokenize, result.out_dir)
    from converter.native import native_for
    answer = text.answer(pipeline, reference, native_for(result.manifest, result.out_dir).run,
                         None, pipeline.sample_text)
    mask = answer.encoded.mask
    expected = hidden[0, 0] if pooling == "cls" else hidden[0].sum(axis=0) / sum(mask)
    np.testing.assert_allclose(answer.embedding, expected / np.linalg.norm(expected),
                               rtol=1e-5, atol=1e-6)
    assert pool.cosine(answer.embedding, answer.embedding) == pytest.approx(1.0)


def test_text_embedding_refuses_labels_and_pooling_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="an embedding has none"):
        text.check_task("text-embedding", tmp_path / "t.json", ("a", "b"))
    with pytest.raises(UnsupportedModelError, match="--pooling is for --task text-embedding"):
        text.check_task("text-classification", tmp_path / "t.json", None, "cls")
    stage = tokenize.TokenizeStage("input_ids")
    pooled = text.finish("text-embedding", stage, {"v": np.ones((1, 4))})
    assert pooled.post == ({"name": "normalize"},)  # already one vector per text
    with pytest.raises(UnsupportedModelError, match="to pool by cls"):
        text.finish("text-embedding", stage, {"v": np.ones((1, 4))}, "cls")


def test_a_fixed_length_web_model_pads_every_text(tmp_path: Path) -> None:
    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    stage, feeds = text.prepare(file, INPUTS, 2, fixed_length=True)
    assert (stage.max_length, stage.pad_to) == (16, 16)
    assert feeds["input_ids"].shape == (2, 16)
    raw = json.loads(file.read_text(encoding="utf-8"))
    raw["truncation"] = None
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps(raw), encoding="utf-8")
    stage, feeds = text.prepare(loose, INPUTS, 1, fixed_length=True)
    assert (stage.max_length, stage.pad_to) == (text.FIXED_LENGTH, text.FIXED_LENGTH)
    assert feeds["attention_mask"].shape == (1, text.FIXED_LENGTH)
    assert feeds["attention_mask"].sum() < text.FIXED_LENGTH  # padding is masked out
    stage, feeds = text.prepare(loose, INPUTS, 1)  # onnx: dynamic, no padding
    assert stage.pad_to is None and stage.max_length is None


def test_inspect_and_convert_say_which_task_and_tokenizer_a_text_model_wants(
        tmp_path: Path) -> None:
    from converter.inspect import inspect_model
    from converter.tasks import text_hint

    model = text_models.classifier(tmp_path / "clf.onnx", 50)
    said: list[str] = []
    inspect_model(model, progress=said.append)
    wanted = "pass --task text-classification (or text-embedding) and --tokenizer tokenizer.json"
    assert any(wanted in line and "(input_ids, attention_mask)" in line for line in said)
    said.clear()
    convert_model(model, tmp_path / "out", progress=said.append)
    assert any(wanted in line for line in said)
    # Not for a picture, nor for ids beside a float input.
    assert text_hint((TensorSpec("image", "float32", (1, 8, 8, 1)),)) is None
    assert text_hint((*INPUTS, TensorSpec("x", "float32", (1, 4)))) is None
    assert text_hint(INPUTS[1:]) is None  # a mask alone is no text


def test_entities_merge_bio_runs_across_word_pieces() -> None:
    from converter.tasks import entities

    tags = text_models.TAGS  # O, B-DATE, I-DATE, B-SYMPTOM, I-SYMPTOM
    picks = [0, 1, 2, 0, 3, 4, 4, 3, 2, 0]  # the best tag of each token
    rows = np.full((len(picks), len(tags)), 0.1)
    for i, best in enumerate(picks):
        rows[i, best] = 0.6
    keep = [True] * len(picks)
    keep[-1] = False  # a special token is never part of an entity
    found = entities.entities(rows, tags, keep)
    assert [(e["label"], e["start"], e["end"]) for e in found] == [
        ("DATE", 1, 3), ("SYMPTOM", 4, 7), ("SYMPTOM", 7, 8), ("DATE", 8, 9)]
    assert found[0]["score"] == pytest.approx(0.6)
    assert entities.split_tag("PER") == ("I", "PER")
    assert entities.split_tag("S-LOC") == ("B", "LOC")


def test_convert_token_classification_needs_tags_one_per_score(tmp_path: Path) -> None:
    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    model = text_models.token_classifier(tmp_path / "ner.onnx", file)
    with pytest.raises(UnsupportedModelError, match="needs the tags"):
        convert_model(model, tmp_path / "a", ConvertOptions(task="token-classification",
                                                            tokenizer=file))
    with pytest.raises(UnsupportedModelError, match="for 2 tags"):
        convert_model(model, tmp_path / "b", ConvertOptions(
            task="token-classification", tokenizer=file, labels=("O", "B-X")))
    result = convert_model(model, tmp_path / "c", ConvertOptions(
        task="token-classification", tokenizer=file, labels=text_models.TAGS))
    pipeline = result.manifest.pipeline
    assert pipeline.post == ({"name": "softmax"}, {"name": "entities"})
    reference = tokenize.load(pipeline.tokenize, result.out_dir)
    from converter.native import native_for
    sentence = "A headache since Tuesdays, nausea in June."
    answer = text.answer(pipeline, reference, native_for(result.manifest, result.out_dir).run,
                         text_models.TAGS, sentence)
    assert [(e["label"], e["text"]) for e in answer.entities] == [
        ("SYMPTOM", "headache"), ("DATE", "Tuesdays"), ("SYMPTOM", "nausea"), ("DATE", "June")]
    tuesdays = answer.entities[1]
    assert tuesdays["end"] - tuesdays["start"] == 2  # tuesday ##s: one entity


def test_a_text_site_leaves_out_webgl_where_its_graph_fixes_the_length(tmp_path: Path) -> None:
    from converter.errors import BuildError

    stage = tokenize.TokenizeStage("input_ids")
    pipeline = TextPipeline("text-classification", stage, ({"name": "labels"},))
    said: list[str] = []
    fixed = {"webgl": "model.webgl.onnx"}
    assert text.text_backends(pipeline, fixed, ("webgpu", "webgl", "wasm"), chosen=False,
                              say=said.append) == ("webgpu", "wasm")
    assert "leaving out webgl" in said[0]
    with pytest.raises(BuildError, match="--backends webgl cannot run this site"):
        text.text_backends(pipeline, fixed, ("webgl",), chosen=True, say=said.append)
    padded = TextPipeline("text-classification", tokenize.TokenizeStage("input_ids", pad_to=16),
                          ({"name": "labels"},))
    assert text.text_backends(padded, fixed, ("webgl",), chosen=True, say=said.append) == \
        ("webgl",)
    assert text.text_backends(None, fixed, ("webgl",), chosen=True, say=said.append) == ("webgl",)


def test_single_file_refuses_a_text_site_and_writes_nothing(tmp_path: Path) -> None:
    from converter.errors import BuildError
    from webapp.build import BuildOptions, build_site

    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    model = text_models.classifier(tmp_path / "clf.onnx", 300)
    out = convert_model(model, tmp_path / "out", ConvertOptions(
        task="text-classification", tokenizer=file)).out_dir
    with pytest.raises(BuildError, match="--single-file does not carry a text model's tokenizer"):
        build_site(out, tmp_path / "page.html", BuildOptions(single_file=True))
    assert not (tmp_path / "page.html").exists()


@needs_node
def test_left_truncation_and_padding_to_a_multiple_match_the_python_library(
        tmp_path: Path) -> None:
    file = text_models.byte_level_bpe(tmp_path / "tokenizer.json")
    raw = json.loads(file.read_text(encoding="utf-8"))
    raw["truncation"]["direction"] = "Left"
    raw["padding"] = {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": 8,
                      "pad_id": 0, "pad_type_id": 0, "pad_token": "<pad>"}
    file.write_text(json.dumps(raw), encoding="utf-8")
    stage = tokenize.stage_for(file, INPUTS)
    assert (stage.direction, stage.pad_multiple_of, stage.pad_direction) == ("left", 8, "left")
    reference = tokenize.load(stage, tmp_path)
    texts = [*HARD, "Hi there.", "ok"]  # short ones: byte-level BPE cuts most of HARD at 16
    want = [tokenize.encode(reference, t) for t in texts]
    got = _page_encodings(tmp_path, stage, file, texts)
    for text_, a, b in zip(texts, want, got, strict=True):
        assert (b["ids"], b["mask"], b["truncated"]) == (a.ids, a.mask, a.truncated), text_
        assert len(a.ids) % 8 == 0, text_
    long = want[HARD.index(" ".join(text_models.SENTENCES) * 3)]
    assert long.truncated and long.mask[0] == 1  # cut on the left: no room left for padding
    assert want[-1].mask[0] == 0 and want[-1].mask[-1] == 1  # padded on the left


def test_a_tokenizer_the_page_cannot_run_is_refused_at_convert(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.save(str(tmp_path / "wordlevel.json"))
    with pytest.raises(UnsupportedModelError, match="cannot run this tokenizer.json's model "
                                                    "WordLevel"):
        tokenize.stage_for(tmp_path / "wordlevel.json", INPUTS)
    file = text_models.wordpiece(tmp_path / "tokenizer.json")
    tok = Tokenizer.from_file(str(file))
    tok.pre_tokenizer = pre_tokenizers.UnicodeScripts()
    tok.save(str(tmp_path / "scripts.json"))
    with pytest.raises(UnsupportedModelError, match="pre-tokenizer UnicodeScripts"):
        tokenize.stage_for(tmp_path / "scripts.json", INPUTS)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("merged_with_next")])
    tok.save(str(tmp_path / "merged.json"))
    with pytest.raises(UnsupportedModelError, match="behavior MergedWithNext"):
        tokenize.stage_for(tmp_path / "merged.json", INPUTS)

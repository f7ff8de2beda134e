"""Generated inputs look like real ones where the model says enough; a user can give their own.

Ids stay within the table they index (Gather, Keras Embedding), masks are
ones, a recurrent state starts at zero; ``--sample-inputs`` replaces the
golden input; a failing golden run is one line naming the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from onnx_models import save_onnx

from converter import ConvertOptions, convert_model
from converter.manifest import read_manifest
from converter.reference import sample_feeds, site_hints
from webapp.cli import cli

SEQUENCE = 8


@pytest.fixture(scope="module")
def bert_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """input_ids, attention_mask, token_type_ids (int64); token types index a 2-row table."""
    rng = np.random.default_rng(7)
    ids = [helper.make_tensor_value_info(name, TensorProto.INT64, [1, SEQUENCE])
           for name in ("input_ids", "attention_mask", "token_type_ids")]
    nodes = [
        helper.make_node("Gather", ["words", "input_ids"], ["word_vectors"], name="word_lookup"),
        helper.make_node("Gather", ["types", "token_type_ids"], ["type_vectors"],
                         name="type_lookup"),
        helper.make_node("Add", ["word_vectors", "type_vectors"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last"], ["mask_3d"]),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["pooled"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "bert_like", ids,
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(rng.normal(size=(30, 4)).astype(np.float32), "words"),
         numpy_helper.from_array(rng.normal(size=(2, 4)).astype(np.float32), "types"),
         numpy_helper.from_array(np.array([-1], np.int64), "last"),
         numpy_helper.from_array(np.array([1], np.int64), "axis1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_onnx(model, tmp_path_factory.mktemp("bert") / "bert_like.onnx")


def test_ids_stay_within_their_table_and_masks_are_ones(tmp_path: Path,
                                                        bert_like: Path) -> None:
    result = convert_model(bert_like, tmp_path / "out", ConvertOptions())
    inputs = result.manifest.golden.inputs
    assert inputs["token_type_ids"].min() >= 0 and inputs["token_type_ids"].max() <= 1
    assert inputs["input_ids"].max() < 30 and len(np.unique(inputs["input_ids"])) > 2
    assert np.all(inputs["attention_mask"] == 1)
    # verify's samples are drawn the same way, from the site's own model files
    manifest = read_manifest(result.out_dir)
    hints = site_hints(manifest, result.out_dir)
    assert hints["token_type_ids"].describe("token_type_ids") == (
        "token_type_ids: ints in [0, 2) (indexes a 2-row table in 'type_lookup')")
    for feeds in sample_feeds(manifest.inputs, 4, seed=1000, hints=hints):
        assert feeds["token_type_ids"].max() <= 1 and feeds["input_ids"].max() < 30


def test_sample_inputs_make_the_golden_input_and_a_bad_one_is_one_line(
        tmp_path: Path, bert_like: Path) -> None:
    ids = np.arange(2 * SEQUENCE, dtype=np.int64).reshape(2, SEQUENCE) % 30
    ones = np.ones((2, SEQUENCE), np.int64)
    good = tmp_path / "good.npz"
    np.savez(good, input_ids=ids, attention_mask=ones, token_type_ids=0 * ones)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(bert_like), "-o", str(out),
                                      "--sample-inputs", str(good)])
    assert result.exit_code == 0, result.output
    golden = read_manifest(out).golden.inputs
    assert np.array_equal(golden["input_ids"], ids[:1])
    bad = tmp_path / "bad.npz"
    np.savez(bad, input_ids=ids, attention_mask=ones, token_type_ids=6 * ones)
    result = CliRunner().invoke(cli, ["convert", str(bert_like), "-o", str(tmp_path / "bad"),
                                      "--sample-inputs", str(bad)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: onnxruntime cannot run the model on the input "
                           "token_type_ids [1, 8] in [6, 6]: ")
    assert "out of data bounds" in line and "--sample-inputs data.npz" in line
    assert "Traceback" not in result.output and not (tmp_path / "bad").exists()


def test_a_recurrent_state_starts_at_zero(tmp_path: Path) -> None:
    """Silero-like: audio in, state [2, 1, 4] in and out (stateN), h0 by its name."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["level"], axes=[1], keepdims=1),
         helper.make_node("Add", ["state", "level"], ["stateN"]),
         helper.make_node("Mul", ["h0", "level"], ["input_level"])],
        "stateful",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, 4]),
         helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, 1, 4]),
         helper.make_tensor_value_info("input_level", TensorProto.FLOAT, [1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = save_onnx(model, tmp_path / "stateful.onnx")
    inputs = convert_model(path, tmp_path / "out", ConvertOptions()).manifest.golden.inputs
    assert np.all(inputs["state"] == 0) and np.all(inputs["h0"] == 0)
    # the signal itself is still generated: "input_level" is named after it, but is no state
    assert inputs["input"].std() > 0.1


def test_keras_embedding_ids_stay_within_its_vocabulary(tmp_path: Path) -> None:
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((5,), dtype="int32", name="tokens"),
                              keras.layers.Embedding(3, 2), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    manifest = convert_model(model, tmp_path / "out", ConvertOptions(target="tfjs")).manifest
    tokens = manifest.golden.inputs["tokens"]
    assert tokens.max() <= 2 and tokens.dtype == np.int32


def test_verify_checks_the_users_own_samples(tmp_path: Path, bert_like: Path) -> None:
    manifest = convert_model(bert_like, tmp_path / "out", ConvertOptions()).manifest
    ids = np.arange(3 * SEQUENCE, dtype=np.int64).reshape(3, SEQUENCE) % 30
    given = {"input_ids": ids, "attention_mask": np.ones_like(ids),
             "token_type_ids": np.zeros_like(ids)}
    feeds = sample_feeds(manifest.inputs, 0, seed=1000, given=given)  # 0: all of them
    assert [f["input_ids"].tolist() for f in feeds] == [[row] for row in ids.tolist()]
    assert len(sample_feeds(manifest.inputs, 2, seed=1000, given=given)) == 2

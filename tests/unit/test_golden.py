"""The golden in webml.json: small tensors inline, large ones in the golden file, a large
output kept as a sample, and the old all-inline form still read."""

import json
from pathlib import Path

import numpy as np
import pytest

from converter.errors import ManifestError
from converter.manifest import (
    GOLDEN_LARGEST,
    GOLDEN_SAMPLE,
    Golden,
    Manifest,
    ModelFile,
    encode_array,
    read_manifest,
    write_manifest,
)
from converter.parity import compare_outputs
from converter.spec import TensorSpec


def manifest_with(golden: Golden) -> Manifest:
    specs = lambda arrays: tuple(TensorSpec(k, str(v.dtype), v.shape)  # noqa: E731
                                 for k, v in arrays.items())
    return Manifest("m", "onnx", "model.onnx", (ModelFile("model.onnx", "ab" * 32, 10),),
                    specs(golden.inputs), specs(golden.outputs), golden)


def big_golden() -> Golden:
    rng = np.random.default_rng(3)
    image = rng.random((1, 3, 32, 32), dtype=np.float32)  # 12 KB: into the file
    ids = np.arange(2048, dtype=np.int64).reshape(1, 2048)  # 16 KB of ids: stays inline
    heat = rng.random((1, 1, 96, 96), dtype=np.float32) * 0.01  # 9216 values: sampled
    heat[0, 0, 40:44, 50:54] = 0.9  # a detector's few strong answers
    scores = np.linspace(0, 1, 10, dtype=np.float32).reshape(1, 10)  # small: whole, inline
    return Golden({"image": image, "ids": ids}, {"heat": heat, "scores": scores},
                  1e-4, 1e-3, "onnxruntime")


def test_large_tensors_go_to_a_golden_file_and_large_outputs_keep_a_sample(
        tmp_path: Path) -> None:
    golden = big_golden()
    write_manifest(manifest_with(golden), tmp_path)
    data = json.loads((tmp_path / "webml.json").read_text(encoding="utf-8"))["golden"]
    file = data["file"]
    assert file["path"] == f"golden-{file['sha256'][:16]}.bin"
    assert (tmp_path / file["path"]).stat().st_size == file["size"]
    assert set(data["inputs"]["image"]) == {"dtype", "shape", "offset", "length"}
    assert "base64" in data["inputs"]["ids"] and "base64" in data["outputs"]["scores"]
    heat = data["outputs"]["heat"]
    assert heat["shape"] == [1, 1, 96, 96] and heat["values"]["shape"] == [GOLDEN_SAMPLE]
    # The manifest stays small: the image and the sample are raw bytes beside it.
    assert len(json.dumps(data)) < 30_000 < file["size"]

    back = read_manifest(tmp_path).golden
    assert np.array_equal(back.inputs["image"], golden.inputs["image"])
    assert np.array_equal(back.inputs["ids"], golden.inputs["ids"])
    sample = back.samples["heat"]
    assert sample.shape == (1, 1, 96, 96) and len(sample.indices) == GOLDEN_SAMPLE
    assert np.all(np.diff(sample.indices) > 0)
    # The 16 strong answers are among the largest magnitudes the sample always keeps.
    assert (golden.outputs["heat"].reshape(-1)[sample.indices] == 0.9).sum() == 16
    assert np.array_equal(back.outputs["heat"], golden.outputs["heat"].reshape(-1)[sample.indices])
    # Written again (as build does), the same bytes: the sample is kept, not drawn again.
    first = (tmp_path / "webml.json").read_bytes()
    write_manifest(read_manifest(tmp_path), tmp_path)
    assert (tmp_path / "webml.json").read_bytes() == first


def test_a_sampled_golden_checks_the_whole_answer_at_its_places(tmp_path: Path) -> None:
    golden = big_golden()
    write_manifest(manifest_with(golden), tmp_path)
    back = read_manifest(tmp_path).golden
    exact = dict(golden.outputs)
    assert compare_outputs(back.outputs, back.pick(exact), atol=1e-4, rtol=1e-3).ok
    wrong = dict(exact, heat=exact["heat"] + 0.01)  # off everywhere, as a broken backend is
    assert not compare_outputs(back.outputs, back.pick(wrong), atol=1e-4, rtol=1e-3).ok
    strong = exact["heat"].copy()
    strong[0, 0, 40:44, 50:54] = 0.5  # only the strong answers off: the largest are checked
    assert not compare_outputs(back.outputs, back.pick(dict(exact, heat=strong)),
                               atol=1e-4, rtol=1e-3).ok
    cropped = dict(exact, heat=exact["heat"][..., :48])  # another size: left whole, refused
    assert not compare_outputs(back.outputs, back.pick(cropped), atol=1e-4, rtol=1e-3).ok
    assert GOLDEN_LARGEST < GOLDEN_SAMPLE


def test_a_small_golden_stays_inline(tmp_path: Path) -> None:
    golden = Golden({"x": np.ones((1, 64), np.float32)}, {"y": np.ones((1, 10), np.float32)},
                    1e-4, 1e-3, "keras")
    write_manifest(manifest_with(golden), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["webml.json"]
    assert json.loads((tmp_path / "webml.json").read_text())["golden"]["file"] is None


def test_an_old_manifest_with_the_whole_golden_inline_still_reads(tmp_path: Path) -> None:
    golden = big_golden()
    data = manifest_with(golden).to_json()
    # The form every manifest had before the golden file: every array inline, whole.
    data["golden"] = {"inputs": {k: encode_array(v) for k, v in golden.inputs.items()},
                      "outputs": {k: encode_array(v) for k, v in golden.outputs.items()},
                      "atol": 1e-4, "rtol": 1e-3, "source": "onnxruntime",
                      "toleranceFrom": None}
    (tmp_path / "webml.json").write_text(json.dumps(data), encoding="utf-8")
    back = read_manifest(tmp_path).golden
    assert not back.samples
    assert np.array_equal(back.outputs["heat"], golden.outputs["heat"])
    assert back.pick(golden.outputs)["heat"].shape == (1, 1, 96, 96)


def test_a_changed_or_missing_golden_file_is_refused(tmp_path: Path) -> None:
    write_manifest(manifest_with(big_golden()), tmp_path)
    (path,) = tmp_path.glob("golden-*.bin")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="does not match its sha256"):
        read_manifest(tmp_path)
    path.unlink()
    with pytest.raises(ManifestError, match="cannot be read"):
        read_manifest(tmp_path)
    data = json.loads((tmp_path / "webml.json").read_text(encoding="utf-8"))
    with pytest.raises(ManifestError, match="nothing here can read it"):
        Manifest.from_json(data)

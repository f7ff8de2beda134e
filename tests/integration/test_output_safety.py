"""`-o` never loses a user's files, and bad input is one line, exit 2, nothing written.

The cases are the ones a review found: each deleted a folder or printed a
traceback before.
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support import assert_one_line_error, run_cli

from converter.outdir import MARKER


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_folder_of_the_user_s_is_refused_untouched(tmp_path: Path, tiny_onnx: Path) -> None:
    (tmp_path / "u" / "docs").mkdir(parents=True)
    (tmp_path / "u" / "docs" / "t").write_text("t")
    code, output = run_cli("convert", tiny_onnx, "-o", tmp_path / "u")
    assert_one_line_error(code, output, "webml did not write (docs")
    assert _snapshot(tmp_path / "u") == {"docs/t": b"t"}


def test_the_source_s_folder_is_refused(tmp_path: Path, tiny_onnx: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p").mkdir()
    shutil.copy(tiny_onnx, tmp_path / "p" / "m.onnx")
    before = _snapshot(tmp_path / "p")
    assert_one_line_error(*run_cli("convert", tmp_path / "p" / "m.onnx", "-o", tmp_path / "p"),
                          "holds the source")
    monkeypatch.chdir(tmp_path / "p")
    assert_one_line_error(*run_cli("convert", "m.onnx", "-o", "."), "holds the source")
    assert _snapshot(tmp_path / "p") == before


def test_the_home_folder_is_refused(tmp_path: Path, tiny_onnx: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    home.mkdir(mode=0o755)
    monkeypatch.setenv("HOME", str(home))
    assert_one_line_error(*run_cli("convert", tiny_onnx, "-o", home), "home folder")
    assert home.stat().st_mode & 0o777 == 0o755


def test_build_into_its_own_convert_folder_is_refused(tmp_path: Path,
                                                      converted: dict[str, Path]) -> None:
    conv = tmp_path / "conv"
    shutil.copytree(converted["onnx"], conv)
    (conv / "NOTES.txt").write_text("mine")
    before = _snapshot(conv)
    assert_one_line_error(*run_cli("build", conv, "-o", conv), "holds the source")
    assert _snapshot(conv) == before


def test_webml_s_own_outputs_are_replaced_and_a_foreign_file_stops_it(
        tmp_path: Path, tiny_onnx: Path, converted: dict[str, Path]) -> None:
    for command, source in (("convert", tiny_onnx), ("build", converted["onnx"])):
        out = tmp_path / command
        for _ in range(2):
            code, output = run_cli(command, source, "-o", out)
            assert code == 0, output
        assert (out / MARKER).is_file()
        (out / "NOTES.txt").write_text("mine")
        assert_one_line_error(*run_cli(command, source, "-o", out),
                              "webml did not write (NOTES.txt)")
        assert (out / "NOTES.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["build", "convert"]  # no staging folder left


def test_an_output_under_a_file_or_on_a_read_only_place_is_one_line(tmp_path: Path,
                                                                    tiny_onnx: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert_one_line_error(*run_cli("convert", tiny_onnx, "-o", tmp_path / "f" / "sub"), "is a file")
    # Not even root may make a folder in /sys: a read-only target on any machine.
    assert_one_line_error(*run_cli("convert", tiny_onnx, "-o", "/sys/webml-test-output"),
                          "cannot write the output")


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                    keras_files: dict[str, Path]) -> None:
    # A file-size limit fails writes the way a full disk does (EFBIG instead of ENOSPC).
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "convert", keras_files["keras"], "-o", "out"],
        cwd=tmp_path, capture_output=True, text=True, preexec_fn=_limit_file_size, timeout=300)
    assert_one_line_error(done.returncode, done.stderr, "File too large")
    assert os.listdir(tmp_path) == []


def test_a_killed_conversion_keeps_the_old_output_and_the_next_run_cleans_up(
        tmp_path: Path, keras_files: dict[str, Path]) -> None:
    command = [sys.executable, "-m", "webapp", "convert", str(keras_files["keras"]),
               "-o", "out"]
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    old = _snapshot(tmp_path / "out")
    staging = tmp_path / ".out.webml-staging"
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # Kill it while the conversion writes its temporary files in the staging folder.
    while not any((staging / "scratch").glob("*")) and time.monotonic() < deadline:
        assert run.poll() is None, "the conversion ended before it could be killed"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert _snapshot(tmp_path / "out") == old
    assert sorted(os.listdir(tmp_path)) == [".out.webml-staging", "out", "tmp"]
    assert os.listdir(temp) == []  # the temporary files were inside the staging folder
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    assert sorted(os.listdir(tmp_path)) == ["out", "tmp"]
    assert _snapshot(tmp_path / "out") == old  # conversion is deterministic


def test_damaged_keras_files_are_one_line(tmp_path: Path, keras_files: dict[str, Path]) -> None:
    empty = tmp_path / "empty.keras"
    zipfile.ZipFile(empty, "w").close()
    data = bytearray(keras_files["keras"].read_bytes())
    with zipfile.ZipFile(keras_files["keras"]) as archive:
        info = archive.getinfo("model.weights.h5")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "crc.keras"
    damaged.write_bytes(bytes(data))
    for model, match in ((empty, "config.json"), (damaged, "Bad CRC-32")):
        assert_one_line_error(*run_cli("convert", model, "-o", tmp_path / "out"), match)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("shape", "dtype", "match"), [
    ([1, 2**40], "FLOAT", "'x' of shape [1, 1099511627776] would take 4 TiB"),
    ([1, 2**31], "FLOAT", "'x' of shape [1, 2147483648] would take 8 GiB"),
])
def test_impossible_onnx_inputs_are_refused_before_writing(tmp_path: Path, shape: list[int],
                                                           dtype: str, match: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    kind = getattr(TensorProto, dtype)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", kind, shape)],
        [helper.make_tensor_value_info("y", kind, shape)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model = tmp_path / "m.onnx"
    onnx.save(proto, str(model))
    assert_one_line_error(*run_cli("convert", model, "-o", tmp_path / "out"), match)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_a_string_onnx_input_converts_to_a_valid_manifest(tmp_path: Path) -> None:
    """It printed "converted", then "malformed manifest"; then it was refused. onnxruntime-web
    takes string tensors on wasm: the model converts, its manifest is strict JSON that reads
    back, and webgl, which takes no strings, is named as left out."""
    import json

    import onnx
    from onnx import TensorProto, helper

    from converter.manifest import read_manifest

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", TensorProto.STRING, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [1, 4])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model = tmp_path / "m.onnx"
    onnx.save(proto, str(model))
    code, output = run_cli("convert", model, "-o", tmp_path / "out")
    assert code == 0, output
    assert "webgl cannot run this model (string tensors (x, y))" in output
    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in webml.json")

    data = json.loads((tmp_path / "out" / "webml.json").read_text(encoding="utf-8"),
                      parse_constant=no_constants)
    assert data["inputs"][0]["dtype"] == "string"
    golden = read_manifest(tmp_path / "out").golden
    assert golden.inputs["x"].shape == (1, 4) and golden.inputs["x"].dtype == object
    assert golden.outputs["y"].tolist() == golden.inputs["x"].tolist()


def test_a_labels_file_that_is_not_utf8_is_one_line(tmp_path: Path, tiny_onnx: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"\xff\xfe caf\xe9\n")
    assert_one_line_error(*run_cli("convert", tiny_onnx, "--labels", labels, "-o",
                                   tmp_path / "out"), "is not UTF-8 text")


def test_non_finite_data_and_bounds_are_refused(tmp_path: Path, tiny_onnx: Path) -> None:
    x = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    x[2, 0, 3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", image=x)
    assert_one_line_error(*run_cli("convert", tiny_onnx, "--quantize", "int8", "--calibration",
                                   tmp_path / "nan.npz", "-o", tmp_path / "out"),
                    "'image' holds 1 NaN or infinite values (the first at index [2, 0, 3, 1])")
    y = np.zeros(4, dtype=np.int64)
    np.savez(tmp_path / "inf.npz", image=np.where(np.isnan(x), np.inf, x), y=y)
    assert_one_line_error(*run_cli("convert", tiny_onnx, "--eval", tmp_path / "inf.npz",
                                   "-o", tmp_path / "out"), "the --eval array 'image'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("features", "match"), [
    ('[{"name": "a", "min": NaN}, "b"]', "feature 'a' has a min of nan"),
    ('[{"name": "a", "min": 5, "max": 2}, "b"]', "feature 'a' has min 5 above max 2"),
])
def test_bad_feature_bounds_are_refused(tmp_path: Path, features: str, match: str) -> None:
    path = tmp_path / "features.json"
    path.write_text(features)
    from converter.errors import ManifestError
    from converter.manifest import read_features

    with pytest.raises(ManifestError, match=match):
        read_features(path)


def test_without_the_convert_extra_convert_is_one_line(tmp_path: Path, tiny_onnx: Path) -> None:
    # The conversion stack made unimportable, as in an environment without webml[convert].
    code = (
        "import importlib.abc, sys\n"
        "class Missing(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('onnx', 'onnxruntime', 'tensorflow', 'keras'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n"
        "from webapp.cli import cli\n"
        "cli()\n")
    done = subprocess.run([sys.executable, "-c", code, "convert", str(tiny_onnx), "-o", "out"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert_one_line_error(done.returncode, done.stderr, "pip install 'webml[convert]'")
    assert os.listdir(tmp_path) == []

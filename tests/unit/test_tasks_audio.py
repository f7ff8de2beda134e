"""Audio stages: the page's JS (run in node) and Python give the same samples, frames and
segments on the same input; WAV reading, flags and the manifest section."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from converter.errors import UnsupportedModelError
from converter.tasks import audio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import media_models  # noqa: E402

node = shutil.which("node")
needs_node = pytest.mark.skipif(node is None, reason="node")

NODE_SCRIPT = """
import { readFileSync } from 'node:fs';
const { frames, mono, resample, segments } = await import(process.argv[2]);
const jobs = JSON.parse(readFileSync(process.argv[3], 'utf8'));
console.log(JSON.stringify(jobs.map((j) => {
  const mixed = mono(j.channels.map((c) => Float32Array.from(c)));
  const samples = resample(mixed, j.source, j.target);
  const windows = frames(samples, j.size, j.hop);
  return { samples: Array.from(samples), frames: windows.map((w) => Array.from(w)),
           segments: segments(j.probabilities, 0.5, j.hop, j.size, j.target) };
})));
"""


@needs_node
def test_js_mono_resample_frames_and_segments_equal_python(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    jobs, want = [], []
    for source, target, channels, n, size, hop in [(22050, 16000, 2, 5000, 512, 512),
                                                   (44100, 16000, 1, 9001, 400, 160),
                                                   (8000, 16000, 3, 3001, 512, 256),
                                                   (16000, 16000, 2, 700, 512, 512),
                                                   (48000, 8000, 2, 100, 512, 512)]:
        data = rng.uniform(-1, 1, (channels, n)).astype(np.float32)
        samples = audio.resample(audio.mono(data), source, target)
        windows = audio.frames(samples, size, hop)
        probabilities = rng.uniform(0, 1, len(windows)).round(1).tolist()
        want.append((samples, windows, audio.segments(np.asarray(probabilities), 0.5, hop, size,
                                                      target)))
        jobs.append({"channels": data.tolist(), "source": source, "target": target,
                     "size": size, "hop": hop, "probabilities": probabilities})
    script = tmp_path / "audio.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    job = tmp_path / "jobs.json"
    job.write_text(json.dumps(jobs), encoding="utf-8")
    done = subprocess.run([node, str(script), (ROOT / "static/js/tasks/audio.js").as_uri(),
                           str(job)], capture_output=True, text=True, timeout=120, check=True)
    for (samples, windows, found), page in zip(want, json.loads(done.stdout), strict=True):
        # float32 for float32: the same double arithmetic in the same order.
        assert np.array_equal(np.asarray(page["samples"], np.float32), samples)
        assert np.array_equal(np.asarray(page["frames"], np.float32), windows)
        assert [tuple(s) for s in page["segments"]] == found


def test_resample_is_linear_interpolation() -> None:
    ramp = np.arange(10, dtype=np.float32)
    assert audio.resample(ramp, 2, 3).tolist() == pytest.approx(
        [i * 2 / 3 for i in range(15)][:14] + [9.0])
    assert audio.resample(ramp, 2, 1).tolist() == [0, 2, 4, 6, 8]


def test_frames_pad_the_last_and_segments_span_frames() -> None:
    windows = audio.frames(np.ones(11, np.float32), 4, 3)  # at 0, 3, 6, 9
    assert windows.shape == (4, 4) and windows[-1].tolist() == [1, 1, 0, 0]
    assert audio.frames(np.ones(2, np.float32), 4, 3).tolist() == [[1, 1, 0, 0]]
    assert audio.segments(np.array([0, 0.6, 0.7, 0.2, 0.9]), 0.5, 3, 4, 1) == [(3, 10), (12, 16)]


def test_read_wav_decodes_pcm_as_browsers_do(tmp_path: Path) -> None:
    path, _ = media_models.tone_wav(tmp_path / "clip.wav", rate=8000, channels=2)
    channels, rate = audio.read_wav(path)
    with wave.open(str(path), "rb") as wav:
        ints = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2).T
    assert rate == 8000 and channels.dtype == np.float32
    floats = ints.astype(np.float32)
    assert np.array_equal(channels, np.where(ints > 0, floats * np.float32(1 / 32767),
                                             floats * np.float32(1 / 32768)))
    assert channels.max() <= 1.0 and channels.min() >= -1.0
    with pytest.raises(UnsupportedModelError, match="cannot read the WAV file"):
        audio.read_wav(Path(__file__))


def test_flags_need_an_audio_task_and_name_real_inputs() -> None:
    with pytest.raises(UnsupportedModelError, match="--frame is for an audio task"):
        audio.check_options("classification", None, 512, None, (), ())
    with pytest.raises(UnsupportedModelError, match="not a number"):
        audio.check_options("voice-activity", 16000, 512, None, (), (("sr", "fast"),))
    with pytest.raises(UnsupportedModelError, match="not NAME=VALUE"):
        audio.parse_pairs(("state",), "--state")


def test_convert_writes_the_audio_section_and_hints_the_flags(tmp_path: Path) -> None:
    from converter.manifest import read_manifest
    from converter.pipeline import ConvertOptions, convert_model

    model = media_models.vad(tmp_path / "vad.onnx")
    said: list[str] = []
    convert_model(model, tmp_path / "plain", progress=said.append)
    assert any("pass --task voice-activity (or audio-classification) --sample-rate 16000 "
               "--frame 512 --state state=stateN --constant sr=16000" in s for s in said), said
    result = convert_model(model, tmp_path / "out", ConvertOptions(
        task="voice-activity", sample_rate=16000, frame=512, states=(("state", "stateN"),),
        constants=(("sr", "16000"),)))
    assert result.manifest.golden.inputs["audio"].shape == (1, 512)
    assert int(result.manifest.golden.inputs["sr"]) == 16000
    again = read_manifest(tmp_path / "out").audio
    assert again is not None and again.states == (("state", "stateN"),)
    assert again.to_json() == result.manifest.audio.to_json()
    with pytest.raises(UnsupportedModelError, match="no input 'h0'"):
        convert_model(model, tmp_path / "bad", ConvertOptions(
            task="voice-activity", sample_rate=16000, frame=512, states=(("h0", "stateN"),)))


def test_inspect_says_which_task_to_pass(tmp_path: Path) -> None:
    from converter.inspect import inspect_model

    said: list[str] = []
    inspect_model(media_models.vad(tmp_path / "vad.onnx"), progress=said.append)
    assert any("the input audio [1, ?] with a state pair looks like streaming audio" in s
               and "--state state=stateN --constant sr=16000" in s for s in said), said
    said.clear()
    inspect_model(media_models.detector(tmp_path / "det.onnx"), progress=said.append)
    assert any("pass --task detection and --labels labels.txt (2 classes)" in s
               for s in said), said


def test_the_if_lstm_vad_fixture_runs_frame_by_frame_with_its_state(tmp_path: Path) -> None:
    """tests/conftest.py's stateful model ([2, ?, 128] state through an If and an LSTM,
    an int64 sr): converted with the flags inspect names, its clip answer in Python."""
    import onnx
    from onnx_models import stateful_model

    from converter.native import native_for
    from converter.pipeline import ConvertOptions, convert_model

    path = tmp_path / "vad.onnx"
    onnx.save(stateful_model(), path)
    result = convert_model(path, tmp_path / "out", ConvertOptions(
        task="voice-activity", sample_rate=16000, frame=512, states=(("state", "stateN"),),
        constants=(("sr", "16000"),)))
    manifest = result.manifest
    assert manifest.golden.inputs["state"].shape == (2, 1, 128)
    assert not manifest.golden.inputs["state"].any()  # state starts at zero
    clip, _ = media_models.tone_wav(tmp_path / "clip.wav", rate=16000, channels=1)
    channels, rate = audio.read_wav(clip)
    native = native_for(manifest, tmp_path / "out")
    answer = audio.answer(manifest.audio, manifest.inputs, channels, rate, native.run, None)
    assert answer.frames.shape == (41, 1)
    # The state carries over: the same silent frame scores differently later on.
    assert answer.frames[0, 0] != answer.frames[40, 0]


def test_audio_classification_softmaxes_logits_and_ranks_the_clip(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from converter.native import native_for
    from converter.pipeline import ConvertOptions, convert_model

    # logits = [energy, 0.05, -energy] * 40: a loud clip is "loud", a silent one "quiet".
    weights = np.array([[40.0, 0.0, -40.0]], np.float32)
    graph = helper.make_graph([
        helper.make_node("Mul", ["audio", "audio"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["energy"], axes=[1], keepdims=1),
        helper.make_node("MatMul", ["energy", "w"], ["scaled"]),
        helper.make_node("Add", ["scaled", "b"], ["logits"])], "sounds",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 400])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(weights, "w"),
         numpy_helper.from_array(np.array([0.0, 2.0, 0.0], np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "sounds.onnx"
    onnx.save(model, path)
    labels = ("loud", "quiet-ish", "silent")
    result = convert_model(path, tmp_path / "out", ConvertOptions(
        task="audio-classification", sample_rate=16000, frame=400, hop=160, labels=labels))
    stages = [s["name"] for s in result.manifest.audio.to_json()["stages"]]
    assert stages == ["mono", "resample", "frame", "run", "softmax", "labels"]
    clip, _ = media_models.tone_wav(tmp_path / "clip.wav")
    channels, rate = audio.read_wav(clip)
    native = native_for(result.manifest, tmp_path / "out")
    answer = audio.answer(result.manifest.audio, result.manifest.inputs, channels, rate,
                          native.run, labels)
    assert [item["label"] for item in answer.labels][0] == "quiet-ish"
    assert sum(item["score"] for item in answer.labels) == pytest.approx(1.0)
    assert answer.frames.shape[0] == 1 + -(-(20800 - 400) // 160)

"""Audio tasks: a sound file -> per-frame answers, as the page does it.

An audio site's manifest carries an ``audio`` section: the model's sample rate,
the frame (samples per window) and hop, the audio input, the state pairs (a
streaming model's state output fed to its state input for the next frame,
zeros at the start), constant inputs (a sample-rate scalar), and what the
output means: ``voice-activity`` (a speech probability per frame, and the
speech segments where it is at least the threshold) or
``audio-classification`` (scores per frame, and for the clip their mean).
Decoding to mono (channels averaged), resampling (linear interpolation) and
framing are implemented here and in ``static/js/tasks/audio.js`` with the
same float arithmetic in the same order, so that both feed the model the same
samples; ``webml verify --input clip.wav`` compares the per-frame outputs and
the segments.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import ManifestError, UnsupportedModelError
from converter.spec import TensorSpec

AUDIO_TASKS = ("voice-activity", "audio-classification")
THRESHOLD = 0.5  # voice activity: a frame is speech at this probability and above
Run = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class AudioPipeline:
    """How an audio site runs a clip: mono, resample, frames, the state loop, the answer."""

    task: str
    sample_rate: int
    input: str
    output: str
    frame: int
    hop: int
    states: tuple[tuple[str, str], ...] = ()  # (input, the output that feeds it)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    threshold: float = THRESHOLD
    softmax: bool = False  # classification: the model outputs logits

    def to_json(self) -> dict[str, Any]:
        from converter.manifest import encode_array

        last = ([{"name": "segments", "threshold": self.threshold}]
                if self.task == "voice-activity" else
                [{"name": "softmax"}] * self.softmax + [{"name": "labels"}])
        return {"task": self.task, "stages": [
            {"name": "mono", "mode": "mean"},
            {"name": "resample", "rate": self.sample_rate, "method": "linear"},
            {"name": "frame", "input": self.input, "size": self.frame, "hop": self.hop},
            {"name": "run", "output": self.output,
             "states": [{"input": i, "output": o} for i, o in self.states],
             "constants": {n: encode_array(v) for n, v in sorted(self.constants.items())}},
            *last]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AudioPipeline:
        from converter.manifest import decode_array

        if data.get("task") not in AUDIO_TASKS:
            raise ManifestError(f"unknown audio task {data.get('task')!r}",
                                f"this webml knows {', '.join(AUDIO_TASKS)}")
        stages = {s["name"]: s for s in data["stages"]}
        frame, run = stages["frame"], stages["run"]
        return cls(data["task"], int(stages["resample"]["rate"]), frame["input"], run["output"],
                   int(frame["size"]), int(frame["hop"]),
                   tuple((s["input"], s["output"]) for s in run["states"]),
                   {n: decode_array(v) for n, v in run["constants"].items()},
                   float(stages.get("segments", {}).get("threshold", THRESHOLD)),
                   "softmax" in stages)


@dataclass(frozen=True)
class AudioAnswer:
    """What a clip became: the model's samples, each frame's output, and the answer."""

    samples: np.ndarray  # float32, mono, at the model's rate
    frames: np.ndarray  # [frames, values]: each frame's output, flattened
    segments: list[tuple[float, float]]  # voice activity: speech from, to (seconds)
    labels: list[dict[str, Any]]  # classification: the clip's labels, best first


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A WAV file's samples as float32 [channels, n] in [-1, 1], and its sample rate
    (8-bit unsigned, 16-, 24- and 32-bit signed PCM).

    As Chromium's decodeAudioData does (measured on 16-bit PCM, sample for sample): a
    value v of b bits becomes float32(v) * float32(1 / (2^(b-1) - 1)) when positive and
    float32(v) * float32(1 / 2^(b-1)) otherwise, in float32. (v / 32768 throughout is
    up to 1.5e-5 away from what the page decodes.)
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise UnsupportedModelError(f"cannot read the WAV file {path}: {exc}",
                                    "give a PCM .wav file (8, 16, 24 or 32-bit)") from exc
    if width == 1:
        ints = np.frombuffer(raw, np.uint8).astype(np.int64) - 128
    elif width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int64)
        ints = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
    else:
        ints = np.frombuffer(raw, f"<i{width}").astype(np.int64)
    half = 1 << (8 * width - 1)
    values = np.where(ints > 0, ints.astype(np.float32) * np.float32(1 / (half - 1)),
                      ints.astype(np.float32) * np.float32(1 / half))
    return values.astype(np.float32).reshape(-1, channels).T, rate


def mono(channels: np.ndarray) -> np.ndarray:
    """Channels averaged: summed one by one in float64, divided, stored as float32."""
    total = np.zeros(channels.shape[1], dtype=np.float64)
    for channel in channels:
        total = total + channel.astype(np.float64)
    return (total / len(channels)).astype(np.float32)


def resample(samples: np.ndarray, source: int, target: int) -> np.ndarray:
    """Linear interpolation to ``target`` Hz: output i is at input position i * source /
    target, between its two neighbours (the last repeated), floor(n * target / source)
    samples, computed in float64 and stored as float32, as the page does."""
    if source == target:
        return samples.astype(np.float32)
    n = len(samples)
    count = (n * target) // source
    position = np.arange(count, dtype=np.float64) * source / target
    left = np.floor(position).astype(np.int64)
    frac = position - left
    right = np.minimum(left + 1, n - 1)
    x = samples.astype(np.float64)
    return (x[left] * (1 - frac) + x[right] * frac).astype(np.float32)


def frames(samples: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Windows of ``size`` every ``hop`` samples, the last one padded with zeros; at least one."""
    count = 1 if len(samples) <= size else 1 + math.ceil((len(samples) - size) / hop)
    padded = np.zeros((count - 1) * hop + size, dtype=np.float32)
    padded[:len(samples)] = samples
    return np.stack([padded[k * hop:k * hop + size] for k in range(count)])


def segments(probabilities: np.ndarray, threshold: float, hop: int, size: int,
             rate: int) -> list[tuple[float, float]]:
    """Runs of frames at or above the threshold, as (start, end) seconds: from the first
    frame's start to the last frame's end."""
    found, start = [], None
    for k, p in enumerate(list(probabilities) + [-math.inf]):
        if p >= threshold and start is None:
            start = k
        elif p < threshold and start is not None:
            found.append((start * hop / rate, ((k - 1) * hop + size) / rate))
            start = None
    return found


def run_clip(pipeline: AudioPipeline, specs: tuple[TensorSpec, ...], samples: np.ndarray,
             run: Run) -> np.ndarray:
    """Each frame through the model, the states carried over: [frames, values]."""
    by_name = {s.name: s for s in specs}
    state = {i: np.zeros(state_shape(by_name[i]), dtype=by_name[i].dtype)
             for i, _ in pipeline.states}
    rows = []
    for window in frames(samples, pipeline.frame, pipeline.hop):
        feeds = {pipeline.input: window[None].astype(by_name[pipeline.input].dtype),
                 **state, **pipeline.constants}
        outputs = run(feeds)
        state = {i: np.asarray(outputs[o]) for i, o in pipeline.states}
        rows.append(np.asarray(outputs[pipeline.output], dtype=np.float64).ravel())
    return np.stack(rows)


def answer(pipeline: AudioPipeline, specs: tuple[TensorSpec, ...], channels: np.ndarray,
           rate: int, run: Run, labels: tuple[str, ...] | None) -> AudioAnswer:
    """A decoded clip (float32 [channels, n] at ``rate``) to the answer."""
    from converter.tasks import scores

    samples = resample(mono(channels), rate, pipeline.sample_rate)
    rows = run_clip(pipeline, specs, samples, run)
    if pipeline.task == "voice-activity":
        found = segments(rows[:, 0], pipeline.threshold, pipeline.hop, pipeline.frame,
                         pipeline.sample_rate)
        return AudioAnswer(samples, rows, found, [])
    probabilities = scores.softmax(rows) if pipeline.softmax else rows
    total = np.zeros(probabilities.shape[1])
    for row in probabilities:  # summed in frame order, as the page does
        total = total + row
    return AudioAnswer(samples, rows, [], scores.labelled((total / len(rows))[None], labels))


def state_shape(spec: TensorSpec) -> tuple[int, ...]:
    """A state's shape, a dynamic dimension taken as 1 (a batch of one clip)."""
    return tuple(d if isinstance(d, int) else 1 for d in spec.shape)



def check_options(task: str | None, sample_rate: int | None, frame: int | None,
                  hop: int | None, states: tuple[tuple[str, str], ...],
                  constants: tuple[tuple[str, str], ...]) -> None:
    """Refuse audio flags without an audio task, and sizes that cannot be."""
    given = [flag for flag, value in (("--sample-rate", sample_rate), ("--frame", frame),
                                      ("--hop", hop), ("--state", states or None),
                                      ("--constant", constants or None)) if value is not None]
    if given and task not in AUDIO_TASKS:
        raise UnsupportedModelError(f"{given[0]} is for an audio task",
                                    f"pass --task {AUDIO_TASKS[0]} (or {AUDIO_TASKS[1]}), or "
                                    f"leave {given[0]} out")
    for flag, value in (("--sample-rate", sample_rate), ("--frame", frame), ("--hop", hop)):
        if value is not None and value < 1:
            raise UnsupportedModelError(f"{flag} {value} is not a positive number of "
                                        f"{'Hz' if flag == '--sample-rate' else 'samples'}",
                                        "give e.g. --sample-rate 16000 --frame 512")
    for name, value in constants:
        try:
            float(value)
        except ValueError as exc:
            raise UnsupportedModelError(f"--constant {name}={value}: not a number",
                                        "write e.g. --constant sr=16000") from exc


def finish(pipeline: AudioPipeline, outputs: dict[str, np.ndarray]) -> AudioPipeline:
    """The pipeline once the golden output says whether a classifier gives logits."""
    import dataclasses

    from converter.tasks import scores

    if pipeline.task != "audio-classification":
        return pipeline
    values = np.asarray(outputs[pipeline.output]).reshape(1, -1)
    return dataclasses.replace(pipeline, softmax=not scores.looks_like_probabilities(values))


def parse_pairs(given: tuple[str, ...], what: str) -> tuple[tuple[str, str], ...]:
    """``IN=OUT`` (or ``NAME=VALUE``) flags as pairs."""
    pairs = []
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UnsupportedModelError(f"{what} {item!r} is not NAME=VALUE",
                                        f"write e.g. {what} state=stateN")
        pairs.append((name.strip(), value.strip()))
    return tuple(pairs)


def prepare(task: str, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...],
            sample_rate: int | None, frame: int | None, hop: int | None,
            states: tuple[tuple[str, str], ...], constants: tuple[tuple[str, str], ...]
            ) -> AudioPipeline:
    """The audio pipeline for a model, checked against its inputs and outputs."""
    if sample_rate is None or frame is None:
        raise UnsupportedModelError(f"--task {task} needs the model's sample rate and frame",
                                    "pass --sample-rate 16000 --frame 512 (samples per window)")
    names = {s.name: s for s in inputs}
    out_names = {s.name for s in outputs}
    for i, o in states:
        if i not in names or o not in out_names:
            raise UnsupportedModelError(
                f"--state {i}={o}: the model has no input {i!r} or no output {o!r}",
                f"inputs: {', '.join(names)}; outputs: {', '.join(sorted(out_names))}")
    fixed = {}
    for name, value in constants:
        if name not in names:
            raise UnsupportedModelError(f"--constant {name}: the model has no such input",
                                        f"inputs: {', '.join(names)}")
        spec = names[name]
        fixed[name] = np.full(state_shape(spec), float(value)).astype(spec.dtype)
    rest = [s for s in inputs if s.name not in fixed and s.name not in dict(states)]
    if len(rest) != 1 or not str(rest[0].dtype).startswith("float") or len(rest[0].shape) != 2:
        raise UnsupportedModelError(
            f"--task {task} needs one float [batch, samples] audio input besides the states and "
            f"constants, not {', '.join(f'{s.name} {list(s.shape)}' for s in rest) or 'none'}",
            "name the others with --state IN=OUT and --constant NAME=VALUE")
    answer_outputs = [s.name for s in outputs if s.name not in {o for _, o in states}]
    if len(answer_outputs) != 1:
        raise UnsupportedModelError(f"--task {task} needs one output besides the states",
                                    f"this model gives {', '.join(answer_outputs) or 'none'}")
    return AudioPipeline(task, int(sample_rate), rest[0].name, answer_outputs[0], int(frame),
                         int(hop or frame), tuple(states), fixed)


def audio_hint(inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> str | None:
    """What to pass for an audio page when a model takes float audio and a state pair."""
    from converter.realistic import STATE_NAME

    floats = [s for s in inputs if str(s.dtype).startswith("float") and len(s.shape) in (1, 2)]
    pairs = [(s.name, o.name) for s in inputs if STATE_NAME.search(s.name)
             for o in outputs if o.name.startswith(s.name) and o.name != s.name]
    if not floats or not pairs:
        return None
    state = " ".join(f"--state {i}={o}" for i, o in pairs)
    others = [s.name for s in inputs if s not in floats and s.name not in dict(pairs)]
    constant = "".join(f" --constant {n}=16000" for n in others if n in ("sr", "sample_rate"))
    dims = ", ".join(str(d) if isinstance(d, int) else "?" for d in floats[0].shape)
    return (f"the input {floats[0].name} [{dims}] with a state pair looks like "
            f"streaming audio: for a page that takes sound, pass --task voice-activity (or "
            f"audio-classification) --sample-rate 16000 --frame 512 {state}{constant}")

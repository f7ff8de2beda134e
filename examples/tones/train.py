"""Train a tiny Keras sound classifier on generated tones: low, high or a rising chirp.

    python examples/tones/train.py [--fast] [-o DIR]

The clips are made with numpy (no download, no microphone): 16 kHz mono, a
sine of random amplitude and phase with noise, either low (200-400 Hz), high
(1500-3000 Hz) or a chirp sweeping from 300 Hz up to 3000 Hz. The model takes
one frame of FRAME samples (``audio``, [batch, FRAME]) and gives three logits;
a 1-D convolution over the raw samples learns the filters. Writes tones.keras,
labels.txt and a 2-second clip.wav of each class (low.wav, high.wav, chirp.wav)
into DIR: ``webml verify --input`` and the page take them.
"""

from __future__ import annotations

import argparse
import os
import wave
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CLASSES = ("low", "high", "chirp")
RATE = 16000  # samples per second, the model's --sample-rate
FRAME = 1024  # samples per frame, the model's --frame (64 ms)


def tone(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``seconds`` of a ``kind`` sound at RATE, float32 in [-1, 1]."""
    t = np.arange(round(seconds * RATE)) / RATE
    amplitude = rng.uniform(0.2, 0.8)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "low":
        angle = 2 * np.pi * rng.uniform(200, 400) * t
    elif kind == "high":
        angle = 2 * np.pi * rng.uniform(1500, 3000) * t
    elif kind == "chirp":
        # The frequency rises linearly from 300 Hz to 3000 Hz over one frame's time and
        # starts again: every frame holds a sweep, wherever it starts.
        period = FRAME / RATE
        local = t % period
        angle = 2 * np.pi * (300 * local + (3000 - 300) / (2 * period) * local**2)
    else:
        raise ValueError(f"unknown sound {kind!r}: choose one of {', '.join(CLASSES)}")
    sound = amplitude * np.sin(angle + phase) + rng.normal(0, 0.02, size=t.shape)
    return np.clip(sound, -1, 1).astype(np.float32)


def dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` frames (float32, [count, FRAME]) with their class indices, classes in turn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASSES)
    frames = np.stack([tone(CLASSES[k], FRAME / RATE, rng) for k in labels])
    return frames, labels


def write_wav(path: Path, sound: np.ndarray) -> Path:
    """``sound`` as a 16-bit mono WAV at RATE."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(np.round(sound * 32767).astype("<i2").tobytes())
    return path


def train(out_dir: Path, *, epochs: int = 12, count: int = 1500, seed: int = 0) -> float:
    """Train; write ``tones.keras``, ``labels.txt`` and one 2-second WAV per class in
    ``out_dir``; return the accuracy on held-out frames."""
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(seed)
    frames, labels = dataset(count, seed)
    test_frames, test_labels = dataset(max(count // 5, 60), seed + 1)
    model = keras.Sequential([
        keras.Input((FRAME,), name="audio"),
        keras.layers.Reshape((FRAME, 1)),
        keras.layers.Conv1D(8, 16, strides=4, activation="relu"),  # learned band filters
        keras.layers.Conv1D(16, 8, strides=4, activation="relu"),
        keras.layers.GlobalAveragePooling1D(),  # how much of each band, wherever in the frame
        keras.layers.Dense(len(CLASSES), name="logits"),
    ], name="tones")
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(frames, labels, epochs=epochs, batch_size=32, verbose=0)
    accuracy = float(model.evaluate(test_frames, test_labels, verbose=0)[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "tones.keras")
    (out_dir / "labels.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    rng = np.random.default_rng(seed + 2)
    for kind in CLASSES:
        write_wav(out_dir / f"{kind}.wav", tone(kind, 2.0, rng))
    return accuracy


def main(argv: list[str] | None = None) -> None:
    """Command line: train and save (``--fast``: fewer frames and epochs, for CI)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few seconds of training, for CI")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "model")
    args = parser.parse_args(argv)
    accuracy = train(args.output, **({"epochs": 8, "count": 900} if args.fast else {}))
    print(f"trained tones 1-D CNN: held-out frame accuracy {accuracy:.3f}; wrote "
          f"{args.output / 'tones.keras'}, labels.txt, low.wav, high.wav, chirp.wav")


if __name__ == "__main__":
    main()

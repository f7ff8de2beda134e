"""Tiny models with a known answer, for the detection tests, and their input pictures.

The detector is hand-built (fixed weights, no training): a 64x64 RGB picture in
[0, 1] (NCHW); a 1x1 convolution picks the red and the green channel; a 16x16
average pool at stride 4 measures how much of each of 13x13 anchors (16x16
boxes, 4 pixels apart) each colour fills; the fourth power sharpens that into
a score (a full anchor scores 1, one shifted by 4 pixels 0.32, by 8 pixels
0.06). The boxes are the anchors' centres and sizes, constant. Out comes a
YOLO-style head ``[1, 4+2, 169]``: a pure red 16x16 square on a 4-pixel grid
is found as exactly its own box, class 0 ("red"), score 1, and NMS removes
the shifted anchors above the threshold (IoU 0.6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 64
ANCHOR = 16
STRIDE = 4
LABELS = ("red", "green")


def detector(path: Path, *, nhwc: bool = False) -> Path:
    """Write the detector ONNX model to ``path`` (``nhwc``: it takes [1, 64, 64, 3])."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cells = (SIZE - ANCHOR) // STRIDE + 1
    centres = np.arange(cells, dtype=np.float32) * STRIDE + ANCHOR / 2
    cy, cx = np.meshgrid(centres, centres, indexing="ij")
    boxes = np.stack([cx.ravel(), cy.ravel(), np.full(cells * cells, ANCHOR, np.float32),
                      np.full(cells * cells, ANCHOR, np.float32)])[None]  # [1, 4, N]
    # Red minus the other two picks a red square out (white scores 0, as grey does).
    pick = np.array([[1, -0.5, -0.5], [-0.5, 1, -0.5]], dtype=np.float32).reshape(2, 3, 1, 1)
    nodes = ([helper.make_node("Transpose", ["image"], ["planar"], perm=[0, 3, 1, 2])]
             if nhwc else [])
    nodes += [
        helper.make_node("Conv", ["planar" if nhwc else "image", "pick"], ["colour"]),
        helper.make_node("Relu", ["colour"], ["positive"]),
        helper.make_node("AveragePool", ["positive"], ["filled"],
                         kernel_shape=[ANCHOR, ANCHOR], strides=[STRIDE, STRIDE]),
        helper.make_node("Mul", ["filled", "filled"], ["squared"]),
        helper.make_node("Mul", ["squared", "squared"], ["sharp"]),
        helper.make_node("Reshape", ["sharp", "flat"], ["scores"]),
        helper.make_node("Concat", ["boxes", "scores"], ["detections"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                       [1, SIZE, SIZE, 3] if nhwc else [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("detections", TensorProto.FLOAT,
                                       [1, 4 + len(LABELS), cells * cells])],
        [numpy_helper.from_array(pick, "pick"), numpy_helper.from_array(boxes, "boxes"),
         numpy_helper.from_array(np.array([1, len(LABELS), cells * cells], np.int64), "flat")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def squares_picture(path: Path) -> tuple[Path, list[dict]]:
    """A 64x48 PNG (letterboxed to 64x64: 8 rows of fill above and below) on dark grey with
    a red and a green 16x16 square on the anchor grid; and the boxes a detector must find."""
    from PIL import Image

    rgb = np.full((48, SIZE, 3), 40, dtype=np.uint8)
    rgb[16:32, 20:36] = (255, 0, 0)   # model pixels y 24..40: anchor (x 20, y 24)
    rgb[4:20, 40:56] = (0, 255, 0)    # model pixels y 12..28: anchor (x 40, y 12)
    Image.fromarray(rgb).save(path)
    return path, [{"box": [20.0, 16.0, 36.0, 32.0], "class": 0, "label": "red"},
                  {"box": [40.0, 4.0, 56.0, 20.0], "class": 1, "label": "green"}]


VAD_RATE = 16000
VAD_FRAME = 512


def vad(path: Path) -> Path:
    """A streaming voice-activity model of known behaviour: input ``audio [1, ?]``,
    ``state [1, 1]``, int64 scalar ``sr``; ``stateN = state / 2 + energy * sr / 16000``
    (energy: the frame's mean square), ``prob [1, 1] = sigmoid(200 (stateN - 0.01))``.
    A 0.5-amplitude tone (energy 0.125) is speech at once; silence is not, two frames on.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: float) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array(value, dtype=np.float32), name)

    nodes = [
        helper.make_node("Mul", ["audio", "audio"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["energy"], axes=[1], keepdims=1),
        helper.make_node("Cast", ["sr"], ["rate"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["rate", "base"], ["per_base"]),
        helper.make_node("Mul", ["energy", "per_base"], ["scaled"]),
        helper.make_node("Mul", ["state", "half"], ["kept"]),
        helper.make_node("Add", ["kept", "scaled"], ["stateN"]),
        helper.make_node("Sub", ["stateN", "floor"], ["above"]),
        helper.make_node("Mul", ["above", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
    ]
    graph = helper.make_graph(nodes, "vad", [
        helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, None]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 1]),
        helper.make_tensor_value_info("sr", TensorProto.INT64, [])], [
        helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1]),
        helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [1, 1])],
        [const("base", 16000.0), const("half", 0.5), const("floor", 0.01), const("gain", 200.0)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def tone_wav(path: Path, rate: int = 22050, channels: int = 2) -> tuple[Path, list[tuple[float,
                                                                                          float]]]:
    """A 16-bit WAV (``rate`` Hz, ``channels``): 0.4 s of silence, 0.5 s of a 440 Hz tone at
    amplitude 0.5 (the right channel at 0.4, so the mono mix matters), 0.4 s of silence;
    and roughly where the speech segment lies (seconds)."""
    import wave

    t = np.arange(int(rate * 1.3)) / rate
    on = (t >= 0.4) & (t < 0.9)
    left = np.where(on, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    both = np.stack([left, left * 0.8][:channels], axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.round(both * 32767).astype("<i2").tobytes())
    return path, [(0.4, 0.9)]


SOUND_LABELS = ("loud", "quiet-ish", "silent")


def sound_classifier(path: Path) -> Path:
    """A Keras sound classifier of known behaviour on 400-sample frames: logits = the
    frame's mean positive sample x (40, 0, -40) + (0, 2, 0); a 0.5 tone (mean 0.16) is
    "loud", silence "quiet-ish"."""
    import keras

    audio = keras.Input((400,), name="audio")
    logits = keras.layers.Dense(3, name="logits")(keras.layers.Activation("relu")(audio))
    model = keras.Model(audio, logits)
    model.get_layer("logits").set_weights([
        np.tile(np.array([[40 / 400, 0, -40 / 400]], np.float32), (400, 1)),
        np.array([0, 2, 0], np.float32)])
    model.save(path)
    return path

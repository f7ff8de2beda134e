"""Static 8-bit settings, natively and in onnxruntime-web's wasm: which one agrees everywhere.

    python benchmarks/int8_kernels.py [--images 200]

Quantizes the digits classifier of the tests (tests/trained.py) with each
setting onnxruntime offers for static QDQ (activation and weight types, and
reduce_range), calibrated on 100 training images, then runs each on the test
images natively (onnxruntime, this CPU) and in onnxruntime-web's wasm in Node
(the pinned node_modules). It prints each setting's max abs error against
float32 on both, how far wasm is from native, and top-1 agreement. Run it on
CPUs of different kinds: x86 without VNNI saturates int8 weights
(converter/quantize.py, STATIC_8BIT, records what was measured and chosen).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from converter import optimize  # noqa: E402
from converter.native import onnxruntime_model  # noqa: E402
from webapp.runtimes import node_modules  # noqa: E402
from webapp.table import text_table  # noqa: E402

SETTINGS = {  # name: (activation type, weight type, reduce_range)
    "S8S8": ("QInt8", "QInt8", False), "U8S8": ("QUInt8", "QInt8", False),
    "U8U8": ("QUInt8", "QUInt8", False), "S8S8 reduce_range": ("QInt8", "QInt8", True),
    "U8S8 reduce_range": ("QUInt8", "QInt8", True),
}

# Runs every model named on the command line on the images and writes its outputs.
WASM_RUNNER = """
const ort = await import(process.env.ORT);
const fs = await import('fs');
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = process.env.ORT_DIR;
const x = new Float32Array(fs.readFileSync(process.env.IMAGES).buffer.slice(0));
const n = x.length / 64;
for (const path of process.argv.slice(1)) {
  const s = await ort.InferenceSession.create(fs.readFileSync(path),
                                              { executionProviders: ['wasm'] });
  const out = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) {
    const image = new ort.Tensor('float32', x.slice(i * 64, (i + 1) * 64), [1, 1, 8, 8]);
    const r = await s.run({ image });
    out.set(r[s.outputNames[0]].data, i * 10);
  }
  fs.writeFileSync(path + '.wasm.f32', Buffer.from(out.buffer));
}
"""


def main() -> None:
    """Quantize, run natively and in wasm, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="test images to run")
    args = parser.parse_args()
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from trained import digits_cnn

    from converter.quantize import _Feeds, _float_outputs, _save_prepared

    with tempfile.TemporaryDirectory(prefix="webml-int8-") as tmp:
        folder = Path(tmp)
        digits = digits_cnn(folder)
        model = onnx.load(str(digits.model))
        for value in (model.graph.input[0], model.graph.output[0]):
            value.type.tensor_type.shape.dim[0].dim_value = 1  # one image a run, as the page
        source = folder / "float32.onnx"
        _save_prepared(optimize.optimize(model, "basic"), source)
        images = digits.test_x[:args.images]
        images.astype("<f4").tofile(folder / "images.f32")
        float32 = _run(onnxruntime_model(source).run, images)
        calibration = [{"image": digits.train_x[i:i + 1]} for i in range(100)]
        paths = {}
        for name, (activations, weights, reduce_range) in SETTINGS.items():
            path = folder / f"{name.replace(' ', '_')}.onnx"
            quantize_static(str(source), str(path), _Feeds(calibration),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            calibrate_method=CalibrationMethod.MinMax,
                            activation_type=QuantType[activations],
                            weight_type=QuantType[weights], reduce_range=reduce_range)
            quantized = onnx.load(str(path))
            _float_outputs(quantized)
            onnx.save(quantized, str(path))
            paths[name] = path
        _run_wasm(list(paths.values()), folder / "images.f32")
        rows = [("setting", "native vs float32", "wasm vs float32", "wasm vs native",
                 "top-1 native", "top-1 wasm")]
        for name, path in paths.items():
            native = _run(onnxruntime_model(path).run, images)
            wasm = np.fromfile(f"{path}.wasm.f32", "<f4").reshape(native.shape)
            top1 = float32.argmax(axis=1)
            rows.append((name, f"{np.abs(native - float32).max():.4f}",
                         f"{np.abs(wasm - float32).max():.4f}",
                         f"{np.abs(wasm - native).max():.2e}",
                         f"{np.mean(native.argmax(axis=1) == top1):.1%}",
                         f"{np.mean(wasm.argmax(axis=1) == top1):.1%}"))
    print(f"CPU: {_cpu()}; {len(images)} test images of the digits classifier")
    print("\n".join(text_table(rows)))


def _run(run: object, images: np.ndarray) -> np.ndarray:
    return np.concatenate([run({"image": images[i:i + 1]})["probabilities"]  # type: ignore[operator]
                           for i in range(len(images))])


def _run_wasm(paths: list[Path], images: Path) -> None:
    dist = node_modules() / "onnxruntime-web" / "dist"
    node = shutil.which("node")
    if node is None:
        raise SystemExit("Node.js is needed to run onnxruntime-web's wasm")
    env = {"ORT": (dist / "ort.wasm.min.mjs").as_uri(), "ORT_DIR": f"{dist}/",
           "IMAGES": str(images), "PATH": ""}
    subprocess.run([node, "--input-type=module", "-e", WASM_RUNNER, *map(str, paths)],
                   check=True, env=env)


def _cpu() -> str:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    kinds = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
    return ", ".join(kinds) or "no AVX2"


if __name__ == "__main__":
    main()

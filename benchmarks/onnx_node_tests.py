"""The onnx wheel's backend node tests, through webml's ONNX target, run natively.

    python benchmarks/onnx_node_tests.py [--filter SUBSTRING] [--dynamic] [--jobs 1]
                                         [--json results.json]

The onnx wheel ships about 1,450 one-operator models (onnx/backend/test/data/node/
*/model.onnx), each with inputs and expected outputs (test_data_set_*/input_*.pb,
output_*.pb). For each one this runs the raw model in onnxruntime, and the
files webml's ONNX target writes for it (``converter.targets.onnx.convert``:
model.onnx and every variant graph, the fused one and webgl's static one)
in the same onnxruntime, against the expected outputs, with the tolerances of
onnx's own backend test runner (rtol 1e-3, atol 1e-7). It prints the pass
rates and every test webml loses: one the raw model passes and webml's files
do not (or a conversion webml refuses). The goal is that there are none.
With --dynamic every dimension of every graph input is made a symbol first, as
exported models have them: webml then keeps them dynamic, and writes webl's
static graph with the test data's shapes (given as --input-shape would).
Natively only: no browser; a few minutes on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.errors import WebmlError  # noqa: E402
from webapp.table import text_table  # noqa: E402

RTOL, ATOL = 1e-3, 1e-7  # onnx/backend/test/runner: the defaults of every node test
WEBGL = "model.webgl.onnx"  # converter/targets/onnx.py WEBGL_ENTRY


@dataclasses.dataclass(frozen=True)
class Result:
    """One node test: how the raw model and webml's files fared."""

    test: str
    raw: str  # pass, fail (wrong numbers) or error (onnxruntime refused or raised)
    webml: str  # pass, fail, error, or refused (webml said why it cannot convert it)
    detail: str = ""  # why webml's side is not a pass
    graphs: tuple[str, ...] = ()  # the graph files webml wrote, all checked
    tensors_only: bool = True  # every graph input and output a tensor, as onnxruntime-web needs

    @property
    def lost(self) -> bool:
        """The raw model passes natively and webml's files do not, for a browser-shaped model."""
        return self.raw == "pass" and self.webml != "pass" and self.tensors_only


def node_tests() -> list[Path]:
    """The folders of the onnx wheel's node tests, sorted."""
    import onnx

    root = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
    return sorted(p for p in root.iterdir() if (p / "model.onnx").is_file())


def _read(path: Path, value_type: Any) -> Any:
    """One input_N.pb or output_N.pb, as the model's value type says it is stored."""
    import onnx
    from onnx import numpy_helper

    data = path.read_bytes()
    kind = value_type.WhichOneof("value")
    if kind == "sequence_type":
        proto = onnx.SequenceProto()
        proto.ParseFromString(data)
        return numpy_helper.to_list(proto)
    if kind == "optional_type":
        proto = onnx.OptionalProto()
        proto.ParseFromString(data)
        return numpy_helper.to_optional(proto)
    proto = onnx.TensorProto()
    proto.ParseFromString(data)
    return numpy_helper.to_array(proto)


def _data_sets(folder: Path, model: Any) -> list[tuple[dict[str, Any], list[Any]]]:
    initializers = {init.name for init in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    sets = []
    for data in sorted(folder.glob("test_data_set_*")):
        feeds = {}
        for i, value in enumerate(inputs):
            path = data / f"input_{i}.pb"
            if path.is_file():  # an optional input the test leaves out has no file
                feeds[value.name] = _read(path, value.type)
        expected = [_read(data / f"output_{i}.pb", v.type)
                    for i, v in enumerate(model.graph.output)
                    if (data / f"output_{i}.pb").is_file()]
        sets.append((feeds, expected))
    return sets


def _agrees(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            _agrees(g, w) for g, w in zip(got, want, strict=True))
    if want is None:
        return got is None
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False
    if want.dtype.kind in "fc":
        return bool(np.allclose(got.astype(want.dtype), want, rtol=RTOL, atol=ATOL,
                                equal_nan=True))
    return bool(np.array_equal(got, want))


def _run(model: Any, sets: list[tuple[dict[str, Any], list[Any]]]) -> tuple[str, str]:
    """(pass | fail | error, what went wrong) for a model (bytes or path) on every data set."""
    import onnxruntime as ort

    from converter.tune import first_line

    options = ort.SessionOptions()
    options.log_severity_level = 4  # the refusals are counted, not printed
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(model if isinstance(model, bytes) else str(model),
                                       options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        for feeds, expected in sets:
            got = session.run(names, feeds)
            if not all(_agrees(g, w) for g, w in zip(got, expected, strict=False)):
                return "fail", "outputs differ from the expected ones"
    except Exception as exc:  # onnxruntime raises its own types, and numpy may too
        return "error", first_line(exc)
    return "pass", ""


def _dynamic(model: Any) -> None:
    """Make every dimension of the graph's inputs and outputs a symbol of its own."""
    for value in (*model.graph.input, *model.graph.output):
        if value.type.WhichOneof("value") != "tensor_type":
            continue
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            dim.Clear()
            dim.dim_param = f"{value.name}_d{i}"
    del model.graph.value_info[:]


def check(folder: Path, dynamic: bool = False) -> Result:
    """Run one node test raw and through webml's ONNX target."""
    import onnx

    from converter.load import load_model
    from converter.targets import TargetOptions
    from converter.targets import onnx as onnx_target

    model = onnx.load(str(folder / "model.onnx"))
    sets = _data_sets(folder, model)
    shapes: dict[str, tuple[int, ...]] = {}
    if dynamic:
        _dynamic(model)
        shapes = {name: np.shape(value) for name, value in sets[0][0].items()
                  if isinstance(value, np.ndarray)} if sets else {}
    raw, _ = _run(model.SerializeToString(), sets)
    # onnxruntime-web's session takes and returns tensors only: no sequences or optionals.
    tensors = all(v.type.WhichOneof("value") == "tensor_type"
                  for v in (*model.graph.input, *model.graph.output))
    result = functools.partial(Result, folder.name, raw, tensors_only=tensors)
    with tempfile.TemporaryDirectory(prefix="webml-node-") as tmp:
        try:
            source = Path(tmp) / "source.onnx"
            onnx.save(model, str(source))
            loaded = load_model(source)
            web = onnx_target.convert(loaded, Path(tmp), TargetOptions(input_shapes=shapes))
        except WebmlError as exc:
            return result("refused", str(exc).splitlines()[0][:200])
        except Exception as exc:  # a crash inside webml: exactly what this benchmark finds
            return result("error", f"{type(exc).__name__}: {exc}"[:200])
        graphs = sorted({web.entry, *web.variants.values()})
        for name in graphs:
            # webgl's static graph takes the shapes it was fixed to: the first data set's.
            status, why = _run(Path(tmp) / name, sets[:1] if name == WEBGL else sets)
            if status != "pass":
                return result(status, f"{name}: {why}"[:200], tuple(graphs))
    return result("pass", "", tuple(graphs))


def _quiet_check(folder: Path, dynamic: bool = False) -> Result:
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # its warnings and errors would fill the terminal
    return check(folder, dynamic)


def report(results: list[Result], seconds: float) -> str:
    """Pass rates, then a row for every test webml loses."""
    total = len(results)

    def rate(side: str) -> str:
        passed = sum(getattr(r, side) == "pass" for r in results)
        return f"{passed}/{total} ({passed / total:.1%})" if total else "0/0"

    lost = [r for r in results if r.lost]
    won = [r for r in results if r.webml == "pass" and r.raw != "pass"]
    refused = sum(r.webml == "refused" for r in results)
    not_browser = sum(not r.tensors_only for r in results)
    lines = text_table([
        ("model", "passes"),
        ("raw model in onnxruntime", rate("raw")),
        ("webml's ONNX target, every graph it writes", rate("webml")),
    ])
    lines += ["", f"{len(lost)} lost by webml (the raw model passes, webml's files do not); "
              f"{len(won)} the other way; {refused} refused by webml, with a reason; "
              f"{not_browser} not counted: a sequence or optional input or output, which "
              f"onnxruntime-web cannot pass; {seconds:.0f} s"]
    if lost:
        lines += ["", *text_table([("test", "webml", "why"),
                                   *((r.test, r.webml, r.detail) for r in lost)])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the node tests; exit 1 when webml loses any."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filter", default="", help="only tests whose name contains this")
    parser.add_argument("--dynamic", action="store_true",
                        help="make every input dimension dynamic first, as exports have them")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes (default 1: the machine is shared)")
    parser.add_argument("--json", type=Path, default=None, help="also write every result here")
    args = parser.parse_args(argv)
    folders = [f for f in node_tests() if args.filter in f.name]
    began = time.perf_counter()
    if args.jobs > 1:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(functools.partial(_quiet_check, dynamic=args.dynamic), folders,
                               chunksize=8)
    else:
        results = [_quiet_check(f, args.dynamic) for f in folders]
    print(report(results, time.perf_counter() - began))
    if args.json is not None:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1)
                             + "\n", encoding="utf-8")
    return 1 if any(r.lost for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

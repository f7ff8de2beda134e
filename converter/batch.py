"""How many inputs one run takes, written into the manifest for the page's batch scoring.

The page never guesses: it runs chunks of inputs only as ``Manifest.batch``
says (static/js/batch.js ``plan``). A model takes a batch when its inputs and
outputs all carry it on the first axis, as the golden run shows (convert
``--batch N`` makes that N); an ONNX model whose batch dimension is dynamic
takes any number on the backends that open the dynamic graph (wasm, webgpu;
webgl's graph has the golden input's shapes fixed), which is checked here,
natively: the golden input twice over must give the golden output twice over.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.manifest import BatchSupport, Golden
from converter.targets import WebModel

# onnxruntime-web backends that open a graph with its dynamic dimensions as they are.
DYNAMIC_BACKENDS = ("wasm", "webgpu")


def batch_support(web: WebModel, folder: Path, golden: Golden) -> BatchSupport | None:
    """What the manifest's ``batch`` says for the model ``web`` converted into ``folder``:
    None when some input or output has no batch on its first axis (the page then runs
    one input at a time, shaped as the golden input)."""
    shapes = [np.shape(v) for v in (*golden.inputs.values(), *golden.outputs.values())]
    if not shapes or any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        return None
    size = int(shapes[0][0])
    # The files the dynamic backends open: the entry, or a fused variant.
    graphs = sorted({folder / web.variants.get(b, web.entry) for b in DYNAMIC_BACKENDS})
    dynamic = (web.runtime == "onnx"
               and all(not isinstance(t.shape[0], int) or t.shape[0] < 0 for t in web.inputs)
               and all(_runs_twice_over(graph, golden) for graph in graphs))
    return BatchSupport(size, DYNAMIC_BACKENDS if dynamic else ())


def _runs_twice_over(graph: Path, golden: Golden) -> bool:
    """Whether ``graph`` answers the golden input stacked twice with the golden output twice."""
    from converter.reference import run_onnx

    doubled = {k: np.concatenate([v, v]) for k, v in golden.inputs.items()}
    try:
        got = run_onnx(graph, doubled)
    except Exception:  # onnxruntime refuses the shape: the batch is not dynamic after all
        return False
    for name, want in golden.outputs.items():
        value = got.get(name)
        if value is None or value.shape != (2 * want.shape[0], *want.shape[1:]):
            return False
        if want.dtype.kind in "OUSb" or value.dtype.kind in "OUSb":
            if not np.array_equal(value, np.concatenate([want, want])):
                return False
        elif not np.allclose(value.astype(np.float64), np.concatenate([want, want]),
                             atol=golden.atol, rtol=golden.rtol):
            return False
    return True

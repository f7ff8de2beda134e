"""The text `webml inspect` prints for a converter.inspect.ModelReport."""

from __future__ import annotations

from collections.abc import Callable

from converter.inspect import BackendReport, GraphReport, ModelReport
from converter.spec import TensorSpec
from webapp.table import text_table

# Operators shown in the histogram; the JSON report has them all.
TOP_OPS = 15


def format_inspect(report: ModelReport) -> str:
    """The report as readable text: signature, size, layers, then one section per web graph."""
    params = f"{report.parameters:,} parameters"
    if report.trainable_parameters is not None:
        params += (f" ({report.trainable_parameters:,} trainable, "
                   f"{report.parameters - report.trainable_parameters:,} not)")
    lines = [f"{report.source}: {report.format}, {_size(report.size_bytes)}, {params}", ""]
    rows = [("tensor", "name", "dtype", "shape", "dynamic dims", "layout")]
    rows += [_tensor_row("input", t) for t in report.inputs]
    rows += [_tensor_row("output", t) for t in report.outputs]
    lines += text_table(rows)
    if report.layers:
        lines += ["", "Keras layers: " + ", ".join(f"{name} {n}" for name, n in report.layers)]
    for graph in report.graphs:
        lines += ["", *_graph_lines(graph)]
    return "\n".join(lines)


def _size(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _tensor_row(kind: str, tensor: TensorSpec) -> tuple[str, ...]:
    dims = [str(d) if isinstance(d, int) and d >= 0 else (d if isinstance(d, str) else "?")
            for d in tensor.shape]
    dynamic = [str(i) for i, d in enumerate(tensor.shape) if not (isinstance(d, int) and d >= 0)]
    return (kind, tensor.name, tensor.dtype, f"[{', '.join(dims)}]", ",".join(dynamic) or "-",
            tensor.layout or "-")


def _graph_lines(graph: GraphReport) -> list[str]:
    total = sum(n for _, n in graph.ops)
    opsets = ", ".join(f"{domain or 'ai.onnx'} {v}" for domain, v in sorted(graph.opsets.items()))
    lines = [f"{graph.runtime_version}: {graph.graph}",
             f"{total} node{'s' * (total != 1)}, {len(graph.ops)} operator type"
             f"{'s' * (len(graph.ops) != 1)}" + (f"; opsets {opsets}" if opsets else "")]
    shown = [(op, str(n)) for op, n in graph.ops[:TOP_OPS]]
    if len(graph.ops) > TOP_OPS:
        rest = sum(n for _, n in graph.ops[TOP_OPS:])
        shown.append((f"({len(graph.ops) - TOP_OPS} more)", str(rest)))
    lines += text_table([("operator", "nodes"), *shown])
    if graph.not_convertible:
        lines.append("tensorflowjs_converter has no mapping for: "
                     + ", ".join(graph.not_convertible))
    lines.append("")
    lines += _backend_table(graph.backends)
    if not graph.runs:
        lines.append(f"no {graph.runtime_version.split(' ')[0]} backend runs this model")
    return lines


def _backend_table(backends: tuple[BackendReport, ...]) -> list[str]:
    columns: list[tuple[str, Callable[[BackendReport], str]]] = [
        ("backend", lambda b: b.backend),
        ("runs", lambda b: "no" if not b.runs else
         "yes, partly on the CPU" if b.fallback else "yes"),
        ("missing operators", lambda b: ", ".join(b.unsupported) or "-")]
    if any(b.limits for b in backends):
        columns.append(("other limits", lambda b: ", ".join(b.limits) or "-"))
    # Columns only onnxruntime-web fills, shown when they say something.
    if any(b.fallback for b in backends):
        columns.append(("on the CPU instead", lambda b: ", ".join(b.fallback) or "-"))
    if any(b.unknown for b in backends):
        columns.append(("not in the tables", lambda b: ", ".join(b.unknown) or "-"))
    return text_table([tuple(title for title, _ in columns),
                       *(tuple(cell(b) for _, cell in columns) for b in backends)])

"""The float twin of an ONNX model that arrives already quantized.

A third-party model quantized before webml saw it (onnxruntime's
``quantize_dynamic`` or ``quantize_static``, or a QOperator export) has no
float32 source to measure its quantization against, so its golden check would
get float32's tolerance and reject a browser whose integer kernels are not
native's. Its float twin is the same graph with the quantization taken out:

- a DequantizeLinear of constants (a weight, a bias) becomes the float constant;
- QuantizeLinear -> DequantizeLinear on an activation (QDQ) becomes a Clip to
  the range the pair holds: the rounding goes, the saturation stays;
- DynamicQuantizeLinear -> ConvInteger/MatMulInteger -> Cast -> Mul (the input's
  scale times the weight's), as ``quantize_dynamic`` writes it, becomes a float
  Conv/MatMul on the dequantized weight;
- onnxruntime's fusions of it, com.microsoft DynamicQuantizeMatMul and
  MatMulIntegerToFloat (a model saved after onnxruntime's optimizer), become
  MatMul and Add;
- QLinearConv, QLinearMatMul, com.microsoft QGemm, QLinearAdd and the other
  ops of :data:`QOPERATOR_LAYOUT` become DequantizeLinear, the float operator
  and QuantizeLinear, whose pairs the QDQ rule then removes.

Every other node is kept. What the rules do not cover stays quantized in the
twin, and :attr:`Twin.kept` names it, so the caller can say that the measured
error covers only the part that was dequantized.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

# Operators that mark a graph as quantized.
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
DYNAMIC_OPS = ("DynamicQuantizeLinear", "ConvInteger", "MatMulInteger")
QOPERATOR_OPS = ("QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearMul",
                 "QLinearSigmoid", "QLinearLeakyRelu", "QLinearConcat", "QLinearAveragePool",
                 "QLinearGlobalAveragePool", "QLinearSoftmax", "QLinearReduceMean",
                 "QLinearWhere", "QAttention", "DynamicQuantizeMatMul", "MatMulIntegerToFloat")
QUANTIZATION_OPS = (*QDQ_OPS, *DYNAMIC_OPS, *QOPERATOR_OPS)
# QOperator op -> (its float op, where each (x, scale, zero point) operand starts,
# the output's (scale, zero point) positions, the int32 bias's position or 0).
QOPERATOR_LAYOUT = {
    "QLinearConv": ("Conv", (0, 3), (6, 7), 8),
    "QLinearMatMul": ("MatMul", (0, 3), (6, 7), 0),
    "QGemm": ("Gemm", (0, 3), (7, 8), 6),
    "QLinearAdd": ("Add", (0, 3), (6, 7), 0),
    "QLinearMul": ("Mul", (0, 3), (6, 7), 0),
    "QLinearSigmoid": ("Sigmoid", (0,), (3, 4), 0),
    "QLinearLeakyRelu": ("LeakyRelu", (0,), (3, 4), 0),
    "QLinearSoftmax": ("Softmax", (0,), (3, 4), 0),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", (0,), (3, 4), 0),
    "QLinearAveragePool": ("AveragePool", (0,), (3, 4), 0),
}


@dataclass(frozen=True)
class Twin:
    """A quantized model's float twin, and the quantization operators it still holds."""

    model: Any  # onnx.ModelProto
    kept: dict[str, int]  # quantization op type -> nodes left quantized (no rule for them)

    def describe_kept(self) -> str:
        """E.g. ``QLinearAdd x2, QuantizeLinear x1``; empty when the twin is all float."""
        return ", ".join(f"{op} x{n}" for op, n in sorted(self.kept.items()))


def quantization_ops(model: Any) -> dict[str, int]:
    """The quantization operators in ``model``'s main graph, with their counts."""
    return dict(Counter(node.op_type for node in model.graph.node
                        if node.op_type in QUANTIZATION_OPS))


def output_steps(model: Any) -> dict[str, float]:
    """Graph outputs that a DequantizeLinear of one constant scale yields -> that scale.

    One quantization step: two correct integer implementations of such an output
    may round one step apart, so no tolerance below it is fair.
    """
    from onnx import numpy_helper

    scales = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}
    found = {}
    for output in model.graph.output:
        node = producer.get(output.name)
        scale = scales.get(node.input[1]) if node and node.op_type == "DequantizeLinear" else None
        if scale is not None and scale.size == 1:
            found[output.name] = float(scale.reshape(()))
    return found


def float_twin(model: Any) -> Twin:
    """A copy of ``model`` with the quantization taken out (see the module docstring)."""
    import onnx

    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    opset = next((o.version for o in twin.opset_import if o.domain in ("", "ai.onnx")), 11)
    graph = _Graph(twin.graph, opset)
    graph.expand_qoperators()
    graph.fold_constant_dequantize()
    graph.replace_dynamic()
    graph.replace_fused_dynamic()
    graph.remove_qdq_pairs()
    graph.prune()
    return Twin(twin, quantization_ops(twin))


class _Graph:
    """An onnx GraphProto being rewritten in place, with its constants as arrays."""

    def __init__(self, graph: Any, opset: int) -> None:
        from onnx import numpy_helper

        self.graph = graph
        self.opset = opset  # the default domain's: Clip's form depends on it
        self.constants: dict[str, np.ndarray] = {
            init.name: numpy_helper.to_array(init) for init in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.constants[node.output[0]] = numpy_helper.to_array(value)
        self._count = 0

    # The rewriting rules, in the order float_twin applies them.

    def expand_qoperators(self) -> None:
        """Each QOperator node of :data:`QOPERATOR_LAYOUT` -> DequantizeLinear, float op,
        QuantizeLinear."""
        from onnx import helper

        nodes: list[Any] = []
        for node in self.graph.node:
            inputs = list(node.input) + [""] * 9
            layout = QOPERATOR_LAYOUT.get(node.op_type)
            attrs = {x.name: helper.get_attribute_value(x) for x in node.attribute}
            if layout is None or attrs.pop("channels_last", 0):
                nodes.append(node)
                continue
            float_op, operands, (y_scale, y_zero), bias_at = layout
            attrs.pop("opset", None)  # QLinearSoftmax's: the float op has the model's opset
            bias = self._bias(inputs[bias_at], inputs[1], inputs[4]) if bias_at else None
            if bias_at and inputs[bias_at] and bias is None:
                nodes.append(node)  # a bias whose scales are not constants: keep it
                continue
            floats = []
            for i, at in enumerate(operands):
                name = self.name("x")
                axis = self._axis(node.op_type, inputs[at + 1], attrs) if i == 1 else {}
                nodes.append(helper.make_node("DequantizeLinear", inputs[at:at + 3], [name],
                                              **axis))
                floats.append(name)
            floats += [bias] if bias else []
            if not inputs[y_scale]:  # QGemm without y_scale answers in float
                nodes.append(helper.make_node(float_op, floats, list(node.output), **attrs))
                continue
            y = self.name("y")
            nodes.append(helper.make_node(float_op, floats, [y], **attrs))
            nodes.append(helper.make_node("QuantizeLinear", [y, *filter(None, (
                inputs[y_scale], inputs[y_zero]))], list(node.output)))
        self._replace_nodes(nodes)

    def fold_constant_dequantize(self) -> None:
        """A DequantizeLinear of constants becomes the float constant it computes."""
        kept = []
        for node in self.graph.node:
            value = self._dequantized(node) if node.op_type == "DequantizeLinear" else None
            if value is None:
                kept.append(node)
            else:
                self.add_constant(node.output[0], value)
        self._replace_nodes(kept)

    def replace_dynamic(self) -> None:
        """quantize_dynamic's integer Conv/MatMul chains become float Conv/MatMul."""
        from onnx import helper

        producer = self.producers()
        consumers = self.consumers()
        dropped: set[int] = set()
        added: dict[int, Any] = {}
        for node in self.graph.node:
            if node.op_type not in ("ConvInteger", "MatMulInteger"):
                continue
            chain = self._dynamic_chain(node, producer, consumers)
            if chain is None:
                continue
            quantizer, cast, mul, weight = chain
            float_op = "Conv" if node.op_type == "ConvInteger" else "MatMul"
            name = self.name("weight")
            self.add_constant(name, weight)
            attrs = {x.name: helper.get_attribute_value(x) for x in node.attribute}
            added[id(mul)] = helper.make_node(float_op, [quantizer.input[0], name],
                                              [mul.output[0]], **attrs)
            dropped |= {id(node), id(cast)}
        self._replace_nodes([added.get(id(n), n) for n in self.graph.node
                             if id(n) not in dropped])

    def replace_fused_dynamic(self) -> None:
        """onnxruntime's fusions of that chain (in a model saved after its optimizer):
        DynamicQuantizeMatMul and MatMulIntegerToFloat become MatMul (+ Add of the bias)."""
        from onnx import helper

        producer = self.producers()
        nodes: list[Any] = []
        for node in self.graph.node:
            inputs = list(node.input) + [""] * 7
            if node.op_type == "DynamicQuantizeMatMul":
                source, (weight, scale, zero, bias) = inputs[0], inputs[1:5]
            elif node.op_type == "MatMulIntegerToFloat":
                quantizer = producer.get(inputs[0])
                weight, scale, zero, bias = inputs[1], inputs[3], inputs[5], inputs[6]
                if quantizer is None or quantizer.op_type != "DynamicQuantizeLinear" or (
                        inputs[2] != quantizer.output[1]
                        or inputs[4] not in ("", quantizer.output[2])):
                    nodes.append(node)
                    continue
                source = quantizer.input[0]
            else:
                nodes.append(node)
                continue
            if any(n and n not in self.constants for n in (weight, scale, zero, bias)):
                nodes.append(node)  # a weight computed at run time: no float rule
                continue
            quantized = self.constants[weight]
            shift = self.constants.get(zero, np.zeros((), np.float32))
            factor = self.constants[scale]
            value = (quantized.astype(np.float32) - shift.astype(np.float32).reshape(
                self._broadcast("MatMulInteger", shift, quantized.ndim))) * factor.astype(
                np.float32).reshape(self._broadcast("MatMulInteger", factor, quantized.ndim))
            name = self.name("weight")
            self.add_constant(name, value.astype(np.float32))
            product = self.name("product") if bias else node.output[0]
            nodes.append(helper.make_node("MatMul", [source, name], [product]))
            if bias:
                nodes.append(helper.make_node("Add", [product, bias], [node.output[0]]))
        self._replace_nodes(nodes)

    def remove_qdq_pairs(self) -> None:
        """DequantizeLinear(QuantizeLinear(x)) becomes Clip(x) to the range the pair holds.

        The rounding goes, the range stays: onnxruntime's quantizer drops a Relu
        (or Clip) before a QuantizeLinear whose range starts at zero, relying on
        the quantization to clip, so the identity would compute another function.
        """
        from onnx import helper

        producer = self.producers()
        kept = []
        for node in self.graph.node:
            source = producer.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
            held = self._held_range(source, node) if source is not None else None
            if held is None:
                kept.append(node)
                continue
            low, high = self.name("low"), self.name("high")
            if self.opset >= 11:
                self.add_constant(low, held[0])
                self.add_constant(high, held[1])
                kept.append(helper.make_node("Clip", [source.input[0], low, high],
                                             [node.output[0]]))
            else:  # Clip took its bounds as attributes before opset 11
                kept.append(helper.make_node("Clip", [source.input[0]], [node.output[0]],
                                             min=float(held[0]), max=float(held[1])))
        self._replace_nodes(kept)

    def _held_range(self, quantize: Any, dequantize: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """[low, high] that QuantizeLinear -> DequantizeLinear passes, or None when the two
        are no pair (other scales, per-axis or computed ones)."""
        if quantize.op_type != "QuantizeLinear":
            return None
        pairs = [(list(quantize.input) + [""])[i] for i in (1, 2)]
        if pairs != [(list(dequantize.input) + [""])[i] for i in (1, 2)] or any(
                n and n not in self.constants for n in pairs):
            return None
        scale = self.constants[pairs[0]]
        zero = self.constants[pairs[1]] if pairs[1] else np.zeros((), np.uint8)
        if scale.size != 1 or zero.size != 1 or zero.dtype.kind not in "iu":
            return None
        limits = np.iinfo(zero.dtype)
        offset = float(zero.reshape(()))
        step = scale.astype(np.float32).reshape(())
        return (((limits.min - offset) * step).astype(scale.dtype),
                ((limits.max - offset) * step).astype(scale.dtype))

    def prune(self) -> None:
        """Drop nodes and initializers nothing reads any more (a bare quantizer, a scale)."""
        # An If or Loop body may read outer tensors by name: those stay alive too.
        outputs = {o.name for o in self.graph.output} | _subgraph_reads(self.graph)
        nodes = list(self.graph.node)
        while True:
            used = outputs | {name for node in nodes for name in node.input}
            alive = [n for n in nodes if any(out in used for out in n.output)]
            if len(alive) == len(nodes):
                break
            nodes = alive
        self._replace_nodes(nodes)
        used = outputs | {name for node in nodes for name in node.input}
        for init in [i for i in self.graph.initializer if i.name not in used]:
            self.graph.initializer.remove(init)
        inputs = [i for i in self.graph.input
                  if i.name in used or i.name not in self.constants]
        del self.graph.input[:]
        self.graph.input.extend(inputs)

    # Helpers.

    def _dynamic_chain(self, node: Any, producer: dict[str, Any],
                       consumers: dict[str, list[Any]]) -> tuple[Any, Any, Any, np.ndarray] | None:
        """(DynamicQuantizeLinear, Cast, Mul, float weight) around an integer op, or None."""
        inputs = list(node.input) + [""] * 4
        quantizer = producer.get(inputs[0])
        if quantizer is None or quantizer.op_type != "DynamicQuantizeLinear" or (
                inputs[2] not in ("", quantizer.output[2])):
            return None
        weight_q = self.constants.get(inputs[1])
        after = consumers.get(node.output[0], [])
        if weight_q is None or (inputs[3] and inputs[3] not in self.constants) or len(after) != 1:
            return None
        zero = self.constants.get(inputs[3], np.zeros((), np.float32))
        cast = after[0]
        muls = consumers.get(cast.output[0], [])
        if cast.op_type != "Cast" or len(muls) != 1 or muls[0].op_type != "Mul":
            return None
        mul = muls[0]
        scales = producer.get(next((n for n in mul.input if n != cast.output[0]), ""))
        if scales is None or scales.op_type != "Mul" or quantizer.output[1] not in scales.input:
            return None
        scale = self.constants.get(next((n for n in scales.input if n != quantizer.output[1]),
                                        ""))
        if scale is None:
            return None
        weight = weight_q.astype(np.float32) - np.asarray(zero, np.float32).reshape(
            self._broadcast(node.op_type, np.asarray(zero), weight_q.ndim))
        weight = weight * np.asarray(scale, np.float32).reshape(
            self._broadcast(node.op_type, np.asarray(scale), weight_q.ndim))
        return quantizer, cast, mul, weight.astype(np.float32)

    @staticmethod
    def _broadcast(op: str, value: np.ndarray, rank: int) -> tuple[int, ...]:
        """The shape that applies a per-channel value to a weight of ``rank`` dims.

        ConvInteger's channels are the weight's first axis ([M, C, kH, kW]),
        MatMulInteger's its last ([K, N]); a scalar applies everywhere.
        """
        if value.size == 1:
            return ()
        if op == "ConvInteger":
            return (value.size,) + (1,) * (rank - 1)
        return (value.size,)

    def _dequantized(self, node: Any) -> np.ndarray | None:
        """What a DequantizeLinear of constants computes, or None when it reads a tensor."""
        from onnx import helper

        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        names = list(node.input) + ["", ""]
        if attrs.get("block_size") or any(n and n not in self.constants for n in names[:3]):
            return None  # blocked scales (opset 21) are not folded: the node stays
        quantized, scale = self.constants[names[0]], self.constants[names[1]]
        zero = self.constants[names[2]] if names[2] else np.zeros((), quantized.dtype)
        shape: tuple[int, ...] = ()
        if scale.size > 1:
            axis = int(attrs.get("axis", 1)) % quantized.ndim
            shape = tuple(scale.size if i == axis else 1 for i in range(quantized.ndim))
        value = (quantized.astype(np.float32) - zero.astype(np.float32).reshape(shape)) * (
            scale.astype(np.float32).reshape(shape))
        return value.astype(scale.dtype)

    def _bias(self, bias: str, a_scale: str, b_scale: str) -> str | None:
        """A QLinearConv/QGemm int32 bias (scale a_scale * b_scale) as a float constant."""
        if not bias or not all(n in self.constants for n in (bias, a_scale, b_scale)):
            return None
        scale = (self.constants[a_scale].astype(np.float32)
                 * self.constants[b_scale].astype(np.float32)).reshape(-1)
        value = self.constants[bias].astype(np.float32) * (scale if scale.size > 1
                                                           else scale[0])
        name = self.name("bias")
        self.add_constant(name, value.astype(np.float32))
        return name

    def _axis(self, op: str, scale: str, attrs: dict[str, Any]) -> dict[str, int]:
        """A per-channel weight's DequantizeLinear axis: the output channels or columns.

        Conv's weight is [M, C, kH, kW]; MatMul's [..., K, N]; Gemm's [K, N], or
        [N, K] with transB.
        """
        value = self.constants.get(scale)
        if value is None or value.size == 1:
            return {}
        if op == "QLinearConv" or (op == "QGemm" and attrs.get("transB", 0)):
            return {"axis": 0}
        return {"axis": -1}

    def add_constant(self, name: str, value: np.ndarray) -> None:
        """Add (or replace) a float initializer named ``name``."""
        from onnx import numpy_helper

        self.constants[name] = value
        for init in [i for i in self.graph.initializer if i.name == name]:
            self.graph.initializer.remove(init)
        self.graph.initializer.append(numpy_helper.from_array(value, name))

    def name(self, what: str) -> str:
        """A tensor name unused in the graph, for what the twin adds."""
        self._count += 1
        return f"webml_twin/{what}_{self._count}"

    def producers(self) -> dict[str, Any]:
        return {out: node for node in self.graph.node for out in node.output}

    def consumers(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for name in node.input:
                found.setdefault(name, []).append(node)
        return found

    def _replace_nodes(self, nodes: list[Any]) -> None:
        copies = [type(n)() for n in nodes]
        for copy, node in zip(copies, nodes, strict=True):
            copy.CopyFrom(node)
        del self.graph.node[:]
        self.graph.node.extend(copies)


def _subgraph_reads(graph: Any) -> set[str]:
    """Every tensor name a node inside ``graph``'s subgraphs (If, Loop, Scan bodies) reads."""
    from onnx import AttributeProto

    found: set[str] = set()
    for node in graph.node:
        for attr in node.attribute:
            bodies = ([attr.g] if attr.type == AttributeProto.GRAPH
                      else list(attr.graphs) if attr.type == AttributeProto.GRAPHS else [])
            for body in bodies:
                found |= {name for inner in body.node for name in inner.input}
                found |= _subgraph_reads(body)
    return found

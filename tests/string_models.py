"""A tiny ONNX model with a string input and string and bool outputs, made here.

onnxruntime-web's wasm backend takes and returns string tensors (ort.Tensor('string',
[...], dims)); this model exercises the whole path: the manifest's string arrays, the
golden check's exact comparison, and the tensor editor's strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The word the model looks for: generated golden inputs draw from it (converter.realistic).
WORD = "hello"


def string_model() -> Any:
    """text [1, 4] string -> upper (StringNormalizer UPPER), same (Equal to WORD, bool),
    echo (Identity: the text as given). Opset 19: Equal takes strings from 19 on."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("StringNormalizer", ["text"], ["upper"], case_change_action="UPPER",
                          locale="C"),
         helper.make_node("Equal", ["text", "word"], ["same"]),
         helper.make_node("Identity", ["text"], ["echo"])],
        "strings",
        [helper.make_tensor_value_info("text", TensorProto.STRING, [1, 4])],
        [helper.make_tensor_value_info("upper", TensorProto.STRING, [1, 4]),
         helper.make_tensor_value_info("same", TensorProto.BOOL, [1, 4]),
         helper.make_tensor_value_info("echo", TensorProto.STRING, [1, 4])],
        [helper.make_tensor("word", TensorProto.STRING, [1], [WORD.encode()])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def save_string_model(path: Path) -> Path:
    """:func:`string_model`, checked and saved (IR 9: onnxruntime's, and opset 19's)."""
    import onnx

    model = string_model()
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path

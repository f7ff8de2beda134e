"""onnx 1.18 writes IR version 11; the pinned onnxruntime loads 10 at most."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import onnx_ir
from converter.errors import UnsupportedModelError
from converter.load import load_model
from converter.reference import run_onnx


def doubler(extra: list[onnx.TensorProto] | None = None) -> onnx.ModelProto:
    """As a user writes it with the pinned onnx: make_model's default IR version."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])], "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], extra or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_onnxruntime_loads_at_most_ir_10() -> None:
    assert doubler().ir_version == 11 == onnx.IR_VERSION  # what make_model writes
    assert onnx_ir.max_ir_version() == 10


def test_a_fresh_export_is_lowered_on_load_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "double.onnx"
    onnx.save(doubler(), str(path))
    loaded = load_model(path)
    assert loaded.handle.ir_version == 10
    assert loaded.notes == ("double.onnx is ONNX IR version 11, which onnxruntime loads up to "
                            "10: lowered to 10 (the graph uses nothing IR 11 added)",)
    x = np.arange(3, dtype=np.float32).reshape(1, 3)
    assert np.array_equal(run_onnx(loaded.handle, {"x": x})["y"], 2 * x)


def test_a_model_using_what_ir_11_added_is_one_line_with_the_fix(tmp_path: Path) -> None:
    fp4 = helper.make_tensor("unused_fp4", TensorProto.FLOAT4E2M1, [2], [0.5, 1.0])
    path = tmp_path / "fp4.onnx"
    onnx.save(doubler([fp4]), str(path))
    with pytest.raises(UnsupportedModelError) as info:
        load_model(path)
    assert info.value.message == ("fp4.onnx is ONNX IR version 11 and uses FLOAT4E2M1 tensors, "
                                  "which onnxruntime loads at IR version 10 at most")
    assert "\n" not in str(info.value) and info.value.hint


def test_an_older_ir_version_is_left_alone() -> None:
    model = doubler()
    model.ir_version = 8
    assert onnx_ir.fit_ir_version(model) is None and model.ir_version == 8


def test_inspect_and_convert_say_the_ir_version_was_lowered(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from webapp.cli import cli

    path = tmp_path / "double.onnx"
    onnx.save(doubler(), str(path))
    for args in (["inspect", str(path)], ["convert", str(path), "-o", str(tmp_path / "out")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "note: double.onnx is ONNX IR version 11, which onnxruntime loads up to 10: " \
               "lowered to 10" in result.stderr

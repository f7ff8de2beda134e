import numpy as np

from converter.parity import compare_outputs


def test_within_tolerance_passes() -> None:
    expected = {"y": np.array([1.0, 2.0, 3.0])}
    report = compare_outputs(expected, {"y": np.array([1.0, 2.00001, 3.0])}, atol=1e-4, rtol=0)
    assert report.ok
    assert report.max_abs > 0


def test_relative_tolerance_scales_with_magnitude() -> None:
    expected = {"y": np.array([1000.0])}
    assert compare_outputs(expected, {"y": np.array([1000.5])}, atol=0, rtol=1e-3).ok
    assert not compare_outputs(expected, {"y": np.array([1002.0])}, atol=0, rtol=1e-3).ok


def test_failures_are_described_with_numbers() -> None:
    report = compare_outputs({"y": np.zeros(4)}, {"y": np.array([0, 0, 0.5, 0])},
                             atol=1e-4, rtol=1e-3)
    assert not report.ok
    assert report.max_abs == 0.5
    assert "y: max abs error 0.5" in report.describe()


def test_missing_output_wrong_size_and_nan_fail() -> None:
    expected = {"a": np.zeros(2), "b": np.zeros(2), "c": np.zeros(2)}
    report = compare_outputs(expected, {"b": np.zeros(3), "c": np.array([0, np.nan])},
                             atol=1, rtol=1)
    reasons = {o.name: (o.ok, o.reason) for o in report.outputs}
    assert reasons["a"] == (False, "missing")
    assert reasons["b"][0] is False and "shape" in reasons["b"][1]
    assert reasons["c"][0] is False

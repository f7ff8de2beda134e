"""webapp.choose.decide: the rule `build --to auto` ships by, on given measurements."""

from __future__ import annotations

from converter.manifest import RuntimeChoice, RuntimeTrial
from webapp.choose import decide


def trial(runtime: str, ready_s: float, median_ms: float, status: str = "ok") -> RuntimeTrial:
    return RuntimeTrial(runtime, status, "wasm", 1_000_000, 100.0, 5.0, median_ms, 1e-6, ready_s)


def test_a_smaller_download_wins_until_many_runs_make_up_for_it() -> None:
    small = trial("tfjs", ready_s=1.5, median_ms=40.0)  # first answer sooner, slower runs
    fast = trial("litert", ready_s=8.0, median_ms=10.0)
    assert decide((small, fast), runs_after=100).chosen == "tfjs"  # 5.5 s against 9.0 s
    assert decide((small, fast), runs_after=1000).chosen == "litert"  # 41.5 s against 18.0 s


def test_a_runtime_that_failed_is_never_chosen_and_is_named() -> None:
    failed = RuntimeTrial("onnx", "error", detail="wrong results on wasm")
    choice = decide((failed, trial("litert", 9.0, 20.0)))
    assert choice.chosen == "litert"
    assert "onnx did not pass" in choice.reason


def test_none_passing_chooses_nothing() -> None:
    choice = decide((RuntimeTrial("tfjs", "error", detail="x"),))
    assert choice.chosen == ""


def test_the_choice_round_trips_through_json() -> None:
    choice = decide((trial("tfjs", 1.0, 2.0), RuntimeTrial("onnx", "error", detail="no")))
    assert RuntimeChoice.from_json(choice.to_json()) == choice

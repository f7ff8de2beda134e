"""Compare two sets of model outputs: native against converted, or browser against native."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutputDiff:
    """How one output of a model differs from its reference."""

    name: str
    max_abs: float
    max_rel: float
    ok: bool
    reason: str = ""  # set when the output could not be compared at all


@dataclass(frozen=True)
class ParityReport:
    """Per-output differences; ``ok`` only when every output is within tolerance."""

    outputs: tuple[OutputDiff, ...]
    atol: float
    rtol: float

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for o in self.outputs), default=0.0)

    def describe(self) -> str:
        """One line naming each output that failed, with its numbers."""
        parts = []
        for o in self.outputs:
            if not o.ok:
                parts.append(f"{o.name}: {o.reason}" if o.reason else
                             f"{o.name}: max abs error {o.max_abs:.3g} "
                             f"(allowed {self.atol:g} + {self.rtol:g} x |expected|)")
        return "; ".join(parts) or "all outputs within tolerance"


def compare_outputs(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], *,
                    atol: float, rtol: float) -> ParityReport:
    """Check ``|expected - actual| <= atol + rtol * |expected|`` for every output."""
    diffs = []
    for name, want in expected.items():
        if name not in actual:
            diffs.append(OutputDiff(name, float("inf"), float("inf"), False, "missing"))
            continue
        got = np.asarray(actual[name])
        want = np.asarray(want)
        if got.size != want.size:
            diffs.append(OutputDiff(name, float("inf"), float("inf"), False,
                                    f"shape {list(got.shape)} != expected {list(want.shape)}"))
            continue
        if want.dtype.kind in "OUS" or got.dtype.kind in "OUS":
            diffs.append(_compare_strings(name, want, got))
            continue
        a = want.astype(np.float64).reshape(-1)
        b = got.astype(np.float64).reshape(-1)
        err = np.abs(a - b)
        if not np.all(np.isfinite(b)) and not np.array_equal(np.isfinite(a), np.isfinite(b)):
            diffs.append(OutputDiff(name, float("inf"), float("inf"), False, "non-finite values"))
            continue
        err = np.where(np.isfinite(err), err, 0.0)
        max_abs = float(err.max(initial=0.0))
        max_rel = float((err / np.maximum(np.abs(a), 1e-12)).max(initial=0.0))
        ok = bool(np.all(err <= atol + rtol * np.abs(a)))
        diffs.append(OutputDiff(name, max_abs, max_rel, ok))
    return ParityReport(tuple(diffs), atol, rtol)


def _compare_strings(name: str, want: np.ndarray, got: np.ndarray) -> OutputDiff:
    """A string output matches only exactly: no tolerance means anything for text."""
    def text(values: np.ndarray) -> list[str]:
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.reshape(-1)]

    off = [i for i, (a, b) in enumerate(zip(text(want), text(got), strict=True)) if a != b]
    if not off:
        return OutputDiff(name, 0.0, 0.0, True)
    first = off[0]
    return OutputDiff(name, float("inf"), float("inf"), False,
                      f"{len(off)} of {want.size} strings differ (the first at flat index "
                      f"{first}: {text(got)[first]!r}, expected {text(want)[first]!r})")

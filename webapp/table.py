"""Plain-text tables for the terminal (verify, bench, convert's quantization line)."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(rows: Sequence[Sequence[str]], *, rule: bool = True) -> list[str]:
    """Left-aligned columns two spaces apart; a dashed rule under the first row if ``rule``."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines

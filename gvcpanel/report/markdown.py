"""The one Markdown pipe-table writer (publication tables and panel descriptions use it)."""

from __future__ import annotations

from collections.abc import Sequence


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a GitHub-flavoured pipe table, cells left-aligned to a common width.

    Examples
    --------
    >>> print("\\n".join(pipe_table(["a", "bb"], [["1", "2"]])))
    | a | bb |
    |---|----|
    | 1 | 2  |
    """
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]

"""Read a column's row back from a DataFrame description (both table layouts)."""

from __future__ import annotations


def cells_of(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def row(text: str, column: str) -> tuple[str, str, str]:
    """(dtype, nulls, summary) of a column; a numeric-table row's statistic cells are
    joined back into the summary as ``min 1, p25≈2, …`` before its other facts."""
    header: list[str] = []
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = cells_of(line)
        if cells[0] == "column":
            header = cells
            continue
        if len(cells) < 3 or cells[0] != column:
            continue
        if header[2:3] != ["nulls"] and len(header) > 2 and header[2] != "nulls":
            # "no nulls" in the head: the tables leave the nulls column out
            header = [*header[:2], "nulls", *header[2:]]
            cells = [*cells[:2], "0", *cells[2:]]
        if len(header) > 4 and header[3] == "min":
            stats = [
                f"{h}{v}" if v.startswith("≈") else f"{h} {v}"
                for h, v in zip(header[3:-1], cells[3:-1], strict=False)
                if v
            ]
            rest = cells[-1] if len(cells) > len(header) - 1 else ""
            summary = ", ".join(stats) + (f"; {rest}" if rest else "")
            return cells[1], cells[2], summary
        return cells[1], cells[2], (cells[3] if len(cells) > 3 else "")
    raise AssertionError(f"no row for {column!r} in:\n{text}")

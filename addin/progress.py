"""The progress bar every long command shows on stderr (tqdm), for long jobs only."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

#: Cells (or the command's own unit) below which no bar is shown.
PROGRESS_MIN_CELLS = 2_000


@contextmanager
def progress_bar(
    label: str, quiet: bool, *, unit: str = "cell", min_total: int = PROGRESS_MIN_CELLS
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(on_plan, progress) callbacks driving a tqdm bar on stderr for long jobs only."""
    bar: list[Any] = []

    def on_plan(total: int) -> None:
        if not quiet and total >= min_total:
            bar.append(tqdm(total=total, desc=label, unit=unit, file=sys.stderr, disable=None, leave=False))

    def step(n: int) -> None:
        if bar:
            bar[0].update(n)

    try:
        yield on_plan, step
    finally:
        if bar:
            bar[0].close()

"""A custom-function call body as the server admits it: parsed, checked, normalised and costed.

Everything here runs before any work: the body is JSON of bounded nesting, an object whose
``func_name`` (any case) is a catalogue function, whose ``args`` have the function's arity and
the Office.js shape (a scalar, or rows of cells), each argument at most :data:`MAX_CELLS`
cells, and whose result, bounded from the argument shapes by Excel's broadcasting, at most
:data:`MAX_RESULT_CELLS` cells. A refusal is :class:`Refused` (an HTTP status and a short
message that never echoes the request). An accepted call is re-serialised for xlwings Server
with every field it reads present (``client``, ``version``), the function's Python name, and
each cell a scalar (an Office.js cell object becomes its ``basicValue``, or ``#VALUE!``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

#: Cells in one argument.
MAX_CELLS = 1_000_000
#: Result cells a call may ask for, bounded from its argument shapes before any work.
MAX_RESULT_CELLS = 1_000_000
#: Bytes of one answer (about 25 bytes a cell of JSON; checked again on the serialised answer).
MAX_RESULT_BYTES = 64 * 2**20
#: What xlwings Server reads from every body; a missing field is given these values.
DEFAULTS = {"client": "Office.js", "version": "", "runtime": "1.4", "caller_address": "", "session_id": ""}
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: Office.js error types as the Excel error texts the catalogue reads (xlwings Server's mapping, reversed).
_ERRORS = {
    "Div0": "#DIV/0!",
    "NotAvailable": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
}


class Refused(Exception):
    """A call the server will not run: ``status`` (4xx) and a short message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Call:
    """An admitted call.

    ``name`` is the catalogue name (upper case); ``args`` hold only scalars and lists of rows
    of scalars; ``cells`` counts the argument cells and ``result_cells`` bounds the answer's;
    ``cost`` (their sum) is what the server's worker threshold is measured against.
    """

    name: str
    args: tuple[Any, ...]
    runtime: str
    cells: int
    result_cells: int
    data: dict[str, Any]
    #: Work of one result cell (the catalogue's ``Spec.work``: CQ_BINOMIAL's tree), 1 for most.
    work: int = 1

    @property
    def cost(self) -> int:
        return self.cells + self.result_cells * self.work

    def body(self) -> bytes:
        """The call as a worker reads it (normalised; see the module docstring). A NaN or
        Infinity argument cell travels as the JSON token it came as: the function answers
        ``#NUM!`` in that cell, as on every other path (never a refusal of the whole body)."""
        return json.dumps({**self.data, "func_name": self.name.lower(), "args": list(self.args)}).encode()

    def mentions_handle(self) -> bool:
        """Whether any text argument cell is (or looks like) a handle (``CQ.`` in any case)."""
        for a in self.args:
            if not isinstance(a, list):
                if isinstance(a, str) and a.lstrip()[:3].upper() == "CQ.":
                    return True
                continue
            if str not in set(map(type, itertools.chain.from_iterable(a))):
                continue  # a range of numbers: no cell to look at
            if any(isinstance(c, str) and c.lstrip()[:3].upper() == "CQ." for c in itertools.chain.from_iterable(a)):
                return True
        return False

    def names_live_market(self) -> bool:
        """Whether the ``market`` argument is one cell naming a live market (``deribit...``,
        ``replay:...``): its feed is open in the server process, never in a worker."""
        from udfs import CATALOGUE
        from udfs.live import is_live

        names = [a.name for a in CATALOGUE[self.name].args]
        at = names.index("market") if "market" in names else len(self.args)
        cell = self.args[at] if at < len(self.args) else None
        if isinstance(cell, list):
            cell = cell[0][0] if len(cell) == 1 and len(cell[0]) == 1 else None
        return isinstance(cell, str) and is_live(cell)


def _cell(value: Any) -> Any:
    """An Office.js cell object (an entity, an error, a formatted number) as a plain cell."""
    if isinstance(value, dict):
        inner = value.get("basicValue", value.get("value"))
        if type(inner) in _SCALARS and not isinstance(inner, dict):
            return inner
        return _ERRORS.get(str(value.get("errorType")), "#VALUE!") if value.get("type") == "Error" else "#VALUE!"
    return value


def _argument(i: int, value: Any, max_cells: int) -> tuple[Any, tuple[int, int]]:
    """(the argument with plain cells, its shape) or :class:`Refused` naming argument ``i``."""
    if type(value) in _SCALARS:
        return value, (1, 1)
    if isinstance(value, dict):
        return _cell(value), (1, 1)
    if not isinstance(value, list):
        raise Refused(400, f"argument {i} is not a cell or a range")
    if not value:
        return value, (0, 0)
    if any(type(r) is not list for r in value):
        value = [value]  # one row given flat
        if any(type(r) is not list for r in value):
            raise Refused(400, f"argument {i} is not a range of rows")
    widths = set(map(len, value))
    if len(widths) != 1:
        raise Refused(400, f"argument {i} has rows of different lengths")
    width = widths.pop()
    if len(value) * width > max_cells:
        raise Refused(413, f"argument {i} has more than {max_cells:,} cells (the limit)")
    kinds = set(map(type, itertools.chain.from_iterable(value)))
    if not kinds <= _SCALARS:
        if list in kinds:
            raise Refused(400, f"argument {i} nests ranges inside a cell")
        value = [[_cell(c) for c in row] for row in value]  # only when a cell is an object
    return value, (len(value), width)


def result_bound(shapes: list[tuple[int, int]], rowwise: list[int] | None = None, columns: int = 1) -> int:
    """An upper bound on the result's cells from the argument shapes, before any work.

    Arguments broadcast as Excel does (a column of 3,000 forwards against a row of 3,000
    strikes answers 3,000 x 3,000 cells): the bound is the most rows of any broadcasting
    argument times its most columns, and at least the largest argument. ``rowwise`` names
    the broadcasting arguments of a row-wise function (its ``Spec.rows``); for any other
    function every argument counts (a table answers at most as many rows as it has).
    ``columns`` is the function's result columns per input row (``Spec.columns``: 5 for
    CQ_BLACK_GREEKS, whose inputs are read row by row): its bound is the broadcast cells times
    that width (plus a header row), or the table's rows times its width for a table function.
    """
    pick = [shapes[i] for i in rowwise if i < len(shapes)] if rowwise else shapes
    rows = max((r for r, _ in pick), default=1)
    cols = max((c for _, c in pick), default=1)
    plain = max(rows * cols, max((r * c for r, c in shapes), default=1), 1)
    if columns <= 1:
        return plain
    return max(plain, (rows * cols + 1) * columns)


def parse(body: bytes, max_cells: int = MAX_CELLS, max_result_cells: int = MAX_RESULT_CELLS) -> Call:
    """The admitted call in ``body``, or :class:`Refused` (400, 404, 413) saying why."""
    from udfs import CATALOGUE

    try:
        data = json.loads(body)
    except RecursionError:
        raise Refused(400, "the request body nests deeper than JSON parsing allows") from None
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the request body is not a JSON object")
    name = data.get("func_name")
    if not isinstance(name, str):
        raise Refused(400, "'func_name' must be a text")
    spec = CATALOGUE.get(name.strip().upper())
    if spec is None:
        raise Refused(404, f"no catalogue function {name[:64]!r}")
    args = data.get("args")
    if not isinstance(args, list):
        raise Refused(400, "'args' must be a JSON array")
    lo, hi = sum(not a.optional for a in spec.args), len(spec.args)
    if not lo <= len(args) <= hi:
        span = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise Refused(400, f"CQ.{spec.name} takes {span} arguments, got {len(args)}")
    plain, shapes = [], []
    for i, a in enumerate(args, 1):
        value, shape = _argument(i, a, max_cells)
        plain.append(value)
        shapes.append(shape)
    names = [a.name for a in spec.args]
    bound = result_bound(shapes, [names.index(r) for r in spec.rows] or None, spec.columns)
    if bound > max_result_cells:
        raise Refused(413, f"the result would have up to {bound:,} cells; the limit is {max_result_cells:,}")
    runtime = data.get("runtime")
    kept = {k: (data[k] if isinstance(data.get(k), str) else v) for k, v in DEFAULTS.items()}
    kept["runtime"] = runtime if isinstance(runtime, str) and len(runtime) < 16 else "1.4"
    for k in ("culture_info_name", "date_format"):
        if isinstance(data.get(k), str):
            kept[k] = data[k][:64]
    cells = sum(r * c for r, c in shapes)
    work = 1
    if spec.work is not None:
        try:
            work = max(1, int(spec.work(*plain)))
        except Exception:  # an argument the function will refuse itself: no extra work
            work = 1
    return Call(spec.name, tuple(plain), kept["runtime"], cells, bound, kept, work)

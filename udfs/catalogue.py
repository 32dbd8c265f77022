"""The registry of Excel functions: one :class:`Spec` per function, read by every host.

A catalogue function is a plain Python function decorated with :func:`excel_function`,
which records its Excel name, help text and argument help (checked against the real
signature at import time, so the function wizard can never document an argument that does
not exist), and returns the **safe** form: the same function, named ``CQ_<NAME>``, that
turns an :class:`~udfs.excel.InputError` or any pricing input error into a one-cell
``#VALUE!`` with the reason instead of raising. The hosts (``addin``) wrap ``Spec.fn``, the
raising form, to map errors their own way (xlwings Server: ``XlwingsError``).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricing.accel import KernelSettingError
from pricing.errors import DataError, PricingInputError
from udfs.excel import InputError, XlError

PREFIX = "CQ"
log = logging.getLogger("clearquote.udfs")
EXPECTED_ERRORS = (InputError, PricingInputError, DataError, KernelSettingError)


@dataclass(frozen=True)
class Arg:
    """One argument: its name (= the Python parameter), help text, and whether it is optional."""

    name: str
    doc: str
    optional: bool
    default: Any


@dataclass(frozen=True)
class Spec:
    """One catalogue function as every host sees it.

    ``name`` is the bare name (``BLACK``); the desktop name is ``CQ_BLACK`` and the Office.js
    name ``CQ.BLACK``. ``heavy`` functions (margin, quotes) run off the server's event loop.
    """

    name: str
    fn: Callable[..., Any]
    category: str
    summary: str
    returns: str
    example: str
    args: tuple[Arg, ...]
    heavy: bool = False
    rows: tuple[str, ...] = ()
    stack_ok: Callable[..., bool] | None = None
    #: Result columns per input row of a row-wise function whose inputs are read row by row
    #: (CQ_BLACK_GREEKS answers 5 per option): the server bounds the result by rows x columns.
    columns: int = 1
    #: Work of one result cell beyond the cell itself, from the call's arguments (before any
    #: work): CQ_BINOMIAL's tree is steps^2 nodes an option. None: a cell costs one.
    work: Callable[..., int] | None = None

    def stackable(self, *args: Any) -> bool:
        """Whether one call over rows stacked in the ``rows`` arguments equals a call per row.

        ``rows`` names the arguments that map row to row: result row i depends only on row i
        of each of them (Excel broadcasting, or a table read row by row), the other
        arguments being the same for every row. ``stack_ok`` vetoes it for argument values
        that couple the rows (CQ_RFQ with ``accept`` TRUE fills each RFQ before the next).
        """
        return bool(self.rows) and (self.stack_ok is None or self.stack_ok(*args))

    @property
    def desktop_name(self) -> str:
        return f"{PREFIX}_{self.name}"

    @property
    def officejs_name(self) -> str:
        return f"{PREFIX}.{self.name}"


CATALOGUE: dict[str, Spec] = {}


def excel_function(
    name: str,
    *,
    category: str,
    args: dict[str, str],
    returns: str,
    example: str,
    heavy: bool = False,
    rows: tuple[str, ...] = (),
    stack_ok: Callable[..., bool] | None = None,
    columns: int = 1,
    work: Callable[..., int] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as ``CQ_<name>``; ``args`` maps every parameter, in order, to its help.

    ``rows`` (see :meth:`Spec.stackable`) lists the row-wise arguments; empty for functions
    whose result is not one row per input row (tables, handles, portfolio aggregates).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = list(inspect.signature(fn).parameters.values())
        real = [p.name for p in params]
        if real != list(args):
            raise TypeError(f"{name}: documented arguments {list(args)} differ from the parameters {real}")
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD,) for p in params):
            raise TypeError(f"{name}: Excel functions take positional arguments only")
        if not set(rows) <= set(real) or "headers" in rows:
            raise TypeError(f"{name}: row-wise arguments {rows} must be parameters other than headers")
        if name in CATALOGUE:
            raise TypeError(f"{name}: registered twice")
        doc = inspect.getdoc(fn) or ""
        summary = doc.split("\n\n")[0].replace("\n", " ")
        spec = Spec(
            name=name,
            fn=finite(fn, f"{PREFIX}_{name}"),
            category=category,
            summary=summary,
            returns=returns,
            example=example,
            args=tuple(
                Arg(p.name, args[p.name], p.default is not p.empty, None if p.default is p.empty else p.default) for p in params
            ),
            heavy=heavy,
            rows=tuple(rows),
            stack_ok=stack_ok,
            columns=columns,
            work=work,
        )
        CATALOGUE[name] = spec
        return safe(spec)

    return register


def _finite_rows(value: Any, reason: str) -> Any:
    """``value`` with every NaN or infinite number replaced by ``#NUM!`` and ``reason``."""
    if isinstance(value, list):
        if value and all(type(r) is list for r in value) and set(map(type, itertools.chain.from_iterable(value))) == {float}:
            if len(set(map(len, value))) == 1 and np.isfinite(np.array(value, dtype=float)).all():
                return value  # the common case, checked in one numpy pass
        return [_finite_rows(v, reason) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return XlError("#NUM!", reason)
    return value


def finite(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn`` whose result never holds NaN or an infinity as a number: each such cell becomes
    ``#NUM!`` with the reason (an input beyond the method's range), in every host."""
    reason = f"{name}: no finite result (an input is beyond the method's range: check quantities, sizes and ratios)"

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        return _finite_rows(fn(*args, **kwargs), reason)

    return checked


def failure(exc: BaseException) -> XlError:
    """The one-cell error for an exception: its message for input errors, the type for bugs."""
    if isinstance(exc, EXPECTED_ERRORS):
        return XlError("#VALUE!", str(exc))
    log.exception("clearquote internal error")
    return XlError("#VALUE!", f"internal error ({type(exc).__name__}: {exc}); please report it")


def safe(spec: Spec) -> Callable[..., Any]:
    """``spec.fn`` that returns ``[[#VALUE! reason]]`` instead of raising (name ``CQ_<NAME>``)."""

    signature = inspect.signature(spec.fn)

    @functools.wraps(spec.fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return spec.fn(*args, **kwargs)
        except TypeError as exc:
            # A call with a required argument missing or too many arguments (=CQ_BLACK() in a
            # cell) is the user's, not a bug: say which. Checked only when the call failed, so
            # the common path pays nothing for it.
            try:
                signature.bind(*args, **kwargs)
            except TypeError as wrong:
                return [[XlError("#VALUE!", f"{spec.desktop_name}: {wrong}")]]
            return [[failure(exc)]]
        except Exception as exc:
            return [[failure(exc)]]

    call.__name__ = call.__qualname__ = spec.desktop_name
    call.__xlspec__ = spec  # type: ignore[attr-defined]
    return call

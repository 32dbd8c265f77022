"""Optional accelerated kernels (numba, the ``fast`` extra) and the switch between them and numpy.

The numpy path is complete on its own; when numba is importable the engine routes Black-76
prices and greeks, implied vols, binomial trees and scenario revaluation (margin models,
marginal IM, quote books, the catalogue functions) through the fused kernels of this package.

``CLEARQUOTE_KERNELS`` picks the path: ``auto`` (default: numba if installed, kernel by kernel
the path measured faster on this CPU where ``clearquote warmup`` recorded one, see
:mod:`pricing.accel.dispatch`), ``numba`` (every kernel; an error if numba is not installed)
or ``numpy``. :func:`using` switches it for a block of code
(tests compare both paths on the same inputs; the benchmark times both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache


class KernelSettingError(ValueError):
    """``CLEARQUOTE_KERNELS`` names no kernel path this process can use.

    A ``ValueError`` of its own: this package is a leaf and imports nothing of the engine, so it
    cannot raise :class:`pricing.errors.PricingInputError` (which hosts also catch as ValueError).
    """


KERNELS = ("auto", "numba", "numpy")
NOTICE = (
    "clearquote: numba is not installed, so the numpy kernels are used (pip install 'clearquote[fast]' for the fused kernels)"
)


@lru_cache(maxsize=1)
def numba_installed() -> bool:
    """True when numba imports (checked once per process).

    Returns
    -------
    bool
        True if numba can be imported in this interpreter (whether or not it is used).
    """
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _parse(value: str) -> str:
    mode = str(value).strip().lower()
    if mode not in KERNELS:
        raise KernelSettingError(f"CLEARQUOTE_KERNELS: {value!r} is not allowed; use one of {', '.join(KERNELS)}")
    if mode == "numba" and not numba_installed():
        raise KernelSettingError(
            "CLEARQUOTE_KERNELS: 'numba' asked for, but numba is not installed (pip install 'clearquote[fast]')"
        )
    return mode


_state = {"mode": os.environ.get("CLEARQUOTE_KERNELS", "auto")}


def enabled(group: str | None = None, n: int | None = None) -> bool:
    """True when the numba kernels are in use (for kernel ``group``, one of
    :data:`pricing.accel.dispatch.GROUPS`, and a batch of ``n``, when given: under ``auto``
    the measured choice).

    Parameters
    ----------
    group : str, optional
        A kernel group.
    n : int, optional
        The batch size.

    Returns
    -------
    bool
        True if the numba kernels run (for ``group`` and ``n``, when given, under ``auto`` the measured choice); False
        under ``numpy`` or without numba.
    """
    mode = _parse(_state["mode"])
    if mode != "auto":
        return mode == "numba"
    if not numba_installed():
        return False
    if group is None:
        return True
    from pricing.accel import dispatch

    return dispatch.chosen(group, n) == "numba"


def forced() -> bool:
    """True when ``CLEARQUOTE_KERNELS`` (or :func:`using`) names one path for every kernel.

    Returns
    -------
    bool
        True if ``CLEARQUOTE_KERNELS`` or :func:`using` names ``numba`` or ``numpy`` rather than ``auto``.
    """
    return _parse(_state["mode"]) != "auto"


def backend() -> str:
    """``"numba"`` or ``"numpy"``: the path the engine takes now.

    Returns
    -------
    str
        ``"numba"`` or ``"numpy"``: the kernels in use.
    """
    return "numba" if enabled() else "numpy"


@contextmanager
def using(kind: str) -> Iterator[None]:
    """Run a block with the kernels ``kind`` (``"numba"``, ``"numpy"`` or ``"auto"``).

    Parameters
    ----------
    kind : {"numba", "numpy", "auto"}
        The kernels to run the block with; ``"auto"`` lets the engine choose as it does by default (:func:`enabled`).

    Yields
    ------
    None
        The previous choice is restored on exit.
    """
    _parse(kind)
    before = _state["mode"]
    _state["mode"] = kind
    try:
        yield
    finally:
        _state["mode"] = before


def notice() -> str | None:
    """The one-line notice to show when numba is absent and ``auto`` fell back to numpy.

    Returns
    -------
    str or None
        None when there is nothing to say.
    """
    return NOTICE if _parse(_state["mode"]) == "auto" and not numba_installed() else None

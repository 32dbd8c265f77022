"""The public engine API is documented as STYLE.md asks: numpydoc with Parameters, Returns and a
Notes or Examples section carrying the formula or its source (the doctests run with the suite)."""

from __future__ import annotations

import inspect

import pytest

import pricing
from pricing import desk, positions
from pricing.chain import book_summary_rows
from pricing.daycount import days_to_years, option_times
from pricing.desk import config as desk_config
from pricing.desk import market as desk_market
from pricing.desk import request as desk_request
from pricing.margin import engine
from pricing.revaluation import Market
from pricing.xva import capital, ccva, funding, params, quote, rfq, risks, saccr, sides, single

PUBLIC = [getattr(pricing, n) for n in pricing.__all__ if inspect.isfunction(getattr(pricing, n))]
ENTRY_POINTS = [
    engine.margin,
    engine.marginal_im,
    engine.sequential_im,
    engine.margin_basis,
    engine.trade_margins,
    engine.sequential_margins,
    quote.quote_book,
    quote.quote_rfqs,
    sides.side_costs,
    sides.quote_sides,
    rfq.parse_rfqs,
    single.two_way,
    sides.all_in_price,
    Market.from_chains,
    option_times,
    days_to_years,
    book_summary_rows,
    desk_market.build_snapshot,
    desk_market.open_market,
    desk_market.chain_file_rows,
    desk_config.DeskConfig.from_mapping,
    desk_config.params_from_rows,
    desk_config.coerce,
    desk_config.margin_model,
    desk_request.requests_from_rows,
    desk_request.resolve,
    desk.Desk.quote,
    desk.Book.from_table,
    rfq.contract_of,
    rfq.read_row,
    rfq.resolve_request,
    positions.position_state,
    positions.underlying_rows,
    positions.expand,
]
#: The XVA modules: every public function and method of each is held to the stricter rule below.
XVA_MODULES = (funding, ccva, saccr, capital, params, risks, sides, single, quote)


def _public_callables(module: object) -> list[object]:
    """Public functions of ``module`` and public methods (static, class or plain) of its classes."""
    out: list[object] = []
    for n, obj in vars(module).items():
        if n.startswith("_") or getattr(obj, "__module__", None) != module.__name__:  # type: ignore[attr-defined]
            continue
        if inspect.isfunction(obj):
            out.append(obj)
        elif inspect.isclass(obj):
            for m, member in vars(obj).items():
                fn = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                if not m.startswith("_") and inspect.isfunction(fn):
                    out.append(fn)
    return out


def _documented_parameters(doc: str) -> set[str]:
    """The names a numpydoc Parameters section lists (``a, b : float`` names both)."""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Parameters") + 2
    except StopIteration:
        return set()
    names: set[str] = set()
    for line in lines[start:]:
        if line and not line.startswith(" "):
            if set(line.strip()) == {"-"}:
                break
            head = line.split(" : ")[0].rstrip(" :")
            names.update(x.strip().lstrip("*") for x in head.split(","))
    return names


XVA_CALLABLES = [f for m in XVA_MODULES for f in _public_callables(m)]
ENTRY_POINTS += [f for m in XVA_MODULES for f in _public_callables(m) if f not in ENTRY_POINTS and "." not in f.__qualname__]  # type: ignore[attr-defined]


@pytest.mark.parametrize("fn", PUBLIC + ENTRY_POINTS, ids=lambda f: f.__qualname__)
def test_public_function_has_numpydoc_with_a_source_or_example(fn) -> None:  # type: ignore[no-untyped-def]
    doc = inspect.getdoc(fn) or ""
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    missing = [s for s in ("Returns",) if s not in doc]
    if params and "Parameters" not in doc:
        missing.append("Parameters")
    if "Notes" not in doc and "Examples" not in doc:
        missing.append("Notes or Examples")
    assert not missing, f"{fn.__qualname__}: docstring lacks {', '.join(missing)}"


@pytest.mark.parametrize("fn", XVA_CALLABLES, ids=lambda f: f"{f.__module__}.{f.__qualname__}")
def test_xva_callable_documents_every_parameter_and_what_it_returns(fn) -> None:  # type: ignore[no-untyped-def]
    doc = inspect.getdoc(fn) or ""
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    if not params:
        return
    missing = sorted(set(params) - _documented_parameters(doc))
    assert not missing, f"{fn.__qualname__}: Parameters does not name {missing}"
    assert "Returns" in doc, f"{fn.__qualname__}: no Returns section"

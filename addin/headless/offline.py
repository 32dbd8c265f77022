"""Formulas no offline engine can compute, found from their text, with the reason.

Excel computes these from something outside the file: another workbook (an external link,
``[1]Prices!B2``), an OLAP cube or the workbook's data model (the CUBE functions), a real-time
data server (RTD), the web (WEBSERVICE), a pivot table's cache (GETPIVOTDATA), or an add-in's
function (``_xll.NAME``, or a VBA/add-in function Excel stores as ``_xludf.NAME``) the engine
is not given. ``validate`` skips such cells and those that read them, as it skips volatile
cells, and says why: a different value there is not a disagreement about Excel's semantics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable

#: An external reference: ``[1]Sheet!A1``, ``'[1]My sheet'!A1``, ``[1]!Name`` (the index of an
#: ``xl/externalLinks`` part, as the file stores it).
_EXTERNAL = re.compile(r"(?:^|[^\w\]\[])'?\[\d+\][^\[\]!()]*'?!")
_STRING = re.compile(r'"(?:[^"]|"")*"')
_PREFIXED = re.compile(r"(_xll|_xludf)\.([\w.]+)\s*\(", re.I)

#: Functions whose value comes from outside the file, and from where.
OUTSIDE = {
    **dict.fromkeys(
        "CUBEVALUE CUBEMEMBER CUBESET CUBESETCOUNT CUBERANKEDMEMBER CUBEMEMBERPROPERTY CUBEKPIMEMBER".split(),
        "an OLAP cube or the workbook's data model",
    ),
    "RTD": "a real-time data server",
    "WEBSERVICE": "a web service",
    "GETPIVOTDATA": "a pivot table's cache",
    "STOCKHISTORY": "Microsoft's stock data service",
}


def offline_reason(text: str, functions: Iterable[str], known: Container[str]) -> str | None:
    """Why ``text`` cannot be computed offline, None when it can.

    ``functions`` are the bare names it calls; ``known`` the host functions the engine was given
    (an add-in function among them is computed).
    """
    outside = _STRING.sub('""', text) if '"' in text else text
    if "[" in outside and _EXTERNAL.search(outside):
        return "refers to another workbook (an external link)"
    for name in functions:
        where = OUTSIDE.get(name)
        if where is not None:
            return f"calls {name}, whose value comes from {where}"
    for m in _PREFIXED.finditer(outside):
        if m.group(2).upper() not in known:
            return f"calls {m.group(1)}.{m.group(2)}, an add-in or VBA function the engine is not given"
    return None


#: Excel functions written without ``_xlfn.`` that neither openpyxl's list of Excel's functions
#: nor IronCalc 0.9.1 knows (Microsoft's function reference): never taken for a macro.
_NEWER = frozenset(
    "AGGREGATE GROUPBY PIVOTBY PERCENTOF TRIMRANGE IMAGE REGEXTEST REGEXEXTRACT REGEXREPLACE STOCKHISTORY "
    "TRANSLATE DETECTLANGUAGE COPILOT PY FORECAST PHONETIC USDOLLAR GETPIVOTDATA CALL REGISTER.ID EUROCONVERT "
    "SQL.REQUEST INFO FILTERXML DBCS NUMBERSTRING DATESTRING".split()
)


def vba_reason(
    functions: Iterable[str], known: Container[str], defined: Container[str], is_function: Callable[[str], bool]
) -> str | None:
    """Why a formula of a book holding a VBA project cannot be computed offline: it calls a name
    that is no Excel function, no function the engine was given and no defined name (a LAMBDA),
    which Excel then looks up among the book's macros (Microsoft, "Create custom functions in
    Excel": a VBA Function procedure is called from a formula by its bare name, and the file
    stores the call as written). None when every call is a function.

    ``functions`` are the bare upper-case names the formula calls; ``is_function`` tells whether
    a name is an Excel function the formula engine or Excel's list knows.
    """
    for name in sorted(functions):
        if name in known or name in defined or name in _NEWER or "." in name:
            continue  # dotted names are Excel's (NORM.DIST, _xlfn.X): VBA names have no dot
        if not is_function(name):
            return f"calls {name}, which is no Excel function: a VBA function of the book's macros"
    return None

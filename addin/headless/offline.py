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
from collections.abc import Container, Iterable

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

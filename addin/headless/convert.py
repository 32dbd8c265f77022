"""CONVERT(number, from_unit, to_unit) as Excel computes it: every unit of Microsoft's table, its
prefixes, units given by a cell or an expression.

Oracle: Microsoft, "CONVERT function" (support.microsoft.com): the units by group (weight and
mass, distance, time, pressure, force, energy, power, magnetism, temperature, volume, area,
information, speed), case-sensitive; the decimal prefixes Y (1E+24) to y (1E-24), ``da`` or
``e`` for deka, which "can be prepended to any metric from_unit or to_unit"; the binary
prefixes ``Yi`` (2^80) to ``ki`` (2^10) for ``bit`` and ``byte``; "If the units are in
different groups, CONVERT returns the #N/A error value"; "If the input data types are
incorrect, CONVERT returns the #VALUE! error value" (a logical number is #VALUE! in Excel's
cached values of formulas' test book, ENGINEERING!Y16). An area or volume unit with a prefix
takes the prefix squared or cubed (``km2`` is 1E+6 m²).

Excel's cached values also show prefixes on ``uk_pt`` and ``mph``, which Microsoft's table
does not mark as metric (formulas' test book, EXTRA!AA96 and Z164); they take them here too.
A range or an array as an argument is #VALUE!, in an array formula too (:func:`convert`).

A unit string is read as the unit of that name first and then as a prefix and a metric unit;
of the readings, the pair in one group is taken (Excel's ``CONVERT(1,"pc","J")`` is 4.184E-12:
"pc" is a parsec, and also pico-"c", the thermodynamic calorie; formulas' test book,
EXTRA!AN59). Factors are exact definitions where the unit has one (the international yard and
pound, 1959; the U.S. survey foot 1200/3937 m); the atomic mass unit and the electronvolt are
the CODATA 2006 values Excel's cached results show. Each factor is to the group's reference
unit (gram, metre, second, pascal, newton, joule, watt, tesla, litre, m², bit, m/h), and the
result is ``number * from / to``, so a conversion between a unit and a prefixed form of the
same unit is a product of exact factors (``CONVERT(1,"Tm/s","m/h")`` is 3.6E+15 exactly, as
in Excel; IronCalc 0.9.1 gives 3599999999999997). IronCalc 0.9.1 also lacks units
(``hweight``), prefixed seconds (``Ysec``) and the ``e`` prefix: #N/A where Excel converts.

Temperatures go through Celsius: C/cel, F/fah, K/kel (prefixable), Rank (Rankine), Reau
(Réaumur).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from addin.headless.numeric_text import text_number
from addin.headless.values import ExcelError

_IN = 0.0254  # metres, exact (1959)
_FT = 12 * _IN
_YD = 3 * _FT
_MI = 5280 * _FT
_LB = 453.59237  # grams, exact (1959)
_GAL = 231 * (_IN * 10) ** 3  # U.S. gallon, 231 in^3, in litres (dm^3)
_UK_GAL = 4.54609  # litres, exact
_LY = 9460730472580800.0  # metres: Julian year at c
_PARSEC = 3.0856775812815532e16  # metres: 648000/pi astronomical units
_PICA = _IN / 72  # the point-based pica (Picapt)
_G0 = 9.80665  # standard gravity, m/s^2
_LBF = _LB / 1000 * _G0  # newtons
_SURVEY_MI = 5280 * 1200 / 3937  # metres
_NMI = 1852.0

#: (group, factor to the group's reference unit, whether decimal prefixes apply, power of the
#: prefix: 2 for areas, 3 for volumes). Microsoft's table, every name it lists.
Unit = tuple[str, float, bool, int]


def _units() -> dict[str, Unit]:
    u: dict[str, Unit] = {}

    def add(names: str, group: str, factor: float, prefix: bool = False, power: int = 1) -> None:
        # the definition as a decimal of 15 significant digits, as a table of constants holds it
        # (112 lb is 50802.34544 g in Excel's cached values, EXTRA!U12; 112 * 453.59237 in
        # binary floating point is 50802.345440000005)
        exact = float(f"{factor:.15g}")
        for n in names.split():
            u[n] = (group, exact, prefix, power)

    # weight and mass: grams
    add("g", "mass", 1.0, True)
    add("sg", "mass", _LBF / _FT * 1000)  # slug: lbf s^2/ft
    add("lbm", "mass", _LB)
    add("u", "mass", 1.660538782e-24, True)
    add("ozm", "mass", _LB / 16)
    add("grain", "mass", 0.06479891)
    add("cwt shweight", "mass", 100 * _LB)
    add("uk_cwt lcwt hweight", "mass", 112 * _LB)
    add("stone", "mass", 14 * _LB)
    add("ton", "mass", 2000 * _LB)
    add("uk_ton LTON brton", "mass", 2240 * _LB)
    # distance: metres
    add("m", "distance", 1.0, True)
    add("mi", "distance", _MI)
    add("Nmi", "distance", _NMI)
    add("in", "distance", _IN)
    add("ft", "distance", _FT)
    add("yd", "distance", _YD)
    add("ang", "distance", 1e-10, True)
    add("ell", "distance", 45 * _IN)
    add("ly", "distance", _LY, True)
    add("parsec pc", "distance", _PARSEC, True)
    add("Picapt Pica", "distance", _PICA)
    add("pica", "distance", _IN / 6)
    add("survey_mi", "distance", _SURVEY_MI)
    # time: seconds
    add("yr", "time", 365.25 * 86400)
    add("day d", "time", 86400.0)
    add("hr", "time", 3600.0)
    add("mn min", "time", 60.0)
    add("sec s", "time", 1.0, True)
    # pressure: pascals
    add("Pa p", "pressure", 1.0, True)
    add("atm at", "pressure", 101325.0, True)
    add("mmHg", "pressure", 133.322, True)
    add("psi", "pressure", _LBF / _IN**2)
    add("Torr", "pressure", 101325.0 / 760)
    # force: newtons
    add("N", "force", 1.0, True)
    add("dyn dy", "force", 1e-5, True)
    add("lbf", "force", _LBF)
    add("pond", "force", _G0 / 1000, True)
    # energy: joules
    add("J", "energy", 1.0, True)
    add("e", "energy", 1e-7, True)
    add("c", "energy", 4.184, True)
    add("cal", "energy", 4.1868, True)
    add("eV ev", "energy", 1.602176487e-19, True)
    add("HPh hh", "energy", _LBF * _FT * 550 * 3600)
    add("Wh wh", "energy", 3600.0, True)
    add("flb", "energy", _LBF * _FT)
    add("BTU btu", "energy", 1055.05585262)
    # power: watts
    add("HP h", "power", _LBF * _FT * 550)
    add("PS", "power", 75 * _G0)
    add("W w", "power", 1.0, True)
    # magnetism: teslas
    add("T", "magnetism", 1.0, True)
    add("ga", "magnetism", 1e-4, True)
    # volume: litres
    add("tsp", "volume", _GAL / 768)
    add("tspm", "volume", 0.005)
    add("tbs", "volume", _GAL / 256)
    add("oz", "volume", _GAL / 128)
    add("cup", "volume", _GAL / 16)
    add("pt us_pt", "volume", _GAL / 8)
    add("uk_pt", "volume", _UK_GAL / 8, True)  # prefixed in Excel's cached values (EXTRA!AA96: "Puk_pt")
    add("qt", "volume", _GAL / 4)
    add("uk_qt", "volume", _UK_GAL / 4)
    add("gal", "volume", _GAL)
    add("uk_gal", "volume", _UK_GAL)
    add("l L lt", "volume", 1.0, True)
    add("ang3 ang^3", "volume", 1e-27, True, 3)
    add("barrel", "volume", 42 * _GAL)
    add("bushel", "volume", 2150.42 * (_IN * 10) ** 3)
    add("ft3 ft^3", "volume", (_FT * 10) ** 3)
    add("in3 in^3", "volume", (_IN * 10) ** 3)
    add("ly3 ly^3", "volume", _LY**3 * 1000)
    add("m3 m^3", "volume", 1000.0, True, 3)
    add("mi3 mi^3", "volume", _MI**3 * 1000)
    add("yd3 yd^3", "volume", (_YD * 10) ** 3)
    add("Nmi3 Nmi^3", "volume", _NMI**3 * 1000)
    add("Picapt3 Picapt^3 Pica3 Pica^3", "volume", (_PICA * 10) ** 3)
    add("GRT regton", "volume", 100 * (_FT * 10) ** 3)
    add("MTON", "volume", 40 * (_FT * 10) ** 3)
    # area: square metres
    add("uk_acre", "area", 4840 * _YD**2)
    add("us_acre", "area", 43560 * (1200 / 3937) ** 2)
    add("ang2 ang^2", "area", 1e-20, True, 2)
    add("ar", "area", 100.0, True)
    add("ft2 ft^2", "area", _FT**2)
    add("ha", "area", 10000.0)
    add("in2 in^2", "area", _IN**2)
    add("ly2 ly^2", "area", _LY**2)
    add("m2 m^2", "area", 1.0, True, 2)
    add("Morgen", "area", 2500.0)
    add("mi2 mi^2", "area", _MI**2)
    add("Nmi2 Nmi^2", "area", _NMI**2)
    add("Picapt2 Pica2 Pica^2 Picapt^2", "area", _PICA**2)
    add("yd2 yd^2", "area", _YD**2)
    # information: bits
    add("bit", "information", 1.0, True)
    add("byte", "information", 8.0, True)
    # speed: metres per hour
    add("admkn", "speed", 6080 * _FT)
    add("kn", "speed", _NMI)
    add("m/h m/hr", "speed", 1.0, True)
    add("m/s m/sec", "speed", 3600.0, True)
    add("mph", "speed", _MI, True)  # prefixed in Excel's cached values (EXTRA!Z164: "Emph")
    return u


UNITS: dict[str, Unit] = _units()

#: Microsoft's decimal prefixes ("da" and "e" both deka).
PREFIXES: dict[str, float] = {
    "Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "h": 1e2,
    "da": 1e1, "e": 1e1, "d": 1e-1, "c": 1e-2, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12,
    "f": 1e-15, "a": 1e-18, "z": 1e-21, "y": 1e-24,
}  # fmt: skip
#: Microsoft's binary prefixes, for bit and byte only.
BINARY: dict[str, float] = {
    "Yi": 2.0**80,
    "Zi": 2.0**70,
    "Ei": 2.0**60,
    "Pi": 2.0**50,
    "Ti": 2.0**40,
    "Gi": 2.0**30,
    "Mi": 2.0**20,
    "ki": 2.0**10,
}

#: Temperatures to and from Celsius; a prefixed kelvin scales the kelvins first.
_TO_C: dict[str, Callable[[float], float]] = {
    "C": lambda v: v,
    "cel": lambda v: v,
    "F": lambda v: (v - 32.0) * 5.0 / 9.0,
    "fah": lambda v: (v - 32.0) * 5.0 / 9.0,
    "K": lambda v: v - 273.15,
    "kel": lambda v: v - 273.15,
    "Rank": lambda v: (v - 491.67) * 5.0 / 9.0,
    "Reau": lambda v: v * 5.0 / 4.0,
}
_FROM_C: dict[str, Callable[[float], float]] = {
    "C": lambda c: c,
    "cel": lambda c: c,
    "F": lambda c: c * 9.0 / 5.0 + 32.0,
    "fah": lambda c: c * 9.0 / 5.0 + 32.0,
    "K": lambda c: c + 273.15,
    "kel": lambda c: c + 273.15,
    "Rank": lambda c: (c + 273.15) * 9.0 / 5.0,
    "Reau": lambda c: c * 4.0 / 5.0,
}

#: One reading of a unit string: (group, factor, temperature name or None, prefix factor).
Reading = tuple[str, float, "str | None", float]


def readings(unit: str) -> list[Reading]:
    """Every way Excel reads ``unit``: the unit of that name, then a binary prefix (bit, byte),
    then a decimal prefix and a prefixable unit (module docstring)."""
    out: list[Reading] = []
    if unit in _TO_C:
        out.append(("temperature", 1.0, unit, 1.0))
    elif unit in UNITS:
        group, factor, _, _ = UNITS[unit]
        out.append((group, factor, None, 1.0))
    if unit[2:] in ("bit", "byte") and unit[:2] in BINARY:
        group, factor, _, _ = UNITS[unit[2:]]
        out.append((group, factor * BINARY[unit[:2]], None, 1.0))
    for size in (2, 1):
        prefix, rest = unit[:size], unit[size:]
        if prefix not in PREFIXES or not rest:
            continue
        if rest in ("K", "kel"):
            out.append(("temperature", 1.0, rest, PREFIXES[prefix]))
        elif rest in UNITS and UNITS[rest][2]:
            group, factor, _, power = UNITS[rest]
            out.append((group, factor * PREFIXES[prefix] ** power, None, 1.0))
    return out


def convert_one(args: list[Any]) -> Any:
    """CONVERT of one number between two units (module docstring)."""
    if len(args) != 3:
        return ExcelError("#VALUE!", "CONVERT takes number, from_unit, to_unit")
    number, source, target = args
    for a in args:
        if isinstance(a, ExcelError):
            return a
    if not (isinstance(source, str) and isinstance(target, str)):
        return ExcelError("#N/A", "CONVERT: a unit is not text")
    pair = next(
        ((f, t) for f in readings(source) for t in readings(target) if f[0] == t[0]),
        None,
    )
    if pair is None:
        known = readings(source) and readings(target)
        why = "are in different groups" if known else "are not both units CONVERT knows"
        return ExcelError("#N/A", f"CONVERT: {source!r} and {target!r} {why}")
    x = _number(number)
    if isinstance(x, ExcelError):
        return x
    f, t = pair
    if f[2] is not None and t[2] is not None:  # temperatures, through Celsius
        celsius = _TO_C[f[2]](x * f[3])
        return _FROM_C[t[2]](celsius) / t[3]
    return x * f[1] / t[1]


def _number(value: Any) -> float | ExcelError:
    """The number as CONVERT reads it: a blank is 0, numeric text its number, a logical or other
    text #VALUE!."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return ExcelError("#VALUE!", "CONVERT: the number is a logical")
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else ExcelError("#NUM!")
    number = text_number(str(value))
    return ExcelError("#VALUE!", f"CONVERT: {str(value)[:50]!r} is not a number") if number is None else number


def convert(calls: list[list[Any]]) -> list[Any]:
    """CONVERT of every call. A range or an array as an argument is #VALUE!, also in an array
    formula: Excel does not evaluate CONVERT element by element (its cached values for
    ``{=CONVERT(C16:Q16,"C","F")}`` are #VALUE! in all 16 cells, formulas' test book,
    ENGINEERING!AH16:AW16)."""
    return [
        ExcelError("#VALUE!", "CONVERT takes one value per argument, not a range or an array")
        if any(isinstance(a, list) for a in args)
        else convert_one(args)
        for args in calls
    ]

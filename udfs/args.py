"""Argument kinds the catalogue functions share: option type, settlement, and the unit hints
their error messages quote. The enums are the engine's own (``pricing.instruments``), with the
numeric spellings a sheet may use."""

from __future__ import annotations

from pricing.instruments import CALL_PUT, SETTLEMENTS

CP = {**CALL_PUT, "1": 1, "-1": -1}
"""Option type: c/call/p/put (any case) or 1/-1."""
SETTLE = dict(SETTLEMENTS)
"""Settlement: linear (usd) or inverse (coin)."""
VOL_UNIT = "decimal: 0.55 = 55%"
RATE_UNIT = "decimal: 0.05 = 5%"

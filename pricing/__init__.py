"""clearquote pricing engine: vectorised numpy/scipy, no Excel, no I/O beyond bundled data.

Import direction is ``addin -> udfs -> pricing``; this package never imports xlwings,
openpyxl, ``udfs`` or ``addin`` (``tests/architecture`` asserts it).
"""

from pricing.binomial import binomial_price, binomial_reasons
from pricing.black import Greeks, black76_greeks, black76_price, black76_reasons
from pricing.chain import OptionChain, load_book_summary_json, load_bundled_chain, load_chain_csv
from pricing.daycount import funding_time, option_time, year_fraction
from pricing.errors import DataError, PricingInputError, Reason
from pricing.implied_vol import ImpliedVolResult, implied_vol
from pricing.instruments import FutureContract, OptionContract, format_option_name, parse_instrument_name, parse_option_name
from pricing.marketdata import load_dvol, load_history, load_sofr
from pricing.surface import VolSurface, build_surface
from pricing.varswap import chain_variance_strikes, constant_maturity_variance, vol_swap_strike

__all__ = [
    "DataError",
    "FutureContract",
    "Greeks",
    "ImpliedVolResult",
    "OptionChain",
    "OptionContract",
    "PricingInputError",
    "Reason",
    "VolSurface",
    "binomial_price",
    "binomial_reasons",
    "black76_greeks",
    "black76_price",
    "black76_reasons",
    "build_surface",
    "chain_variance_strikes",
    "constant_maturity_variance",
    "format_option_name",
    "funding_time",
    "implied_vol",
    "load_book_summary_json",
    "load_bundled_chain",
    "load_chain_csv",
    "load_dvol",
    "load_history",
    "load_sofr",
    "option_time",
    "parse_instrument_name",
    "parse_option_name",
    "vol_swap_strike",
    "year_fraction",
]

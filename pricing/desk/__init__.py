"""The desk's application service: market sources, the book, configuration, typed RFQs, quotes.

Hosts that are not Excel (the CLI, FIX, Block RFQ) call this package directly; the Excel
catalogue's ``CQ_RFQ`` coerces its cells and calls it too, so every host quotes by one path::

    desk = Desk(open_market("bundled"), Book.from_table(rows), DeskConfig.from_mapping(params))
    answer = desk.quote([RfqRequest((Leg("BTC-25SEP26-60000-C"),), "buy", 10.0)])
"""

from pricing.desk.book import Book, BookError
from pricing.desk.config import ConfigError, DeskConfig, QuoteLimits, params_from_rows
from pricing.desk.market import (
    BundledSource,
    FileSource,
    FixedSource,
    MarketError,
    MarketSnapshot,
    MarketSource,
    build_snapshot,
)
from pricing.desk.refusals import Refusal, RefusalCode
from pricing.desk.request import Leg, RfqRequest, requests_from_rows
from pricing.desk.service import Desk, DeskQuotes, Quote
from pricing.desk.sources import open_market

__all__ = [
    "Book",
    "BookError",
    "BundledSource",
    "ConfigError",
    "Desk",
    "DeskConfig",
    "DeskQuotes",
    "FileSource",
    "FixedSource",
    "Leg",
    "MarketError",
    "MarketSnapshot",
    "MarketSource",
    "Quote",
    "QuoteLimits",
    "Refusal",
    "RefusalCode",
    "RfqRequest",
    "build_snapshot",
    "open_market",
    "params_from_rows",
    "requests_from_rows",
]

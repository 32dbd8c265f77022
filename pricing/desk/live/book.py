"""The venue's positions as part of the desk's book: :class:`pricing.desk.Book`'s ``venue``.

One book for every host: the account's positions (the private API of a live source, or a
positions file re-read when it changes) are the book's venue part, and the fills a host
applies (the FIX gateway's) join the same :class:`~pricing.desk.Book`. The desk service's next
quote builds its basis (the book's IM, from which each side's ΔIM is taken) on all of it; a
change of the venue's positions changes the book's version, so the basis is rebuilt.

Positions are as :mod:`pricing.desk.live.account` keeps them: instrument → signed size in coins
(options' ``size``, futures' ``size_currency``), the quantity column of the watch's book
(:class:`pricing.desk.live.watch.MarginWatch`), so the desk's ΔIM and the margin screen price
the same positions.
"""

from __future__ import annotations

from collections.abc import Mapping

from pricing.desk.book import Venue
from pricing.desk.fills import Seen
from pricing.desk.live.source import LiveSource
from pricing.desk.live.watch import PositionsFile
from pricing.errors import PricingInputError
from pricing.portfolio import Portfolio, empty_portfolio, portfolio_from_rows


def positions_portfolio(held: Mapping[str, float], source: str) -> Portfolio:
    """``instrument → signed coins`` as a portfolio (the empty portfolio for none).

    Parameters
    ----------
    held : Mapping of str to float
        Signed quantity per Deribit instrument name, in contracts as the venue reports them
        (coins for options and futures; a negative quantity is a short position).
    source : str
        What the positions came from (an account label or a file name), named in any error.

    Returns
    -------
    Portfolio
        The positions in name order; :func:`pricing.portfolio.empty_portfolio` when ``held`` is empty.

    Raises
    ------
    PricingInputError
        A name the engine cannot read or a quantity that is not finite, naming ``source``.
    """
    if not held:
        return empty_portfolio()
    return portfolio_from_rows([{"instrument": n, "quantity": q} for n, q in sorted(held.items())], source)


def account_positions(source: LiveSource) -> Venue:
    """The account's positions of a live source opened with credentials, as the book's venue part.

    Parameters
    ----------
    source : LiveSource
        A live source opened with API credentials (its ``account`` follows ``private/get_positions``
        and the ``user.changes.*`` subscriptions).

    Returns
    -------
    Venue
        A reader returning ``(version, portfolio, seen)``: the version changes whenever the
        account's positions change, so the book's cached basis is rebuilt only then; ``seen`` is
        the labelled trades inside those positions (label -> instrument -> coins bought, sold), which
        retire the fills booked under those labels.

    Raises
    ------
    PricingInputError
        The source has no account (opened without credentials).
    """
    if source.account is None:
        raise PricingInputError(f"--market {source.spec.text}: no account (give the API key: --credentials or the environment)")
    cache: dict[int, tuple[Portfolio, Seen]] = {}

    def read() -> tuple[object, Portfolio, Seen]:
        account = source.account
        assert account is not None
        # The version first, then the positions: a change in between gives newer positions under
        # the older key, and the next read (a new key) takes them again; never the reverse. The
        # positions and the trades inside them are one object (never one without the other).
        version = account.version
        held, seen = account.view
        if version not in cache:
            cache.clear()
            cache[version] = (positions_portfolio(held, f"{source.spec.label} account"), seen)
        book, seen = cache[version]
        return version, book, seen

    return read


def file_positions(watch: PositionsFile) -> Venue:
    """A positions file re-read when it changes (a bad edit keeps the last good book), as the venue part.

    Parameters
    ----------
    watch : PositionsFile
        The watched positions file (``instrument,quantity`` rows), polled on each read.

    Returns
    -------
    Venue
        A reader returning ``(version, portfolio, {})``; the version counts the file's accepted
        versions (a file shows no trades: fills are never retired by it).
    """
    count = 0
    book = empty_portfolio()

    def read() -> tuple[object, Portfolio, Seen]:
        nonlocal count, book
        if watch.poll() or count == 0:
            count += 1
            book = positions_portfolio(watch.positions, watch.path.name)
        return count, book, {}

    return read

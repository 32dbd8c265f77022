"""The live book's margin: the desk's IM recomputed as the book or the market changes, beside the venue's.

For each currency with positions, on each new fitted snapshot (or book change):

- ``desk_im_usd``: IM of that currency's positions under the desk's model
  (:func:`pricing.margin.engine.margin`, add-ons included);
- ``venue_im_usd`` / ``venue_mm_usd``: the initial and maintenance margin the venue reports
  (``get_account_summary`` / ``user.portfolio``, coin) × the snapshot's spot;
- ``difference_usd = desk − venue IM`` and ``relative = difference / venue IM``: the replica's
  live error, recorded over time (in memory, and appended to a CSV log when one is given); an
  ``alert`` when ``|relative|`` exceeds the threshold;
- the intraday margin call of the second source article (:func:`pricing.margin.call.
  intraday_margin_call`): ``call = max(desk IM − collateral, 0)`` with collateral the account's
  ``margin_balance`` valued at spot; ``below_maintenance`` when the venue's own maintenance
  margin exceeds it (the venue would start liquidating).
"""

from __future__ import annotations

import csv
import math
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from pricing.desk.live.account import AccountSummary
from pricing.desk.live.source import LiveSnapshot
from pricing.desk.market import MarketSnapshot
from pricing.errors import DataError, PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.call import intraday_margin_call
from pricing.margin.engine import MarginModel
from pricing.portfolio import portfolio_from_rows


@dataclass(frozen=True)
class MarginCheck:
    """One comparison of the desk's IM with the venue's, USD (see the module docstring).

    Attributes
    ----------
    at : datetime
        UTC.
    snapshot_id : str
        The market snapshot the desk's IM was computed on.
    currency : str
        The venue's margin currency compared, e.g. ``"BTC"``.
    model : str
        The desk's margin model.
    positions : int
        Positions in the currency.
    desk_im_usd, venue_im_usd, venue_mm_usd, collateral_usd : float
        USD.
    difference_usd : float
        Desk minus venue IM, USD.
    relative : float
        difference / venue IM.
    alert : bool
        ``|relative|`` above the threshold.
    call_usd : float
        max(desk IM - collateral, 0), USD.
    below_maintenance : bool
        Collateral below the venue's maintenance margin.
    """

    at: datetime
    snapshot_id: str
    currency: str
    model: str
    positions: int
    desk_im_usd: float
    venue_im_usd: float
    venue_mm_usd: float
    collateral_usd: float
    difference_usd: float
    relative: float
    alert: bool
    call_usd: float
    below_maintenance: bool


class MarginWatch:
    """Recompute the book's IM per snapshot and compare it with the venue's; keep the history.

    Parameters
    ----------
    model : MarginModel
        The desk's margin model, compared with the venue's figures.
    addons : AddOnParams, optional
        Add-on parameters for the desk's IM; None: the defaults.
    alert_relative : float
        The alert threshold on ``|relative|`` (0.25).
    log : Path, optional
        A CSV the checks are appended to.
    history : int
        Checks kept in memory.
    """

    def __init__(
        self,
        model: MarginModel,
        addons: AddOnParams | None = None,
        *,
        alert_relative: float = 0.25,
        log: Path | None = None,
        history: int = 10_000,
    ) -> None:
        if not (math.isfinite(alert_relative) and alert_relative > 0):
            raise PricingInputError(f"alert threshold: {alert_relative!r} must be a positive fraction (0.25 = 25 %)")
        self.model = model
        self.addons = addons
        self.alert_relative = alert_relative
        self.log = log
        self.history: deque[MarginCheck] = deque(maxlen=history)

    def check(
        self, snapshot: LiveSnapshot | MarketSnapshot, positions: Mapping[str, float], summaries: Mapping[str, AccountSummary]
    ) -> list[MarginCheck]:
        """One check per currency that has positions or a venue summary.

        Parameters
        ----------
        snapshot : LiveSnapshot or MarketSnapshot
            The market to value the positions on (it must carry fitted surfaces).
        positions : mapping of str to float
            Instrument -> signed coins.
        summaries : mapping of str to AccountSummary
            Currency to the venue's account summary (its IM, MM and equity).

        Returns
        -------
        list of MarginCheck
            One comparison per currency of the snapshot with positions or a venue summary.
        """
        if snapshot.market is None:
            raise PricingInputError("the margin watch needs a fitted snapshot (open the source with fit=True)")
        out = []
        for ccy in snapshot.market.surfaces:
            prefix = ccy + "-"
            held = {n: q for n, q in positions.items() if n.upper().startswith(prefix) and q != 0}
            summary = summaries.get(ccy)
            if not held and summary is None:
                continue
            out.append(self._one(snapshot, ccy, held, summary))
        self.history.extend(out)
        if self.log is not None and out:
            self._append(out)
        return out

    def _one(
        self, snapshot: LiveSnapshot | MarketSnapshot, ccy: str, held: Mapping[str, float], summary: AccountSummary | None
    ) -> MarginCheck:
        assert snapshot.market is not None
        spot = snapshot.market.spot(ccy)
        portfolio = portfolio_from_rows([{"instrument": n, "quantity": q} for n, q in sorted(held.items())], f"{ccy} book")
        collateral = summary.margin_balance if summary is not None else 0.0
        if held:
            call = intraday_margin_call(portfolio, {ccy: collateral}, snapshot.market, self.model, self.addons)
            desk, due = call.im.total, call.call_usd
        else:
            desk, due = 0.0, 0.0
        venue_im = summary.initial_margin * spot if summary is not None else math.nan
        venue_mm = summary.maintenance_margin * spot if summary is not None else math.nan
        diff = desk - venue_im
        rel = diff / venue_im if venue_im > 0 else (0.0 if diff == 0 else math.nan)
        return MarginCheck(
            at=snapshot.created_at,
            snapshot_id=str(snapshot.snapshot_id),
            currency=ccy,
            model=getattr(self.model, "name", type(self.model).__name__),
            positions=len(held),
            desk_im_usd=desk,
            venue_im_usd=venue_im,
            venue_mm_usd=venue_mm,
            collateral_usd=collateral * spot,
            difference_usd=diff,
            relative=rel,
            alert=bool(math.isfinite(rel) and abs(rel) > self.alert_relative),
            call_usd=due,
            below_maintenance=bool(summary is not None and collateral < summary.maintenance_margin),
        )

    def _append(self, checks: list[MarginCheck]) -> None:
        """Append to the CSV log (header when new): the replica's error over time."""
        assert self.log is not None
        new = not self.log.exists()
        with self.log.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow([f.name for f in fields(MarginCheck)])
            for c in checks:
                row = asdict(c)
                row["at"] = c.at.isoformat()
                writer.writerow(row.values())
            fh.flush()
            os.fsync(fh.fileno())


class PositionsFile:
    """A positions table (``instrument,quantity``, the ``--portfolio`` layout) re-read when it changes.

    Parameters
    ----------
    path : Path
        An ``instrument,quantity`` CSV to watch; a bad file keeps the last good positions (see ``error``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self.positions: dict[str, float] = {}
        self.error = ""

    def poll(self) -> bool:
        """Re-read if the file changed; True when the positions changed. A bad file keeps the last good book.

        Returns
        -------
        bool
            True if the positions changed; False for an unchanged, unreadable or bad file.
        """
        try:
            st = self.path.stat()
        except OSError:
            self.error = f"{self.path.name}: cannot be read"
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
            book = portfolio_from_rows(rows, self.path.name)
        except (PricingInputError, DataError, UnicodeDecodeError, csv.Error) as exc:
            self.error = f"{exc} (the last good book is kept)"
            return False
        positions: dict[str, float] = {}
        for name, qty, size in zip(book.names, book.quantity, book.contract_size):
            positions[name] = positions.get(name, 0.0) + float(qty * size)
        changed = positions != self.positions
        self.positions, self.error = positions, ""
        return changed

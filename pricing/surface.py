"""Implied-volatility surface built from an option chain.

Per expiry: the forward (Deribit's ``underlying_price``), a smile (raw SVI by default, or SABR
with beta fixed) fitted to the out-of-the-money marks. Across expiries: total variance is
interpolated linearly in time at fixed log-moneyness k = ln(K/F(T)), and ln F linearly in
time from F(0) = spot.

Extrapolation (documented policy):

* in strike, each smile's own wings (SVI is linear in k, as Lee's moment formula allows);
* before the first expiry, constant implied vol at fixed k (w scales with T);
* after the last expiry, constant implied vol at fixed k, and the forward keeps the last
  interval's carry.

Shocks for scenario revaluation:

* ``sticky_moneyness`` (default): the smile moves with the forward, vol(K) = vol(ln(K / F'));
* ``sticky_strike``: vol(K) stays where it was, vol(ln(K / F)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.black import Greeks, black76_greeks, black76_price
from pricing.chain import OptionChain
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError, parse_choice
from pricing.sabr import SabrSmile, fit_sabr
from pricing.svi import SviSmile, fit_svi, penalty_grid

SMILE_MODELS = {"svi": "svi", "sabr": "sabr"}
SHOCK_RULES = {
    "sticky_moneyness": "sticky_moneyness",
    "moneyness": "sticky_moneyness",
    "sticky_strike": "sticky_strike",
    "strike": "sticky_strike",
}


class Smile(Protocol):
    """One expiry's smile: total implied variance as a function of log-moneyness (SVI, SABR, flat)."""

    @property
    def t_years(self) -> float:
        """Time to the expiry, years ACT/365."""
        ...

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """Total implied variance w(k) = σ(k)² T at log-moneyness k = ln(K/F).

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        ndarray
            Year units, shape of ``k``.
        """
        ...

    def params(self) -> dict[str, float]:
        """The smile's parameters by name (for fit reports).

        Returns
        -------
        dict of str to float
            The smile's parameters by name.
        """
        ...


@dataclass(frozen=True)
class ExpiryFit:
    """Fit quality of one expiry's smile, in vol points (1 vol point = 0.01).

    Attributes
    ----------
    expiry : numpy.datetime64
        The expiry.
    t_years : float
        Time to it, years ACT/365.
    forward : float
        Its forward, USD.
    n_quotes : int
        Quotes fitted.
    rmse_vol_pts, max_abs_vol_pts : float
        Root-mean-square and largest absolute fit error, vol points.
    butterfly_free : bool
        Whether the smile passes the Gatheral-Jacquier test on the penalty grid.
    k_min, k_max : float
        The log-moneyness range quoted.
    """

    expiry: np.datetime64
    t_years: float
    forward: float
    n_quotes: int
    rmse_vol_pts: float
    max_abs_vol_pts: float
    butterfly_free: bool
    k_min: float
    k_max: float


@dataclass(frozen=True)
class VolSurface:
    """Smiles per expiry plus the forward curve; see the module docstring for conventions.

    Attributes
    ----------
    underlying : str
        ``"BTC"``, ``"ETH"``, ...
    spot : float
        Index price, USD.
    expiries : ndarray of datetime64
        The expiries, ascending.
    t_years : ndarray
        Time to each, years ACT/365.
    forwards : ndarray
        Each expiry's forward, USD.
    smiles : tuple of Smile
        One per expiry.
    model : str
        ``"svi"``, ``"sabr"`` or ``"flat"``.
    fits : tuple of ExpiryFit
        Fit quality per expiry (empty for a flat surface).
    """

    underlying: str
    spot: float
    expiries: np.ndarray
    t_years: FloatArray
    forwards: FloatArray
    smiles: tuple[Smile, ...]
    model: str
    fits: tuple[ExpiryFit, ...] = field(default=())

    # -- forward curve -------------------------------------------------------------------
    def forward(self, t_years: ArrayLike) -> FloatArray:
        """Forward F(T): ln F linear in T through (0, ln spot) and the expiries' forwards.

        Parameters
        ----------
        t_years : array_like
            Time, years ACT/365.

        Returns
        -------
        ndarray
            USD, shape of ``t_years``.

        Notes
        -----
        ln F(T) interpolated linearly in T through (0, ln S) and (T_i, ln F_i); beyond the last expiry
        the last interval's slope (carry) continues (module docstring).
        """
        t = np.asarray(t_years, dtype=np.float64)
        knots_t = np.concatenate([[0.0], self.t_years])
        knots_f = np.log(np.concatenate([[self.spot], self.forwards]))
        inside = np.interp(t, knots_t, knots_f)
        slope = (knots_f[-1] - knots_f[-2]) / (knots_t[-1] - knots_t[-2])
        beyond = knots_f[-1] + slope * (t - knots_t[-1])
        return np.asarray(np.exp(np.where(t > knots_t[-1], beyond, inside)), dtype=np.float64)

    # -- variance ------------------------------------------------------------------------
    def total_variance(self, k: ArrayLike, t_years: ArrayLike) -> FloatArray:
        """Total implied variance w(k, T), linear in T between expiries at fixed k.

        Parameters
        ----------
        k : array_like
            Log-moneyness ln(K/F(T)).
        t_years : array_like
            Time, years ACT/365; broadcasts with ``k``.

        Returns
        -------
        ndarray
            Year units.

        Notes
        -----
        w(k, T) = w_i(k) + (w_{i+1}(k) - w_i(k)) (T - T_i)/(T_{i+1} - T_i) between expiries; constant
        vol outside (module docstring; Gatheral, *The Volatility Surface*, 2006, ch. 3).
        """
        kk, t = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(t_years, dtype=np.float64))
        ts = self.t_years
        # Each smile is evaluated on every point: a few dozen expiries at most, and this keeps
        # the call vectorised over (scenarios x positions) grids.
        pos = np.clip(np.searchsorted(ts, t, side="left"), 1, ts.size - 1) if ts.size > 1 else np.zeros(t.shape, int)
        out = np.empty(kk.shape)
        if ts.size == 1:
            return np.asarray(self.smiles[0].total_variance(kk) * t / ts[0], dtype=np.float64)
        for i in np.unique(pos):
            sel = pos == i
            t0, t1 = ts[i - 1], ts[i]
            w0 = self.smiles[i - 1].total_variance(kk[sel])
            w1 = self.smiles[i].total_variance(kk[sel])
            ti = t[sel]
            weight = (ti - t0) / (t1 - t0)
            blended = w0 + weight * (w1 - w0)
            before = ti < t0
            after = ti > t1
            blended = np.where(before, w0 * ti / t0, blended)
            blended = np.where(after, w1 * ti / t1, blended)
            out[sel] = blended
        return out

    def variance_weights(self, t_years: ArrayLike) -> tuple[np.ndarray, np.ndarray, FloatArray, FloatArray]:
        """(i0, i1, c0, c1) with w(k, T) = c0 w_i0(k) + c1 w_i1(k) for each T.

        The same rule as :meth:`total_variance` (linear in T between expiries, constant vol
        outside), written as two smile weights so that scenario kernels can evaluate a block
        of rows sharing (i0, i1) without masks.

        Parameters
        ----------
        t_years : array_like
            Times, years ACT/365.

        Returns
        -------
        (i0, i1, c0, c1) : (ndarray of int, ndarray of int, ndarray, ndarray)
            Shape of ``t_years`` each.
        """
        t = np.asarray(t_years, dtype=np.float64).reshape(-1)
        ts = self.t_years
        if ts.size == 1:
            zero = np.zeros(t.size, dtype=np.int64)
            return zero, zero, t / ts[0], np.zeros(t.size)
        i1 = np.clip(np.searchsorted(ts, t, side="left"), 1, ts.size - 1)
        i0 = i1 - 1
        t0, t1 = ts[i0], ts[i1]
        a = (t - t0) / (t1 - t0)
        c0 = np.where(t < t0, t / t0, np.where(t > t1, 0.0, 1.0 - a))
        c1 = np.where(t < t0, 0.0, np.where(t > t1, t / t1, a))
        return i0, i1, c0, c1

    def vol(
        self,
        strike: ArrayLike,
        t_years: ArrayLike,
        *,
        spot_shock: ArrayLike = 0.0,
        vol_shift: ArrayLike = 0.0,
        rule: str = "sticky_moneyness",
    ) -> FloatArray:
        """Black implied vol at (strike, T), optionally after a spot/vol shock.

        Parameters
        ----------
        strike : array_like
            USD strikes.
        t_years : array_like
            Time to expiry, ACT/365 (> 0).
        spot_shock : array_like
            Log-return applied to the whole forward curve (F' = F e^shock).
        vol_shift : array_like
            Additive vol shift (decimal) applied after the smile lookup.
        rule : {"sticky_moneyness", "sticky_strike"}
            How the smile moves with the forward.

        Returns
        -------
        ndarray
            Decimal vol, the broadcast shape.

        Notes
        -----
        σ(K, T) = √(w(k, T)/T) + vol_shift with k = ln(K / F'(T)), F' = F e^shock, under
        ``sticky_moneyness``; k = ln(K / F(T)) (the unshocked forward) under ``sticky_strike``
        (module docstring).
        """
        how = parse_choice(rule, "rule", SHOCK_RULES)
        t = np.asarray(t_years, dtype=np.float64)
        f = self.forward(t)
        shock = np.asarray(spot_shock, dtype=np.float64)
        anchor = f * np.exp(shock) if how == "sticky_moneyness" else f
        k = np.log(np.asarray(strike, dtype=np.float64) / anchor)
        w = self.total_variance(k, t)
        return np.sqrt(np.maximum(w, 0.0) / t) + np.asarray(vol_shift, dtype=np.float64)

    # -- pricing -------------------------------------------------------------------------
    def price(
        self, cp: ArrayLike, strike: ArrayLike, t_years: ArrayLike, *, settle: str = "inverse", rate: ArrayLike = 0.0
    ) -> FloatArray:
        """Black-76 price from the surface's forward and vol (coin for inverse, USD for linear).

        Parameters
        ----------
        cp : array_like
            +1 call, -1 put (or ``C``/``P``).
        strike : array_like
            USD.
        t_years : array_like
            Years ACT/365.
        settle : {"inverse", "linear"}
            Coin price V/F, or USD.
        rate : array_like
            Discount rate, continuously compounded, decimal.

        Returns
        -------
        ndarray
            Per 1 coin of underlying, the broadcast shape.

        Notes
        -----
        :func:`pricing.black.black76_price` at F = :meth:`forward` and σ = :meth:`vol`.
        """
        f = self.forward(t_years)
        return black76_price(cp, f, strike, t_years, self.vol(strike, t_years), rate=rate, settle=settle)

    def greeks(
        self, cp: ArrayLike, strike: ArrayLike, t_years: ArrayLike, *, settle: str = "inverse", rate: ArrayLike = 0.0
    ) -> Greeks:
        """Black-76 greeks at the surface's vol (sticky-strike greeks: the vol is held).

        Parameters
        ----------
        cp : array_like
            +1 call, -1 put (or ``C``/``P``).
        strike : array_like
            USD.
        t_years : array_like
            Years ACT/365.
        settle : {"inverse", "linear"}
            Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.
        rate : array_like
            Discount rate, decimal.

        Returns
        -------
        Greeks
            Units as :class:`pricing.black.Greeks` states.
        """
        f = self.forward(t_years)
        return black76_greeks(cp, f, strike, t_years, self.vol(strike, t_years), rate=rate, settle=settle)

    # -- diagnostics ---------------------------------------------------------------------
    def calendar_violations(self, k_grid: ArrayLike | None = None) -> list[tuple[int, float]]:
        """(expiry index i, worst w_i - w_{i+1}) for consecutive expiries where total variance
        decreases at some k on the grid (a calendar arbitrage); empty if none.

        Parameters
        ----------
        k_grid : array_like, optional
            Log-moneyness points (default: 41 points over the range quoted at every expiry).

        Returns
        -------
        list of (int, float)
            Per violation, the earlier expiry's index i and the worst w_i - w_{i+1} on the grid (> 0); empty if none.
        """
        if k_grid is None:
            # The moneyness range quoted at every expiry: beyond it both smiles are extrapolated.
            lo = max((f.k_min for f in self.fits), default=-0.5)
            hi = min((f.k_max for f in self.fits), default=0.5)
            k_grid = np.linspace(lo, hi, 41) if hi > lo else np.array([0.0])
        k = np.asarray(k_grid, dtype=np.float64)
        out = []
        for i in range(len(self.smiles) - 1):
            drop = self.smiles[i].total_variance(k) - self.smiles[i + 1].total_variance(k)
            if drop.max() > 1e-10:
                out.append((i, float(drop.max())))
        return out


@dataclass(frozen=True)
class FlatSmile:
    """A smile with one implied vol at every strike (for worked examples and stress tests).

    Attributes
    ----------
    vol : float
        Decimal.
    t_years : float
        The time w is quoted for, years.
    """

    vol: float
    t_years: float = 1.0

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """w(k) = vol² T at every k.

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        ndarray
            Shape of ``k``.
        """
        return np.full(np.shape(k), self.vol**2 * self.t_years)

    def params(self) -> dict[str, float]:
        """``{"vol": vol}``.

        Returns
        -------
        dict of str to float
            ``{"vol": σ}``, the flat vol, decimal.
        """
        return {"vol": self.vol}


def flat_surface(underlying: str, spot: float, vol: float, *, carry: float = 0.0) -> VolSurface:
    """A surface with constant implied vol ``vol`` (decimal) and forward spot e^(carry T).

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    spot : float
        USD, > 0.
    vol : float
        Decimal, > 0 (0.65 for 65%).
    carry : float
        Annual continuous carry, decimal (0: F = spot).

    Returns
    -------
    VolSurface
        A surface with the same vol at every strike and expiry.

    Raises
    ------
    PricingInputError
        ``spot`` or ``vol`` not a finite number > 0.

    Examples
    --------
    >>> s = flat_surface("BTC", 60_000.0, 0.6)
    >>> float(s.vol(90_000.0, 0.25)), round(float(s.forward(0.5)), 6)
    (0.6, 60000.0)
    """
    if not (spot > 0 and np.isfinite(spot)):
        raise PricingInputError(f"spot: must be a finite number > 0, got {spot!r}")
    if not (vol > 0 and np.isfinite(vol)):
        raise PricingInputError(f"vol: must be a finite decimal > 0 (0.65 for 65%), got {vol!r}")
    return VolSurface(
        str(underlying).upper(),
        float(spot),
        np.array([np.datetime64("NaT", "s")]),
        np.array([1.0]),
        np.array([spot * np.exp(carry)]),
        (FlatSmile(float(vol)),),
        "flat",
    )


@dataclass(frozen=True)
class SmileQuotes:
    """The quotes one expiry's smile is fitted to; ``vegas`` are the fit weights (vega
    relative to the largest, to 8 significant digits).

    Attributes
    ----------
    strikes : ndarray
        USD.
    k : ndarray
        Log-moneyness ln(K/F).
    vols : ndarray
        Mark implied vols, decimal.
    vegas : ndarray
        Fit weights.
    forward : float
        USD.
    t_years : float
        Years ACT/365.
    """

    strikes: FloatArray
    k: FloatArray
    vols: FloatArray
    vegas: FloatArray
    forward: float
    t_years: float


def otm_quotes(chain: OptionChain, expiry: np.datetime64, *, min_abs_delta: float = 0.02) -> SmileQuotes:
    """Out-of-the-money marks of one expiry with |delta| >= ``min_abs_delta``.

    Calls at K >= F and puts below (Deribit marks both at one IV, so this removes duplicates).
    Deribit marks far-wing options at flat IV plateaus where the price sits at the minimum
    tick; those marks carry no smile information, so quotes below the delta threshold are left
    out, as Deribit's DVOL methodology leaves out |delta| < ~5% quotes.

    Parameters
    ----------
    chain : OptionChain
        The underlying's option chain: marks, bid/ask and forwards per listed option.
    expiry : numpy.datetime64
        The expiry whose quotes are taken.
    min_abs_delta : float
        Smallest |Black delta| kept (0.02).

    Returns
    -------
    SmileQuotes
        The out-of-the-money quotes of the expiry: puts below the forward, calls above.
    """
    rows = chain.expiry == expiry
    fwd = float(np.median(chain.forward[rows]))
    t = float(chain.t_years[rows][0])
    otm = rows & (((chain.cp > 0) & (chain.strike >= fwd)) | ((chain.cp < 0) & (chain.strike < fwd))) & (chain.mark_iv > 0)
    greeks = black76_greeks(chain.cp[otm], fwd, chain.strike[otm], t, chain.mark_iv[otm])
    # The fit's inputs are rounded far below any information they carry (delta to 1e-9, log-moneyness to 1e-12, vega
    # weights to 8 significant digits), so that last-bit differences between kernel paths, CPUs
    # and library versions never reach the optimiser: the same chain always gives the same fit.
    keep = np.round(np.abs(greeks.delta), 9) >= min_abs_delta
    order = np.argsort(chain.strike[otm][keep])
    strikes = chain.strike[otm][keep][order]
    vega = greeks.vega[keep][order]
    weights = _significant(vega / vega.max(), 8) if vega.size else vega
    return SmileQuotes(strikes, np.round(np.log(strikes / fwd), 12), chain.mark_iv[otm][keep][order], weights, fwd, t)


def _significant(x: FloatArray, digits: int) -> FloatArray:
    """``x`` (positive) rounded to ``digits`` significant digits."""
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.maximum(x, 1e-300))))
    return np.round(x * scale) / scale


def build_surface(
    chain: OptionChain,
    *,
    model: str = "svi",
    beta: float = 1.0,
    min_quotes: int = 5,
    min_t_years: float = 1.0 / DAYS_PER_YEAR,
    min_abs_delta: float = 0.02,
) -> VolSurface:
    """Fit a smile per expiry of ``chain`` and assemble the surface.

    Parameters
    ----------
    chain : OptionChain
        The underlying's option chain: marks, bid/ask and forwards per listed option.
    model : {"svi", "sabr"}
        The smile model fitted to each expiry.
    beta : float
        SABR beta (ignored for SVI).
    min_quotes : int
        Expiries with fewer OTM quotes are skipped.
    min_t_years : float
        Expiries closer than this (default one day) are skipped: a smile marked hours before
        expiry says little about any later date and destabilises short-end interpolation.
    min_abs_delta : float
        Quotes with smaller |delta| are not fitted (see :func:`otm_quotes`).

    Returns
    -------
    VolSurface
        One smile per fitted expiry, the forward curve, and the fit quality per expiry.

    Notes
    -----
    Residuals are weighted by vega, so the fit is closest where the quotes carry price
    information; fit errors are reported unweighted, in vol points, on the fitted quotes.

    Examples
    --------
    >>> from pricing.chain import load_bundled_chain
    >>> s = build_surface(load_bundled_chain("BTC", "2026-08-21"))
    >>> len(s.smiles), s.model, all(f.butterfly_free for f in s.fits)
    (11, 'svi', True)
    """
    kind = parse_choice(model, "model", SMILE_MODELS)
    uniq, t_all, _ = chain.expiries()
    expiries, ts, fwds, smiles, fits = [], [], [], [], []
    for expiry, t in zip(uniq, t_all):
        if t < min_t_years:
            continue
        q = otm_quotes(chain, expiry, min_abs_delta=min_abs_delta)
        k, vols, fwd, t = q.k, q.vols, q.forward, q.t_years
        if k.size < min_quotes:
            continue
        smile: SviSmile | SabrSmile = (
            fit_svi(k, vols, t, weights=q.vegas) if kind == "svi" else fit_sabr(k, vols, fwd, t, beta=beta, weights=q.vegas)
        )
        err = np.sqrt(smile.total_variance(k) / t) - vols
        grid = penalty_grid(k)
        free = smile.butterfly_free(grid) if isinstance(smile, SviSmile) else bool(np.all(smile.total_variance(grid) > 0))
        expiries.append(expiry)
        ts.append(t)
        fwds.append(fwd)
        smiles.append(smile)
        fits.append(
            ExpiryFit(
                expiry,
                t,
                fwd,
                int(k.size),
                float(np.sqrt(np.mean(err**2)) * 100),
                float(np.abs(err).max() * 100),
                free,
                float(k.min()),
                float(k.max()),
            )
        )
    if not smiles:
        counts = ", ".join(f"{str(e)[:10]}: {int(n)}" for e, n in zip(*np.unique(chain.expiry, return_counts=True)))
        raise PricingInputError(
            f"chain {chain.underlying} {chain.as_of:%Y-%m-%d}: no expiry with >= {min_quotes} quotes to fit a smile "
            f"(quotes per expiry: {counts[:200]}); give at least {min_quotes} strikes of one expiry"
        )
    return VolSurface(
        chain.underlying, chain.spot, np.array(expiries), np.array(ts), np.array(fwds), tuple(smiles), kind, tuple(fits)
    )


def fit_table(surface: VolSurface) -> list[dict[str, object]]:
    """Fit errors per expiry as plain rows (for reports and the CLI).

    Parameters
    ----------
    surface : VolSurface
        A fitted surface.

    Returns
    -------
    list of dict
        ``expiry``, ``t_years``, ``forward``, ``quotes``, ``rmse_vol_pts``, ``max_vol_pts``,
        ``butterfly_free`` per expiry (rounded for display).
    """
    return [
        {
            "expiry": str(f.expiry)[:10],
            "t_years": round(f.t_years, 5),
            "forward": round(f.forward, 2),
            "quotes": f.n_quotes,
            "rmse_vol_pts": round(f.rmse_vol_pts, 3),
            "max_vol_pts": round(f.max_abs_vol_pts, 3),
            "butterfly_free": f.butterfly_free,
        }
        for f in surface.fits
    ]

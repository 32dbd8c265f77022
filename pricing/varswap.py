"""Variance and volatility swaps: fair strikes by static replication from a chain.

Fair variance (Demeterfi, Derman, Kamal & Zou, "More than you ever wanted to know about
volatility swaps", Goldman Sachs, 1999; Carr & Madan 1998), discretised as in the Cboe VIX
white paper:

.. math:: \\sigma^2 = \\frac{2}{T}\\sum_i \\frac{\\Delta K_i}{K_i^2} e^{rT} Q(K_i) - \\frac1T\\Bigl(\\frac{F}{K_0} - 1\\Bigr)^2

with K_0 the first strike at or below F, Q the OTM mid (the call-put average at K_0) and
:math:`\\Delta K_i = (K_{i+1} - K_{i-1})/2` (one-sided at the ends). Deribit premiums are in
coin; they are converted to USD (x forward) first. The 30-day point interpolates the two
bracketing expiries in total variance, as the VIX and DVOL do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pricing._typing import FloatArray
from pricing.chain import OptionChain
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError

DAYS_30 = 30.0 / DAYS_PER_YEAR


@dataclass(frozen=True)
class VarianceStrike:
    """Fair variance of one expiry (annualised, decimal^2) and its inputs.

    Attributes
    ----------
    expiry : numpy.datetime64
        The expiry of the variance swap.
    t_years : float
        Years ACT/365.
    forward : float
        USD.
    variance : float
        Fair variance, annualised, decimal².
    n_strikes : int
        OTM strikes used.
    """

    expiry: np.datetime64
    t_years: float
    forward: float
    variance: float
    n_strikes: int

    @property
    def vol(self) -> float:
        return float(np.sqrt(self.variance))


def replicate_variance(strikes: FloatArray, otm_usd: FloatArray, forward: float, t_years: float, rate: float = 0.0) -> float:
    """Cboe-style discretised fair variance from sorted strikes and OTM option prices in USD.

    Parameters
    ----------
    strikes : ndarray
        Ascending, USD (at least 3).
    otm_usd : ndarray
        Out-of-the-money option prices at those strikes, USD per coin.
    forward : float
        USD.
    t_years : float
        Years ACT/365.
    rate : float
        Continuously compounded, decimal.

    Returns
    -------
    float
        Annualised variance, decimal².

    Raises
    ------
    ValueError
        Fewer than 3 strikes.

    Notes
    -----
    σ² = (2/T) Σ_i (ΔK_i / K_i²) e^{rT} Q(K_i) - (1/T) (F/K_0 - 1)², K_0 the first strike at or
    below F (Cboe VIX White Paper, 2019, "The VIX Index Calculation", eq. 1).
    """
    k = np.asarray(strikes, dtype=np.float64)
    q = np.asarray(otm_usd, dtype=np.float64)
    if k.size < 3:
        raise ValueError("replicate_variance: needs at least 3 strikes")
    dk = np.empty_like(k)
    dk[1:-1] = 0.5 * (k[2:] - k[:-2])
    dk[0] = k[1] - k[0]
    dk[-1] = k[-1] - k[-2]
    below = k[k <= forward]
    k0 = below.max() if below.size else k[0]
    total = 2.0 / t_years * np.sum(dk / k**2 * np.exp(rate * t_years) * q)
    return float(total - (forward / k0 - 1.0) ** 2 / t_years)


def chain_variance_strikes(chain: OptionChain, *, min_t_years: float = 2.0 / DAYS_PER_YEAR) -> list[VarianceStrike]:
    """Fair variance per expiry of a Deribit chain from mark prices (coin -> USD).

    Parameters
    ----------
    chain : OptionChain
        Marks in coin per option; converted to USD at each expiry's forward.
    min_t_years : float
        Expiries closer than this are skipped (two days by default).

    Returns
    -------
    list of VarianceStrike
        One per expiry: fair variance (annualised, decimal²), forward, strikes used.

    Notes
    -----
    Static replication (Demeterfi, Derman, Kamal & Zou, 1999; the Cboe VIX white paper):

    .. math:: \\sigma^2 = \\frac{2}{T}\\sum_i \\frac{\\Delta K_i}{K_i^2} e^{rT} Q(K_i) - \\frac1T\\Bigl(\\frac{F}{K_0}-1\\Bigr)^2.

    OTM options only (puts below K_0, calls above, both averaged at K_0); strikes whose
    mark is zero are dropped, and after two consecutive zero marks the wing is truncated,
    as in the VIX rule. An expiry without both wings is skipped, and a chain of calls (or
    puts) only is refused: one wing alone understates the variance (0.32 against 0.47 on
    the bundled BTC chain, calls only).

    Examples
    --------
    >>> from pricing.chain import load_bundled_chain
    >>> strikes = chain_variance_strikes(load_bundled_chain("BTC", "2026-08-21"))
    >>> len(strikes), round(strikes[0].forward)
    (10, 78299)
    """
    for cp, side in ((1.0, "calls"), (-1.0, "puts")):
        if not np.any(chain.cp == cp):
            raise PricingInputError(
                f"chain {chain.underlying}: no {side}; variance replication needs OTM puts below the forward and calls above it"
            )
    out = []
    uniq, t_all, _ = chain.expiries()
    for expiry, t in zip(uniq, t_all):
        if t < min_t_years:
            continue
        rows = chain.expiry == expiry
        fwd = float(np.median(chain.forward[rows]))
        strikes = np.unique(chain.strike[rows])
        k0_candidates = strikes[strikes <= fwd]
        if k0_candidates.size == 0:
            continue
        k0 = k0_candidates.max()
        price = {}
        for cp in (1.0, -1.0):
            sel = rows & (chain.cp == cp)
            price[cp] = dict(zip(chain.strike[sel], chain.mark_price[sel] * chain.forward[sel]))
        q = np.array(
            [
                0.5 * (price[1.0].get(k, np.nan) + price[-1.0].get(k, np.nan))
                if k == k0
                else (price[-1.0] if k < k0 else price[1.0]).get(k, np.nan)
                for k in strikes
            ]
        )
        keep = _truncate_wings(strikes, q, k0)
        if keep.sum() < 3 or not keep[strikes < k0].any() or not keep[strikes > k0].any():
            continue  # one wing missing: this expiry's strike would be biased low, so it is not used
        var = replicate_variance(strikes[keep], q[keep], fwd, float(t))
        out.append(VarianceStrike(expiry, float(t), fwd, var, int(keep.sum())))
    return out


def _truncate_wings(strikes: FloatArray, q: FloatArray, k0: float) -> np.ndarray:
    """Keep positive quotes, stopping each wing after two consecutive zero/missing ones."""
    keep = np.zeros(strikes.size, dtype=bool)
    centre = int(np.flatnonzero(strikes == k0)[0])
    for direction in (-1, 1):
        zeros = 0
        i = centre if direction == 1 else centre - 1
        while 0 <= i < strikes.size:
            if np.isfinite(q[i]) and q[i] > 0:
                keep[i] = True
                zeros = 0
            else:
                zeros += 1
                if zeros == 2:
                    break
            i += direction
    return keep


def constant_maturity_variance(strikes: list[VarianceStrike], target_years: float = DAYS_30) -> float:
    """Fair variance at a constant maturity from per-expiry fair variances.

    Parameters
    ----------
    strikes : list of VarianceStrike
        From :func:`chain_variance_strikes`.
    target_years : float
        Constant maturity in years (30/365 by default, as VIX and DVOL).

    Returns
    -------
    float
        Annualised variance (decimal²); its square root is a vol.

    Notes
    -----
    Linear in total variance :math:`\\sigma^2 T` between the bracketing expiries (Cboe VIX
    white paper; Deribit DVOL methodology), flat in variance outside the quoted range.

    Examples
    --------
    >>> from pricing.chain import load_bundled_chain
    >>> var30 = constant_maturity_variance(chain_variance_strikes(load_bundled_chain("BTC", "2026-08-21")))
    >>> round(var30 ** 0.5, 4)
    0.4744
    """
    ts = np.array([s.t_years for s in strikes])
    ws = np.array([s.variance * s.t_years for s in strikes])
    if target_years <= ts[0]:
        return float(strikes[0].variance)
    if target_years >= ts[-1]:
        return float(strikes[-1].variance)
    return float(np.interp(target_years, ts, ws) / target_years)


def vol_swap_strike(variance: float, t_years: float, vol_of_vol: float) -> tuple[float, str]:
    """Fair volatility-swap strike from the fair variance with a convexity adjustment.

    Parameters
    ----------
    variance : float
        Fair variance K_var (annualised, decimal^2).
    t_years : float
        Swap tenor.
    vol_of_vol : float
        Annualised volatility of log implied vol (e.g. of DVOL log-changes).

    Returns
    -------
    (strike, method)
        ``method`` is ``"brockhaus-long"`` (second-order: sqrt(K) - Var[V]/(8 K^1.5)) while
        Var[V]/E[V]^2 <= 0.5, else ``"lognormal"`` (exact for lognormal realised variance:
        sqrt(K) exp(-s^2/2)), per docs/methodology.md §E2.

    Notes
    -----
    Realised vol is taken lognormal with log-sd :math:`s = \\omega\\sqrt{T/3}` (the variance
    of the time average of a Brownian log-vol), so
    :math:`Var[V] = K^2 (e^{4s^2} - 1)`; Brockhaus & Long, "Volatility swaps made simple",
    Risk (2000).

    Examples
    --------
    >>> k, method = vol_swap_strike(0.25, 30 / 365, 0.8)
    >>> round(k, 4), method
    (0.4955, 'brockhaus-long')
    """
    s2 = vol_of_vol**2 * t_years / 3.0
    var_v = variance**2 * np.expm1(4.0 * s2)
    if var_v / variance**2 <= 0.5:
        return float(np.sqrt(variance) - var_v / (8.0 * variance**1.5)), "brockhaus-long"
    return float(np.sqrt(variance) * np.exp(-0.5 * s2)), "lognormal"


def vol_of_vol_from_dvol(dvol: FloatArray, window_days: int = int(DAYS_PER_YEAR)) -> float:
    """Annualised vol of daily log-changes of DVOL over the last ``window_days`` (365/yr).

    Parameters
    ----------
    dvol : ndarray
        Daily DVOL values (percent or decimal: log changes do not depend on it).
    window_days : int
        Days of changes used.

    Returns
    -------
    float
        Annualised, decimal.

    Notes
    -----
    sd(Δ ln DVOL_t) x √365, sample standard deviation (ddof = 1).
    """
    x = np.log(np.asarray(dvol, dtype=np.float64)[-(window_days + 1) :])
    return float(np.std(np.diff(x), ddof=1) * np.sqrt(DAYS_PER_YEAR))

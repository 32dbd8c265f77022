"""The funding legs of the all-in quote (docs/methodology.md §D2, §D3, §F1), USD, positive = cost.

``fva_im`` (the article's FVA, a textbook MVA) funds the marginal IM; ``mva_vm`` (the article's MVA)
funds the timing of variation margin. Simple forms reproduce the source article's worked
example; lifetime forms sum over a time grid t_0 = 0 < ... < t_n = T with Δ_i = t_i - t_{i-1} and
DF_i = exp(-r t_i). Funding accrues ACT/360 (SOFR) on ACT/365 option time (:mod:`pricing.daycount`).
"""

from __future__ import annotations

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import ACT360_PER_ACT365, DAYS_PER_YEAR, FUNDING_DAYS_PER_YEAR
from pricing.errors import PricingInputError
from pricing.xva.profiles import discount, grid_matrix, period_sum, profile_matrix, tenor_blocks
from pricing.xva.rates import check_rate, check_rates, check_tenor


def fva_im_simple(delta_im: float, funding_rate: float, im_rate: float = 0.0, days: float = 90.0) -> float:
    """ΔIM · (r_F - r_IM) · days/360: the source article's form of the funding cost of the marginal IM.

    Parameters
    ----------
    delta_im : float
        Marginal initial margin the trade adds, USD.
    funding_rate, im_rate : float
        Funding rate r_F and the rate paid on posted IM r_IM, decimals (ACT/360).
    days : float
        Funding period in days.

    Returns
    -------
    float
        USD, positive = a cost.

    Notes
    -----
    docs/methodology.md §D2, §F1 (the article calls it FVA; textbooks call it MVA).

    Examples
    --------
    The article: 950,000 x (4.763% + 0.50%) x 90/360 = 12,499.625 ($12,500), exactly what is returned:

    >>> fva_im_simple(950_000, 0.05263, 0.0, 90)
    12499.625
    """
    r_f = check_rate(funding_rate, "funding_rate")
    r_im = check_rate(im_rate, "im_rate")
    if not (np.isfinite(days) and days >= 0):
        raise PricingInputError(f"days: must be >= 0, got {days!r}")
    return float(delta_im) * (r_f - r_im) * float(days) / FUNDING_DAYS_PER_YEAR


def fva_im_lifetime(
    delta_im: FloatArray, times: FloatArray, funding_rate: float, im_rate: float = 0.0, discount_rate: float = 0.0
) -> float:
    """Funding cost of a ΔIM profile over the trade's life.

    Parameters
    ----------
    delta_im : array
        ΔIM(t_i) on the time grid, USD.
    times : array
        Grid in years (ACT/365), starting at 0.
    funding_rate, im_rate, discount_rate : float
        Decimals.

    Returns
    -------
    float
        Σ_i ΔIM(t_{i-1}) (r_F - r_IM) Δ_i^{ACT/360} DF_i, USD.

    Notes
    -----
    docs/methodology.md §D3: ΔIM is held over each period; the accrual is ACT/360
    (Δ_i = (t_i - t_{i-1}) x 365/360), discounting at ``discount_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> round(fva_im_lifetime(np.array([950_000.0, 950_000.0]), np.array([0.0, 0.25]), 0.05263), 2)
    12673.23
    """
    return float(
        fva_im_grid(np.asarray(delta_im, dtype=np.float64)[None], np.asarray(times)[None], funding_rate, im_rate, discount_rate)[
            0
        ]
    )


def fva_im_grid(
    delta_im: FloatArray,
    times: FloatArray,
    funding_rate: float | FloatArray,
    im_rate: float | FloatArray = 0.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`fva_im_lifetime` of many trades at once.

    Parameters
    ----------
    delta_im : array (T, N)
        ΔIM(t_i) of each trade on its row of the grid, USD.
    times : array (T, N)
        One grid per row (:func:`pricing.xva.profiles.grid_matrix`), years (ACT/365).
    funding_rate, im_rate : float or array (T,)
        Decimals, one for all trades or one per trade.
    discount_rate : float
        Decimal.

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    Σ_i ΔIM(t_{i-1}) (r_F - r_IM) Δ_i^{ACT/360} DF_i per row (docs/methodology.md §D3), summed in
    order (:func:`pricing.xva.profiles.period_sum`) so a padded row equals its own grid exactly.
    """
    spread = check_rates(funding_rate, "funding_rate") - check_rates(im_rate, "im_rate")
    t = np.asarray(times, dtype=np.float64)
    dim = np.asarray(delta_im, dtype=np.float64)
    accrual = np.diff(t, axis=-1) * ACT360_PER_ACT365
    return period_sum(
        dim[..., :-1]
        * (spread[..., None] if spread.ndim else spread)
        * accrual
        * discount(t[..., 1:], check_rate(discount_rate, "discount_rate"))
    )


def fva_im_lifetimes(
    delta_im: FloatArray,
    tenor_years: FloatArray,
    funding_rate: FloatArray,
    im_rate: FloatArray,
    *,
    profile: str = "flat",
    step_days: float = 7.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`fva_im_lifetime` of many trades, each on its own grid from today's ΔIM and a run-off shape.

    Parameters
    ----------
    delta_im, tenor_years, funding_rate, im_rate : arrays (T,)
        ΔIM today (USD), tenor (years ACT/365), r_F and r_IM (decimals) per trade.
    profile : {"flat", "sqrt"}
        Run-off of ΔIM over the life (:func:`pricing.xva.profiles.profile`).
    step_days : float
        Grid step.
    discount_rate : float
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    :func:`fva_im_grid` on :func:`pricing.xva.profiles.grid_matrix`, trades taken in blocks of
    similar tenor (:func:`pricing.xva.profiles.tenor_blocks`) so memory stays bounded.
    """
    dim, t, rf, rim = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (delta_im, tenor_years, funding_rate, im_rate))
    out = np.empty(t.size)
    for idx in tenor_blocks(t, step_days):
        times = grid_matrix(t[idx], step_days)
        out[idx] = fva_im_grid(profile_matrix(dim[idx], times, profile), times, rf[idx], rim[idx], discount_rate)
    return out


def mva_vm_settlement_lag(
    abs_delta_coin: float,
    spot: float,
    vol: float,
    tenor_years: float,
    borrow_spread: float,
    *,
    lag_days: float = 1.0,
    discount_rate: float = 0.0,
) -> float:
    """Funding of variation-margin timing: Σ_days s_b · ℓ · DF_i · E|ΔV_i|, E|ΔV| ≈ 0.8 |Δ| S σ √(1/365).

    Parameters
    ----------
    abs_delta_coin : float
        |delta| of the trade in coin.
    spot, vol : float
        USD spot and decimal vol.
    tenor_years : float
        Life of the trade (ACT/365).
    borrow_spread : float
        Borrowing spread over SOFR, decimal.
    lag_days : float
        Days between paying VM on the CCP hedge and receiving the client's.
    discount_rate : float
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

    Returns
    -------
    float
        USD, positive = a cost.

    Notes
    -----
    docs/methodology.md §D3. The desk pays VM on the CCP hedge at T+0 and receives the client's at
    T+``lag_days``; each day's expected absolute VM flow is funded for the lag at the borrowing
    spread over SOFR. 0.8 ≈ √(2/π) = E|Z| for a normal daily move.
    """
    check_tenor(tenor_years)
    return float(
        mva_vm_batch(
            np.array([abs_delta_coin]),
            np.array([spot]),
            np.array([vol]),
            np.array([tenor_years]),
            borrow_spread,
            lag_days=lag_days,
            discount_rate=discount_rate,
        )[0]
    )


def mva_vm_batch(
    abs_delta_coin: FloatArray,
    spot: FloatArray,
    vol: FloatArray,
    tenor_years: FloatArray,
    borrow_spread: float | FloatArray,
    *,
    lag_days: float = 1.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`mva_vm_settlement_lag` of many trades at once.

    Parameters
    ----------
    abs_delta_coin, spot, vol, tenor_years : arrays (T,)
        As for :func:`mva_vm_settlement_lag`, per trade.
    borrow_spread : float or array (T,)
        Borrowing spread over SOFR, decimal per year; one for all trades or one per trade.
    lag_days : float
        Days between paying VM on the CCP hedge and receiving the client's.
    discount_rate : float
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

    Returns
    -------
    ndarray (T,)
        USD, positive = a cost.

    Notes
    -----
    docs/methodology.md §D3. The days j = 1..⌈365 T⌉ are summed in closed form,
    Σ_j e^{-r j/365} = q (1 - q^n)/(1 - q) with q = e^{-r/365} (n when r = 0), so the cost does
    not grow with the tenor.

    Examples
    --------
    ⌈365 x 0.25⌉ = 92 days, summed directly:

    >>> import numpy as np
    >>> direct = 0.005 / 360 * 0.8 * 2 * 60_000 * 0.6 * np.sqrt(1 / 365) * np.exp(-0.04 * np.arange(1, 93) / 365).sum()
    >>> bool(np.isclose(mva_vm_batch(np.array([2.0]), np.array([60_000.0]), np.array([0.6]), np.array([0.25]), 0.005,
    ...                               discount_rate=0.04)[0], direct, rtol=1e-12))
    True
    """
    s_b = check_rates(borrow_spread, "borrow_spread")
    r = check_rate(discount_rate, "discount_rate")
    v, sp = np.asarray(vol, dtype=np.float64), np.asarray(spot, dtype=np.float64)
    if lag_days < 0 or (v < 0).any() or (sp <= 0).any():
        raise PricingInputError("lag_days and vol must be >= 0 and spot > 0")
    n = np.ceil(np.asarray(tenor_years, dtype=np.float64) * DAYS_PER_YEAR)
    if r == 0.0:
        days = n
    else:
        days = np.exp(-r / DAYS_PER_YEAR) * np.expm1(-r * n / DAYS_PER_YEAR) / np.expm1(-r / DAYS_PER_YEAR)
    flow = 0.8 * np.abs(np.asarray(abs_delta_coin, dtype=np.float64)) * sp * v * np.sqrt(1.0 / DAYS_PER_YEAR)
    # The lag is a funding accrual: ACT/360, as every funding leg here (SOFR convention).
    return np.asarray(s_b * lag_days / FUNDING_DAYS_PER_YEAR * flow * days, dtype=np.float64)

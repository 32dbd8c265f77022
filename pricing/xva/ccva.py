"""CCVA: the expected loss from the venue's own default on the IM and default fund the desk has
at risk there (docs/methodology.md §D3), USD, positive = cost.
"""

from __future__ import annotations

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import PricingInputError, parse_choice
from pricing.xva.profiles import discount, grid_matrix, period_default_probability, period_sum, profile_matrix, tenor_blocks
from pricing.xva.rates import check_rate

#: CCP default assumptions (docs/methodology.md §D3 [D]): annual PD and LGD on non-bankruptcy-remote IM.
CCP_TYPES = {"qccp": (0.0005, 0.40), "crypto_exchange": (0.01, 0.60), "non_qccp": (0.01, 0.60)}


def ccp_default_params(ccp_type: str) -> tuple[float, float]:
    """(annual PD, LGD) of a venue type.

    Parameters
    ----------
    ccp_type : {"qccp", "crypto_exchange", "non_qccp"}
        The clearing house's kind: a qualifying CCP, a crypto exchange clearing its own trades, or a non-qualifying CCP.

    Returns
    -------
    tuple of float
        Annual probability of default and loss given default, decimals.

    Notes
    -----
    Design defaults, docs/methodology.md §D3 [D].

    Examples
    --------
    >>> ccp_default_params("qccp")
    (0.0005, 0.4)
    """
    return parse_choice(ccp_type, "ccp_type", CCP_TYPES)


def ccva(
    im_non_br: FloatArray,
    times: FloatArray,
    pd_annual: float,
    lgd: float,
    *,
    default_fund: float = 0.0,
    discount_rate: float = 0.0,
) -> float:
    """Expected loss from the venue's own default on posted IM that is not bankruptcy-remote.

    Parameters
    ----------
    im_non_br : array
        Posted non-bankruptcy-remote IM on the grid, USD.
    times : array
        Grid in years, starting at 0.
    pd_annual, lgd : float
        Decimals.
    default_fund : float
        The member's default-fund contribution, USD (also lost).
    discount_rate : float
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

    Returns
    -------
    float
        LGD · Σ_i PD(t_{i-1}, t_i) · DF_i · (IM^{non-BR}(t_i) + DF contribution), USD.

    Notes
    -----
    docs/methodology.md §D3; PD over a period from a flat annual hazard.
    """
    return float(
        ccva_grid(
            np.asarray(im_non_br, dtype=np.float64)[None],
            np.asarray(times)[None],
            pd_annual,
            lgd,
            default_fund=default_fund,
            discount_rate=discount_rate,
        )[0]
    )


def ccva_grid(
    im_non_br: FloatArray,
    times: FloatArray,
    pd_annual: float,
    lgd: float,
    *,
    default_fund: float | FloatArray = 0.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`ccva` of many trades at once.

    Parameters
    ----------
    im_non_br : array (T, N)
        Posted non-bankruptcy-remote IM of each trade on its grid, USD.
    times : array (T, N)
        One grid per row, years.
    pd_annual, lgd : float
        Decimals.
    default_fund : float or array (T,)
        The default-fund contribution at risk, USD: one for all trades, or one per trade (a
        quote passes each trade's change to the member's contribution, docs/methodology.md §D4).
    discount_rate : float
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    LGD · Σ_i PD(t_{i-1}, t_i) · DF_i · (IM(t_i) + DF) per row (docs/methodology.md §D3).
    """
    if not (0.0 <= lgd <= 1.0):
        raise PricingInputError(f"lgd: must be in [0, 1], got {lgd!r}")
    t = np.asarray(times, dtype=np.float64)
    fund = np.asarray(default_fund, dtype=np.float64)
    exposure = np.asarray(im_non_br, dtype=np.float64)[..., 1:] + (fund[:, None] if fund.ndim else fund)
    pd = period_default_probability(t, pd_annual)
    return np.asarray(
        lgd * period_sum(pd * discount(t[..., 1:], check_rate(discount_rate, "discount_rate")) * exposure), dtype=np.float64
    )


def ccva_lifetimes(
    im_non_br: FloatArray,
    tenor_years: FloatArray,
    pd_annual: float,
    lgd: float,
    *,
    default_fund: float = 0.0,
    profile: str = "flat",
    step_days: float = 7.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`ccva` of many trades, each on its own grid from today's IM and a run-off shape.

    Parameters
    ----------
    im_non_br, tenor_years : arrays (T,)
        Non-bankruptcy-remote IM today (USD) and tenor (years) per trade.
    pd_annual, lgd : float
        The CCP's annual default probability and its loss given default, decimals.
    default_fund : float
        The desk's default-fund contribution, USD.
    profile : {"flat", "sqrt"}
        Exposure profile over the life (:func:`pricing.xva.profiles.profile`): flat, or run off as sqrt((T - t)/T).
    step_days : float
        Step of the time grid, calendar days.
    discount_rate : float
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    :func:`ccva_grid` in blocks of similar tenor, as :func:`fva_im_lifetimes`.
    """
    im, t = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (im_non_br, tenor_years))
    out = np.empty(t.size)
    for idx in tenor_blocks(t, step_days):
        times = grid_matrix(t[idx], step_days)
        out[idx] = ccva_grid(
            profile_matrix(im[idx], times, profile), times, pd_annual, lgd, default_fund=default_fund, discount_rate=discount_rate
        )
    return out

"""What a live snapshot's readers depend on, per currency: a content version of its chain and surface.

A stream (``=CQ.LIVE_QUOTE``, ``=CQ.LIVE_MARKET``) keeps the versions of the currencies its last
result read and recomputes only when one of them moved: a refit that gives the same slices, or
marks of another currency, leave a cell's inputs as they were, so they leave its result too.

The version is a digest of the content itself (every column of the chain, its time and spot;
the surface's spot, expiries, times, forwards, model, every smile's parameters and fit report),
not a counter: equal content gives an equal version whatever path built it (a refit converging
to the same parameters, a reconnect's fresh book summary of unchanged marks), and any change of
a number gives a new one (up to a 96-bit hash collision).
"""

from __future__ import annotations

import hashlib

import numpy as np

from pricing.chain import OptionChain
from pricing.surface import VolSurface

_CHAIN_ARRAYS = ("expiry", "t_years", "strike", "cp", "forward", "mark_iv", "mark_price", "bid_price", "ask_price")


def content_version(chain: OptionChain, surface: VolSurface | None) -> str:
    """A digest of everything a pricing call reads of one currency in a live snapshot.

    Parameters
    ----------
    chain : OptionChain
        The currency's chain (marks, forwards, bid/ask, its time and spot index).
    surface : VolSurface or None
        Its fitted surface (None when the currency has none yet).

    Returns
    -------
    str
        24 hex characters; equal for equal content, different when any number differs.

    Notes
    -----
    BLAKE2b (96-bit digest) over the arrays' bytes (``float64``/``datetime64[s]``, native order;
    NaN payloads as stored) and the scalars' ``repr``. Per currency, not per expiry: a quote of
    one expiry reads its neighbours too (total variance linear in T between slices, the forward
    curve through the expiries' forwards) and a margin model shocks the whole book.

    Examples
    --------
    >>> from pricing.chain import load_bundled_chain
    >>> c = load_bundled_chain("BTC")
    >>> content_version(c, None) == content_version(c.select(c.strike > 0), None)
    True
    """
    h = hashlib.blake2b(digest_size=12)
    h.update(repr((chain.underlying, chain.as_of.isoformat(), float(chain.spot))).encode())
    h.update("\x1f".join(chain.names).encode())
    for name in _CHAIN_ARRAYS:
        h.update(np.ascontiguousarray(getattr(chain, name)).tobytes())
    if surface is not None:
        h.update(repr((surface.underlying, float(surface.spot), surface.model)).encode())
        for arr in (surface.expiries, surface.t_years, surface.forwards):
            h.update(np.ascontiguousarray(arr).tobytes())
        for smile in surface.smiles:
            h.update(repr(sorted((k, float(v)) for k, v in smile.params().items())).encode())
        h.update(repr(surface.fits).encode())
    return h.hexdigest()

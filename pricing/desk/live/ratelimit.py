"""A token bucket for outgoing requests (Deribit's credit pool, seen from the client).

Deribit refills request credits continuously and refuses a request when the pool is empty
(error 10028, then closes the session). The client keeps its own, smaller bucket so it never
gets there: each request takes one token; tokens refill at ``rate`` per second up to ``burst``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pricing.errors import PricingInputError


@dataclass
class TokenBucket:
    """Tokens refill at ``rate`` per second up to ``burst``; :meth:`reserve` takes one.

    Invariant (tested for every arrival pattern): over any window of length T the requests it
    lets start number at most ``burst + rate × T``.

    Attributes
    ----------
    rate : float
        Tokens per second, > 0.
    burst : float
        Bucket size, >= 1.
    tokens : float
        Tokens now (-1: full, set on the first use).
    stamp : float
        Monotonic seconds of the last refill.
    """

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.burst >= 1):
            raise PricingInputError(f"token bucket: rate {self.rate!r} must be > 0 and burst {self.burst!r} >= 1")
        if self.tokens < 0:
            self.tokens = self.burst

    def reserve(self, now: float) -> float:
        """Take one token at ``now`` (seconds, monotonic); return how long to wait before sending.

        Parameters
        ----------
        now : float
            ``time.monotonic()``.

        Returns
        -------
        float
            Seconds to wait, >= 0.
        """
        now = max(now, self.stamp)
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

"""Fixtures of the live-desk tests: a local Deribit API v2 server per test, fast limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pricing.desk.live import LiveLimits
from tests.live.deribit_server import DeribitTestServer

#: Short clocks so reconnects and staleness happen within a test (production defaults in LiveLimits).
FAST = LiveLimits(connect_timeout_s=5.0, max_age_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.2, publish_interval_s=0.02)


@pytest.fixture
def server() -> Iterator[DeribitTestServer]:
    with DeribitTestServer() as s:
        yield s

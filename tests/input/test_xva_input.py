"""Bad XVA inputs (percent typed for a decimal rate) are refused with a unit hint."""

from __future__ import annotations

import pytest

from pricing.errors import PricingInputError
from pricing.xva.funding import fva_im_simple
from pricing.xva.params import QuoteParams
from pricing.xva.profiles import grid


def test_percent_rates_are_refused_with_a_hint() -> None:
    with pytest.raises(PricingInputError, match=r"percentage.*0.0526"):
        fva_im_simple(1e6, 5.26)
    with pytest.raises(PricingInputError, match="tenor"):
        grid(-1.0)
    with pytest.raises(PricingInputError, match="spread_policy"):
        QuoteParams(spread_policy="huge")

from __future__ import annotations

import pytest
from billing_factory import PLANS_FILE

from maint.billing.plans import Plans, load_plans


@pytest.fixture(scope="session")
def plans() -> Plans:
    return load_plans(PLANS_FILE)

"""A private copy of the scored warehouse per test (plays write to it), and a play spec to start from."""

from __future__ import annotations

import dataclasses
import shutil
from typing import Any

import pytest

from churn_core.settings import Settings
from tests.conftest import DEMO_END

SPEC: dict[str, Any] = {
    "name": "phone the valuable",
    "owner": "ana@example.com",
    "channel": "phone",
    "content_id": "PH-02",
    "daily_capacity": 40,
    "holdout_share": 0.5,
    "start_date": DEMO_END.replace(day=1),
    "end_date": DEMO_END.replace(month=12, day=31),
    "eligibility": {"risk_tier": ["high", "medium"]},
}


@pytest.fixture()
def home(scored_home: Settings, tmp_path) -> Settings:
    shutil.copytree(scored_home.home, tmp_path / "home")
    return dataclasses.replace(scored_home, home=tmp_path / "home")

"""Creating and pausing plays: refused in the functions behind the buttons to roles without `plays`, audited."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from churn_core.access import actions
from churn_core.access.roles import AccessDenied, User
from churn_core.plays.spec import parse_play
from churn_core.plays.store import list_plays
from churn_core.warehouse import open_warehouse
from tests.churn_core.plays.conftest import SPEC

MARKETER, ANALYST, MANAGER, ADMIN = (
    User(f"{r}@example.com", role=r) for r in ("marketer", "analyst", "manager", "admin")
)


@pytest.fixture()
def warehouse(scored_home, tmp_path):
    shutil.copytree(scored_home.home, tmp_path / "home")
    return open_warehouse(dataclasses.replace(scored_home, home=tmp_path / "home"))


def test_only_managers_and_admins_create_and_pause_plays_and_each_is_audited(warehouse) -> None:
    play = parse_play(SPEC)
    for user in (MARKETER, ANALYST):
        with pytest.raises(AccessDenied, match="may not plays"):
            actions.create_play(warehouse, user, play)
    assert not warehouse.table_exists("plays") and not warehouse.table_exists("audit_log")
    actions.create_play(warehouse, MANAGER, play)
    with pytest.raises(AccessDenied):
        actions.set_play_status(warehouse, MARKETER, play.name, "paused")
    actions.set_play_status(warehouse, ADMIN, play.name, "paused")
    [record] = list_plays(warehouse)
    assert record.status == "paused" and record.created_by == MANAGER.email
    log = warehouse.query("SELECT user_email, action, detail FROM audit_log ORDER BY at")
    assert log[["user_email", "action"]].values.tolist() == [
        [MANAGER.email, "play_create"],
        [ADMIN.email, "play_pause"],
    ]
    assert json.loads(log["detail"].iloc[0])["channel"] == "phone"
    assert json.loads(log["detail"].iloc[1]) == {"play": play.name, "was": "active"}

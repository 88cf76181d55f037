"""Exports and promotions are refused to roles without them in the functions behind the UI, and audited."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil

import pandas as pd
import pytest

from churn_core import views
from churn_core.access import actions, audit
from churn_core.access.exports import EXPORT_ROW_CAP
from churn_core.access.roles import AccessDenied, User
from churn_core.model.registry import Registry
from churn_core.views import Filters
from churn_core.warehouse import open_warehouse

MARKETER, ANALYST, ADMIN = (User(f"{r}@example.com", role=r) for r in ("marketer", "analyst", "admin"))


@pytest.fixture()
def home(scored_home, tmp_path):
    """A private copy of the scored warehouse and registry: these tests write audit entries."""
    shutil.copytree(scored_home.home, tmp_path / "home")
    return dataclasses.replace(scored_home, home=tmp_path / "home")


def test_export_needs_the_export_role_reads_nothing_before_and_is_audited(home) -> None:
    warehouse = open_warehouse(home)
    as_of = warehouse.query("SELECT max(as_of_date) AS d FROM evaluator_scores").iloc[0, 0].date()
    view = Filters(tiers=("high",))
    read = []

    def rows() -> pd.DataFrame:
        read.append(view)
        return views.at_risk_export(warehouse, as_of, view, "risk", ["product"], EXPORT_ROW_CAP)

    detail = {"as_of": as_of, "sort": "risk", "filters": view.described()}
    with pytest.raises(AccessDenied, match="may not export"):
        actions.export_rows(warehouse, MARKETER, rows, "csv", detail)
    assert not read and not warehouse.table_exists("audit_log")
    payload = actions.export_rows(warehouse, ANALYST, rows, "csv", detail)
    exported = list(csv.DictReader(io.StringIO(payload.decode("utf-8-sig"))))
    assert exported and all(r["product"][:1] not in "=+-@" for r in exported)
    entry = audit.audit_entries(warehouse, ADMIN).iloc[0]
    assert (entry["user_email"], entry["action"], entry["row_count"]) == (ANALYST.email, "export", len(exported))
    assert json.loads(entry["detail"]) == {
        "as_of": str(as_of),
        "columns": ["instance", "product"],
        "filters": {"tier": ["high"]},
        "format": "csv",
        "sort": "risk",
    }


def test_promotion_is_for_admins_and_is_audited(home) -> None:
    warehouse = open_warehouse(home)
    registry = Registry(home)
    champion = registry.champion_version()
    with pytest.raises(AccessDenied, match="may not promote"):
        actions.promote_model(home, warehouse, ANALYST, champion, force=True)
    assert not warehouse.table_exists("audit_log")
    actions.promote_model(home, warehouse, ADMIN, champion)
    assert registry.champion_version() == champion
    entries = audit.audit_entries(warehouse, ADMIN)
    assert entries["action"].tolist() == ["promote"] and champion in entries["detail"].iloc[0]

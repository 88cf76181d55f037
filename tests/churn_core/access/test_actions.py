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
from churn_core.access.exports import EXPORT_ROW_CAP, Export, ExportOptions
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
    score_set = views.score_sets(warehouse)[0]
    view = Filters(tiers=("high",))
    read = []

    def rows() -> Export:
        read.append(view)
        return views.at_risk_file(warehouse, score_set, view, "risk", ["product"], EXPORT_ROW_CAP)

    detail = {"as_of": score_set.as_of, "sort": "risk", "filters": view.described()}
    with pytest.raises(AccessDenied, match="may not export"):
        actions.export_rows(warehouse, MARKETER, rows, "csv", detail)
    assert not read and not warehouse.table_exists("audit_log")
    payload = actions.export_rows(warehouse, ANALYST, rows, "csv", detail, ExportOptions(machine=True))
    exported = list(csv.DictReader(io.StringIO(payload.decode("utf-8-sig"))))
    assert exported and all(r["product"][:1] not in "=+-@" for r in exported)
    assert {r["control_group"] for r in exported} == {"0"}  # a contact list never holds the holdout
    entry = audit.audit_entries(warehouse, ADMIN).iloc[0]
    assert (entry["user_email"], entry["action"], entry["row_count"]) == (ANALYST.email, "export", len(exported))
    assert json.loads(entry["detail"]) == {
        "as_of": str(score_set.as_of),
        "audience": "contact",
        "columns": ["instance", "control_group", "product"],
        "filters": {"tier": ["high"]},
        "format": "csv",
        "sort": "risk",
    }


def test_the_holdout_is_exported_only_on_its_own_labelled_and_audited(home) -> None:
    warehouse = open_warehouse(home)
    score_set = views.score_sets(warehouse)[0]

    def rows() -> Export:
        return views.at_risk_file(warehouse, score_set, Filters(), "plan", ["segment"], EXPORT_ROW_CAP, "holdout")

    with pytest.raises(AccessDenied, match="may not export_holdout"):
        actions.export_rows(warehouse, MARKETER, rows, "csv", {}, audience="holdout")
    analyst_without = dataclasses.replace(ANALYST, role="manager")
    with pytest.raises(AccessDenied):
        actions.export_rows(warehouse, analyst_without, rows, "csv", {}, audience="holdout")
    payload = actions.export_rows(warehouse, ANALYST, rows, "csv", {}, ExportOptions(comments=True), "holdout")
    text = payload.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("# List: At-risk evaluators: the measurement holdout only: DO NOT CONTACT")
    exported = pd.read_csv(
        io.StringIO(text), skiprows=[i for i, line in enumerate(text.splitlines()) if "# " in line[:3]]
    )
    held = warehouse.query(
        "SELECT count(*) AS n FROM evaluator_scores WHERE as_of_date = :d AND control_group = 1", {"d": score_set.as_of}
    ).iloc[0, 0]
    assert len(exported) == held > 0
    assert set(exported["Holdout (do not contact)"]) == {"yes"} and set(exported["Segment"]) == {"held out"}
    assert json.loads(audit.audit_entries(warehouse, ADMIN).iloc[0]["detail"])["audience"] == "holdout"


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

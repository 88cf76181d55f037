"""Secrets sweep, dashboard part: with every sentinel credential planted (tests/churn_core/test_secrets.py), an error
that quotes them reaches neither the page nor the server log, and a successful export and its audit entry hold
none of them."""

from __future__ import annotations

import csv
import io
import logging
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from churn_core import views
from churn_core.access import audit
from churn_core.access.roles import User
from churn_core.warehouse import QueryError, open_warehouse
from churn_core.warehouse.duckdb import DuckDBWarehouse
from dashboard import auth, data
from tests.churn_core.test_secrets import (  # noqa: F401 (fixtures)
    assert_no_sentinel,
    planted,
    quoting_everything,
    webhook,
)
from tests.dashboard.test_pages import APP, GENERIC_ERROR

ANALYST = User("ann@example.com", role="analyst")


@pytest.fixture()
def signed_in(planted, monkeypatch):  # noqa: F811
    """The planted secrets.toml configures sign-in: the app sees a signed-in admin."""
    monkeypatch.setattr(auth, "current_user", lambda settings: User("root@example.com", role="admin"))
    return planted


def _page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("error", "warning", "info", "caption", "markdown") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts) + "\n".join(e.message for e in at.exception)


def test_a_warehouse_error_quoting_credentials_is_shown_redacted(signed_in, monkeypatch) -> None:
    def tables(self):
        raise QueryError(quoting_everything())

    monkeypatch.setattr(DuckDBWarehouse, "tables", tables)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and at.error and "could not reach" in at.error[0].value
    assert_no_sentinel(_page_text(at), "the page")


def test_an_unexpected_error_is_logged_redacted(signed_in, monkeypatch, caplog) -> None:
    def tables(self):
        raise RuntimeError(quoting_everything())

    monkeypatch.setattr(DuckDBWarehouse, "tables", tables)
    with caplog.at_level(logging.ERROR, logger="churn.dashboard"):
        at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.error and GENERIC_ERROR in at.error[0].value
    assert_no_sentinel(_page_text(at), "the page")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "churn.dashboard")
    assert "could not reach" in logged and "Traceback" in logged
    assert_no_sentinel(logged, "the server log")


def test_an_export_and_its_audit_entry_hold_no_credential(planted, scored_home, tmp_path) -> None:  # noqa: F811
    shutil.copytree(scored_home.home, tmp_path / "home")
    settings = scored_home.with_overrides(home=tmp_path / "home")
    warehouse = open_warehouse(settings)
    columns = tuple(views.export_columns(warehouse))
    admin = User("root@example.com", role="admin")
    before = len(audit.audit_entries(warehouse, admin))  # the session's warehouse may hold earlier tests' exports
    for kind in ("csv", "xlsx"):
        score_set = views.score_sets(warehouse)[0]
        payload = data.export_file(settings, ANALYST, score_set, views.Filters(), "risk", columns, kind)()
        assert payload
        if kind == "csv":
            text = payload.decode("utf-8-sig")
            assert len(list(csv.DictReader(io.StringIO(text)))) > 100
            assert_no_sentinel(text, "the CSV export")
        else:
            assert_no_sentinel(payload.decode("latin-1"), "the Excel export")
    entries = audit.audit_entries(warehouse, admin)
    assert len(entries) == before + 2
    assert_no_sentinel(entries.to_csv(), "audit_log")


@pytest.mark.parametrize("page", ["at_risk", "model_health"])
def test_pages_show_no_credential(signed_in, scored_home, monkeypatch, page) -> None:
    """The scored warehouse's pages with every credential planted (the key file's set is read with its key)."""
    monkeypatch.setenv("CHURN_HOME", str(scored_home.home))
    monkeypatch.delenv("CHURN_SIGNING_KEY")  # the sets were signed with the home's key file
    at = AppTest.from_file(APP, default_timeout=120)
    if page != "at_risk":
        at.switch_page(f"../pages/{page}.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert_no_sentinel(_page_text(at), page)

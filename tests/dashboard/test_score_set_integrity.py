"""The dashboard refuses a tampered or unsigned score set with a readable message naming the set and the fix,
and shows the untouched sets of the same warehouse as before."""

from __future__ import annotations

import shutil

import pytest

from churn_core.scoring import integrity
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse
from dashboard import data
from tests.conftest import SCORE_DATES
from tests.dashboard.test_pages import GENERIC_ERROR, assert_clean, run_page

NEWEST = SCORE_DATES[-1]


@pytest.fixture()
def tampered(scored_home: Settings, tmp_path) -> Settings:
    """A private copy of the scored warehouse (and its key) whose newest set had one probability edited."""
    shutil.copytree(scored_home.home, tmp_path / "home")
    settings = scored_home.with_overrides(home=tmp_path / "home")
    open_warehouse(settings).execute(
        "UPDATE evaluator_scores SET churn_probability = 0.01 WHERE as_of_date = :d AND risk_rank = 1", {"d": NEWEST}
    )
    return settings


def _refusal(at) -> str:
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert GENERIC_ERROR not in errors[0] and "Traceback" not in errors[0]
    assert f"score set {NEWEST}" in errors[0] and f"`churn score --as-of {NEWEST}`" in errors[0]
    return errors[0]


@pytest.mark.parametrize("page", ["at_risk", "drivers", "model_health"])
def test_pages_that_need_scores_stop_on_a_tampered_set(monkeypatch, tampered, page) -> None:
    at = run_page(monkeypatch, tampered, page)
    assert "values were changed in evaluator_scores" in _refusal(at)
    assert not at.dataframe and not at.get("plotly_chart") and not at.metric


@pytest.mark.parametrize("page", ["profile", "channels"])
def test_pages_that_can_do_without_scores_go_on_without_the_set(monkeypatch, tampered, page) -> None:
    at = run_page(monkeypatch, tampered, page)
    _refusal(at)
    assert at.title


def test_an_untouched_older_set_of_the_same_warehouse_is_shown(monkeypatch, tampered) -> None:
    at = run_page(monkeypatch, tampered)
    at.selectbox(key="score_set_choice").set_value(SCORE_DATES[1]).run()
    assert_clean(at)
    assert f"{SCORE_DATES[1]:%d %b %Y}" in at.caption[0].value and at.dataframe


def test_an_unsigned_set_says_so(monkeypatch, tampered) -> None:
    open_warehouse(tampered).execute("UPDATE score_sets SET signature = NULL WHERE as_of_date = :d", {"d": NEWEST})
    assert "is unsigned" in _refusal(run_page(monkeypatch, tampered))


def test_the_check_is_cached_per_set(monkeypatch, scored_home) -> None:
    calls = []
    real = integrity.check_score_set
    monkeypatch.setattr(integrity, "check_score_set", lambda *a: calls.append(a[2]) or real(*a))
    data.score_set_problem.clear()
    for _ in range(2):
        assert data.score_set_problem(scored_home, NEWEST, None) is None
    assert calls == [NEWEST]

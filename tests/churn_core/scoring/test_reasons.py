"""Drivers in words: which drivers are picked, what the sentences say, and the cohort medians behind them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churn_core.schema import FEATURES
from churn_core.scoring import reasons
from churn_core.warehouse import open_warehouse

FEATURES3 = ["w1_active_users", "sprint_started", "issues_completed"]


def _medians(rows: list[tuple]) -> pd.DataFrame:
    """cohort_medians rows: (band or None, day, retained, evaluators, medians..., nonzero shares...)."""
    columns = [
        "team_size_band",
        "as_of_day",
        "retained",
        "evaluators",
        *FEATURES3,
        *(f"nonzero_{f}" for f in FEATURES3),
    ]
    return pd.DataFrame(rows, columns=columns)


MEDIANS = _medians(
    [
        (2, 5, 1, 100, 5, 1, 9, 0.9, 0.6, 0.9),  # retained teams of 4-6 seats on day 5
        (2, 5, 0, 100, 2, 0, 3, 0.8, 0.3, 0.7),  # churned ones
        (None, 5, 1, 900, 4, 0, 8, 0.9, 0.4, 0.9),  # every team size, day 5
        (None, 5, 0, 900, 1, 0, 2, 0.8, 0.2, 0.7),
        (3, 5, 1, 10, 99, 99, 99, 1.0, 1.0, 1.0),  # too few evaluators: not used
    ]
)


def test_team_size_bands() -> None:
    sizes = np.array([1, 2, 3, 4, 6, 7, 12, 13, 25, 26, 500])
    assert reasons.team_size_band(sizes).tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert len(reasons.BAND_LABELS) == len(reasons.TEAM_SIZE_BANDS) + 1


def test_sentences_compare_with_the_cohort_of_the_same_size_and_day() -> None:
    shap = np.array(
        [
            [0.8, 0.3, -0.5],  # churn: active users, sprints; protects: issues completed
            [-0.2, -0.1, -0.4],
        ]
    )  # nothing pushes towards churn
    values = np.array([[2.0, 0.0, 14.0], [1.0, 1.0, 0.0]])
    out = reasons.explain(shap, values, FEATURES3, np.array([5, 9]), np.array([5, 5]), np.array([1, 0]), MEDIANS)
    first = json.loads(out.top_drivers[0].as_py())
    assert [d["feature"] for d in first] == ["w1_active_users", "sprint_started", "issues_completed"]
    assert [d["shap"] > 0 for d in first] == [True, True, False]
    assert first[0] == {
        "feature": "w1_active_users",
        "value": 2,
        "shap": 0.8,
        "reason": "Raises risk: 2 distinct active users by day 5; retained teams of 4-6 seats had 5",
    }
    assert first[1]["reason"] == "Raises risk: no sprints started by day 5; retained teams of 4-6 seats had 1"
    assert first[2]["reason"] == "Lowers risk: 14 issues completed by day 5; churned teams of 4-6 seats had 3"
    assert out.top_reason[0].as_py() == first[0]["reason"]  # predicted to churn: the strongest churn driver
    # team of 9 = band 7-12 has too few evaluators: medians over every team size; no churn driver at all
    second = json.loads(out.top_drivers[1].as_py())
    assert second == [
        {
            "feature": "issues_completed",
            "value": 0,
            "shap": -0.4,
            "reason": "Lowers risk: no issues completed by day 5; churned teams of 7-12 seats had 2",
        }
    ]
    assert out.top_reason[1].as_py() == second[0]["reason"]


def test_singular_missing_and_zero_median_wording() -> None:
    shap = np.array([[0.1, 0.9, 0.0], [0.5, 0.0, 0.0]])
    values = np.array([[1.0, 0.0, 3.0], [np.nan, 0.0, 0.0]])
    medians = MEDIANS.assign(sprint_started=0)  # "had 0" says nothing: the share that had one instead
    out = reasons.explain(shap, values, FEATURES3, np.array([4, 4]), np.array([5, 5]), np.array([1, 1]), medians)
    first = json.loads(out.top_drivers[0].as_py())
    assert first[0]["reason"] == (
        "Raises risk: no sprints started by day 5; 60% of retained teams of 4-6 seats had at least one"
    )
    assert first[1]["reason"] == "Raises risk: 1 distinct active user by day 5; retained teams of 4-6 seats had 5"
    assert len(first) == 2  # a zero SHAP value neither pushes nor protects
    missing = json.loads(out.top_drivers[1].as_py())[0]
    assert missing["value"] is None  # not reported is not 0: the model routes it its own way
    assert (
        missing["reason"] == "Raises risk: no data on people active so far by day 5; retained teams of 4-6 seats had 5"
    )


def test_every_reason_says_which_way_it_pushes() -> None:
    rng = np.random.default_rng(3)
    shap = rng.normal(size=(500, len(FEATURES3)))
    values = rng.poisson(2.0, size=shap.shape).astype(float)
    out = reasons.explain(
        shap, values, FEATURES3, rng.integers(1, 30, 500), rng.integers(1, 8, 500), shap.sum(axis=1) > 0, MEDIANS
    )
    rows = [json.loads(row) for row in out.top_drivers.to_pylist()]
    drivers = [d for row in rows for d in row]
    # (the JSON keeps three decimals: a tiny push may read 0.0 there, either way)
    assert all(d["shap"] >= 0 if d["reason"].startswith("Raises risk: ") else d["shap"] <= 0 for d in drivers)
    assert all(d["reason"].startswith(("Raises risk: ", "Lowers risk: ")) for d in drivers)
    assert {d["reason"][:12] for d in drivers} == {"Raises risk:", "Lowers risk:"}
    for predicted, row, top in zip(shap.sum(axis=1) > 0, rows, out.top_reason.to_pylist(), strict=True):
        wanted = "Raises risk: " if predicted else "Lowers risk: "
        if any(d["reason"].startswith(wanted) for d in row):  # the headline goes the way of the prediction
            assert top.startswith(wanted)


def test_a_missing_value_is_no_data_not_zero() -> None:
    features = ["updates_per_issue", "edition", "number_of_issues", "user_days_per_day"]
    shap = np.array([[0.6, 0.4, 0.2, -0.3], [0.5, -0.4, 0.3, 0.1]])
    values = np.array([[np.nan, np.nan, 0.0, 1.0], [0.0, 1.0, np.nan, 1.5]])
    out = reasons.explain(
        shap,
        values,
        features,
        np.array([5, 5]),
        np.array([3, 3]),
        np.array([1, 1]),
        MEDIANS.iloc[:0],
        {"edition": ["enterprise", "premium"]},
    )
    first, second = (json.loads(row) for row in out.top_drivers.to_pylist())
    assert [(d["value"], d["reason"]) for d in first] == [
        (None, "Raises risk: no data on updates per issue by day 3"),
        (None, "Raises risk: no data on edition"),
        (0, "Raises risk: no issues created by day 3"),  # a reported 0 is a 0
        (1.0, "Lowers risk: 1 active user a day on average by day 3"),
    ]
    assert [d["reason"] for d in second] == [
        "Raises risk: 0 updates per issue by day 3",
        "Raises risk: no data on issues created by day 3",
        "Raises risk: 1.5 active users a day on average by day 3",
        "Lowers risk: the premium edition",
    ]


def test_category_labels_with_quotes_keep_the_json_valid() -> None:
    hostile = '=HYPERLINK("http://evil.example/","click \\ me")'
    shap, codes, categories = np.array([[0.5]]), np.array([[0.0]]), {"product": [hostile]}
    out = reasons.explain(shap, codes, ["product"], [5], [3], [1], MEDIANS.iloc[:0], categories)
    (driver,) = json.loads(out.top_drivers[0].as_py())
    assert driver["value"] == hostile and driver["reason"] == f"Raises risk: the {hostile} product"
    assert out.top_reason[0].as_py() == driver["reason"]  # the sentence itself is not escaped


def test_without_cohorts_the_sentence_has_no_comparison() -> None:
    out = reasons.explain(
        np.array([[0.4, 0.0, 0.0]]),
        np.array([[3.0, 0.0, 0.0]]),
        FEATURES3,
        np.array([5]),
        np.array([2]),
        np.array([1]),
        MEDIANS.iloc[:0],
    )
    assert out.top_reason[0].as_py() == "Raises risk: 3 distinct active users by day 2"


def test_many_rows_are_explained_without_a_python_loop_per_row() -> None:
    rng = np.random.default_rng(1)
    n = 200_000
    shap = rng.normal(size=(n, len(FEATURES)))
    values = rng.poisson(3.0, size=(n, len(FEATURES))).astype(float)
    out = reasons.explain(
        shap,
        values,
        list(FEATURES),
        rng.integers(1, 60, n),
        rng.integers(1, 8, n),
        rng.integers(0, 2, n),
        MEDIANS.iloc[:0],
    )
    assert len(out.top_drivers) == n and out.top_reason.null_count == 0
    sample = json.loads(out.top_drivers[12345].as_py())
    order = np.argsort(-shap[12345])
    assert [d["feature"] for d in sample[:3]] == [FEATURES[j] for j in order[:3] if shap[12345, j] > 0]


def test_cohort_medians_sql_matches_pandas(etl_home) -> None:
    warehouse = open_warehouse(etl_home)
    got = reasons.cohort_medians(warehouse)
    snaps = warehouse.query(
        "SELECT s.*, m.retained, m.team_size FROM feature_snapshots AS s "
        "JOIN instances_modeling AS m ON m.instance = s.instance"
    )
    snaps["band"] = reasons.team_size_band(snaps["team_size"])
    cell = snaps[(snaps["band"] == 2) & (snaps["as_of_day"] == 7) & (snaps["retained"] == 1)]
    row = got[(got["team_size_band"] == 2) & (got["as_of_day"] == 7) & (got["retained"] == 1)].iloc[0]
    assert row["evaluators"] == len(cell) > 30
    for feature in ("w1_agg_active_users", "issues_viewed", "number_of_issues"):
        exact = cell[feature].fillna(0).median()
        assert row[feature] == pytest.approx(exact, rel=0.1, abs=1), feature
        assert row[f"nonzero_{feature}"] == pytest.approx((cell[feature] > 0).mean())
    pooled = got[got["team_size_band"].isna()]
    assert len(pooled) == 14  # days 1..7 x retained / churned


def test_derived_and_categorical_features_read_naturally() -> None:
    features = [
        "edition",
        "active_user_share",
        "issues_per_user",
        "expected_annual_value",
        "as_of_day",
        "mystery_x",
    ]
    shap = np.array([[0.6, 0.5, 0.4, 0.3, 0.2, -0.1]])
    values = np.array([[2.0, 0.25, 1.5, 5151.0, 3.0, 0.123]])  # edition code 2 = enterprise
    out = reasons.explain(
        shap,
        values,
        features,
        np.array([5]),
        np.array([3]),
        np.array([1]),
        MEDIANS.iloc[:0],
        {"edition": ["premium", "standard", "enterprise"]},
    )
    got = json.loads(out.top_drivers[0].as_py())
    assert [d["reason"] for d in got] == [
        "Raises risk: the enterprise edition",
        "Raises risk: 25% of the seats active by day 3",
        "Raises risk: 1.5 issues per active user by day 3",
        "Lowers risk: mystery x: 0.12",
    ]
    assert got[0]["value"] == "enterprise" and got[1]["value"] == 0.25
    with_cohorts = reasons.explain(
        np.array([[0.0, 0.0, 0.0, 0.0, 0.5, 0.0]]),
        values,
        features,
        np.array([5]),
        np.array([3]),
        np.array([1]),
        MEDIANS.assign(as_of_day=3),
    )
    assert with_cohorts.top_reason[0].as_py() == "Raises risk: day 3 of the trial"  # the day is no feature to compare
    one = reasons.explain(
        np.array([[0.0, 0.0, 0.0, 0.7, 0.5, 0.0]]),
        values,
        features,
        np.array([5]),
        np.array([3]),
        np.array([1]),
        MEDIANS.iloc[:0],
        {"edition": ["premium", "standard", "enterprise"]},
    )
    assert [d["reason"] for d in json.loads(one.top_drivers[0].as_py())] == [
        "Raises risk: expected annual value 5151",
        "Raises risk: day 3 of the trial",
    ]


def test_ratio_features_are_compared_with_their_cohort_too(etl_home) -> None:
    medians = reasons.cohort_medians(open_warehouse(etl_home))
    assert {"active_user_share", "user_days_per_day", "issues_per_user", "updates_per_issue"} <= set(medians)
    cell = medians[(medians["team_size_band"] == 2) & (medians["as_of_day"] == 7) & (medians["retained"] == 1)]
    share = float(cell["active_user_share"].iloc[0])
    assert 0 < share <= 1
    out = reasons.explain(
        np.array([[0.5]]),
        np.array([[0.2]]),
        ["active_user_share"],
        np.array([5]),
        np.array([7]),
        np.array([1]),
        medians,
    )
    assert out.top_reason[0].as_py() == (
        f"Raises risk: 20% of the seats active by day 7; retained teams of 4-6 seats had {share:.0%}"
    )
    source = reasons.explain(
        np.array([[0.5]]),
        np.array([[1.0]]),
        ["acquisition_source"],
        np.array([5]),
        np.array([7]),
        np.array([1]),
        medians,
        {"acquisition_source": ["organic", "paid_search"]},
    )
    assert source.top_reason[0].as_py() == "Raises risk: came through paid search"
    assert json.loads(source.top_drivers[0].as_py())[0]["value"] == "paid_search"

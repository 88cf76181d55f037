"""One score explained one way: waterfall, reasons, what-if and cohort chart agree, on the demo's tuned model
(whose derived features and categories the seed's model does not have)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn_core import views
from churn_core.schema import NO_DATA, feature_text
from churn_core.scoring import reasons
from churn_core.warehouse import open_warehouse
from tests.conftest import SCORE_DATES

AS_OF = SCORE_DATES[-1]


@dataclass(frozen=True)
class Tuned:
    wh: Any
    scores: pd.DataFrame  # the newest set
    model: Any  # the model that scored it


@pytest.fixture(scope="module")
def tuned(tuned_home) -> Tuned:
    wh = open_warehouse(tuned_home, read_only=True)
    scores = wh.query("SELECT * FROM evaluator_scores WHERE as_of_date = :d ORDER BY instance", {"d": AS_OF})
    return Tuned(wh, scores, views.load_model(tuned_home, scores["model_version"].iloc[0]))


def explained(tuned: Tuned, instance: int) -> tuple[views.Profile, views.Explanation]:
    profile = views.evaluator_profile(tuned.wh, instance, AS_OF)
    return profile, views.explain_score(profile.current, profile.features, tuned.model.card)


def test_the_waterfall_shows_every_value_the_model_saw_and_adds_up_to_the_risk(tuned):
    assert {"user_days_per_day", "edition"} <= set(tuned.model.pipeline.features_)  # derived and categorical
    for instance in tuned.scores["instance"].iloc[[0, len(tuned.scores) // 2, -1]]:
        profile, e = explained(tuned, int(instance))
        assert set(e.values) == set(tuned.model.pipeline.features_) == set(e.drivers["feature"])
        start = tuned.model.calibrator(np.array([profile.current["shap_base"]]))[0]
        assert e.base_risk == pytest.approx(start, abs=1e-9)  # from the average evaluator's calibrated risk ...
        assert e.base_risk + e.drivers["points"].sum() == pytest.approx(profile.current["churn_probability"], abs=1e-5)
        assert e.risk == pytest.approx(profile.current["churn_probability"], abs=1e-5)
        assert (e.drivers["points"] > 0).tolist() == (e.drivers["shap"] > 0).tolist()
        assert e.drivers["shap"].abs().is_monotonic_decreasing
        for feature, levels in tuned.model.pipeline.categories_.items():  # categories in words, as the score has them
            assert e.values[feature] in levels and e.values[feature] == profile.current[feature]
        # the values are what scoring computed: the same inputs give the same margin
        x = tuned.model.pipeline.transform(pd.DataFrame([e.inputs]))
        margin = tuned.model.booster.inplace_predict(x.to_numpy(np.float32, na_value=np.nan), predict_type="margin")
        assert float(margin[0]) == pytest.approx(profile.current["churn_margin"], abs=1e-4)


def test_without_the_models_card_the_waterfall_still_ends_at_the_scored_risk(tuned):
    profile = views.evaluator_profile(tuned.wh, int(tuned.scores["instance"].iloc[0]), AS_OF)
    e = views.explain_score(profile.current, profile.features, None)
    assert e.risk == profile.current["churn_probability"]
    assert e.base_risk + e.drivers["points"].sum() == pytest.approx(e.risk)
    shown = e.drivers.set_index("feature")["value_text"]
    assert shown["user_days_per_day"] == ""  # not stored: its label alone, never a made-up "no data"
    assert shown["edition"] == profile.current["edition"]


def test_a_missing_value_reads_no_data_in_the_waterfall_the_reasons_and_the_what_if(tuned):
    """updates_per_issue is missing (not 0) without issues: the model routes it down its own branch."""
    feature = "updates_per_issue"
    checked = 0
    for instance in tuned.scores["instance"]:
        profile, e = explained(tuned, int(instance))
        if e.values[feature] is not None:
            continue
        waterfall = e.drivers.set_index("feature")
        assert waterfall.at[feature, "value_text"] == NO_DATA
        same = views.what_if(tuned.model, e.inputs)  # unchanged inputs: the scored risk, the same "no data"
        assert same.probability == pytest.approx(profile.current["churn_probability"], abs=1e-5)
        assert same.drivers.set_index("feature").at[feature, "value_text"] == NO_DATA
        # the scoring job's sentence for this value, as the model saw it
        x = tuned.model.pipeline.transform(pd.DataFrame([e.inputs]))
        shap = np.array([[waterfall.at[feature, "shap"]]])
        out = reasons.explain(shap, x[[feature]].to_numpy(float), [feature], [5], [3], [1], pd.DataFrame())
        (driver,) = json.loads(out.top_drivers[0].as_py())
        assert driver["value"] is None and f"{NO_DATA} on {views.feature_label(feature)}" in driver["reason"]
        for stored in json.loads(profile.current["top_drivers"]):  # and where the job wrote it
            if stored["feature"] == feature:
                assert stored["value"] is None and NO_DATA in stored["reason"]
        checked += 1
        if checked == 3:
            break
    assert checked == 3


def test_a_missing_count_left_empty_in_the_what_if_is_not_a_zero(tuned):
    profile, e = explained(tuned, int(tuned.scores["instance"].iloc[0]))
    empty = views.what_if(tuned.model, {**e.inputs, "number_of_issues": None, "issues_updated": None})
    zero = views.what_if(tuned.model, {**e.inputs, "number_of_issues": 0, "issues_updated": 0})
    assert empty.drivers.set_index("feature").at["number_of_issues", "value_text"] == NO_DATA
    assert zero.drivers.set_index("feature").at["number_of_issues", "value_text"] == "0"
    assert empty.probability != pytest.approx(zero.probability, abs=1e-9)  # the model tells them apart


def test_reasons_and_the_cohort_chart_compare_on_the_same_day_of_trial(tuned):
    every_day = reasons.cohort_medians(tuned.wh)  # what the scoring job's sentences quote
    by_day = {d: views.cohort_medians(tuned.wh, d) for d in range(1, 8)}  # what the profile reads
    for day, medians in by_day.items():
        assert set(medians["as_of_day"]) == {day}
        expected = every_day[every_day["as_of_day"] == day].reset_index(drop=True)
        pd.testing.assert_frame_equal(medians.reset_index(drop=True), expected, check_dtype=False, rtol=1e-6)
    quoted = 0
    for _, row in tuned.scores[tuned.scores["as_of_day"] < 7].iloc[:60].iterrows():
        profile, e = explained(tuned, int(row["instance"]))
        day = int(row["as_of_day"])
        comparison = views.cohort_comparison(by_day[day], e.values, day, row["team_size"])
        table = comparison.table.set_index("feature")
        band = int(reasons.team_size_band(np.array([row["team_size"]]))[0])
        cube = reasons.median_cube(every_day, list(table.index))
        assert comparison.day == day
        assert table["retained"].to_numpy() == pytest.approx(cube[1, band, day], nan_ok=True)
        assert table["churned"].to_numpy() == pytest.approx(cube[0, band, day], nan_ok=True)
        assert not np.allclose(table["retained"], cube[1, band, 7], equal_nan=True)  # not the day-7 medians
        for driver in json.loads(row["top_drivers"]):  # the numbers the sentences quote are the chart's
            f = driver["feature"]
            cohort = "retained" if driver["reason"].startswith("Raises risk") else "churned"
            median = table.at[f, cohort] if f in table.index else np.nan
            if np.isfinite(median) and median > 0:
                typical = reasons._typical_text(median, feature_text(f).kind)
                assert f"{cohort} teams of {comparison.band} had {typical}" in driver["reason"]
                quoted += 1
    assert quoted > 10


def test_what_if_covers_every_feature_with_categories_in_words(tuned):
    inputs = views.what_if_inputs(tuned.model.pipeline)
    columns = {i.column for i in inputs}
    derived = views.derived_features(tuned.model.pipeline)
    for feature in tuned.model.pipeline.features_:  # each feature is an input or follows from inputs
        assert feature in columns or set(derived[feature]) <= columns, feature
    categorical = [i for i in inputs if i.options]
    assert {i.column for i in categorical} == set(tuned.model.pipeline.categories_)
    for item in categorical:
        assert set(item.options) == set(tuned.model.pipeline.categories_[item.column])
        assert not any(o.strip().isdigit() for o in item.options)
        assert "_" not in " ".join(item.option_text(o) for o in item.options) and item.option_text(None) == NO_DATA
    profile, e = explained(tuned, int(tuned.scores["instance"].iloc[0]))
    other = next(o for o in categorical[0].options if o != e.inputs[categorical[0].column])
    moved = views.what_if(tuned.model, {**e.inputs, categorical[0].column: other})
    assert moved.drivers.set_index("feature").at[categorical[0].column, "value_text"] == other.replace("_", " ")


def test_the_drivers_sample_has_every_features_value_as_scored(tuned):
    pipeline = views.model_pipeline(tuned.model.card)
    sample = views.shap_sample(tuned.wh, AS_OF, 300, len(tuned.scores), pipeline)
    for feature in tuned.model.pipeline.features_:  # derived and categorical ones too
        assert sample[f"value_{feature}"].notna().mean() > 0.5, feature
    scored = tuned.wh.run("scoring_instances", {"as_of": AS_OF}).set_index("instance").loc[sample["instance"]]
    x = tuned.model.pipeline.transform(scored.reset_index())
    for feature in tuned.model.pipeline.features_:
        assert np.allclose(sample[f"value_{feature}"], x[feature], equal_nan=True), feature
    categories = views.feature_categories(pipeline)  # the labels of the codes, in words
    assert set(categories) == set(tuned.model.pipeline.categories_)
    assert all("_" not in label for levels in categories.values() for label in levels)
    stored_only = views.shap_sample(tuned.wh, AS_OF, 300, len(tuned.scores))  # without the card: the snapshot's columns
    assert "value_w1_active_users" in stored_only and "value_user_days_per_day" not in stored_only

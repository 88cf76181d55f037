"""dashboard.charts: each figure built from the views' frames (AppTest sees plotly specs base64-encoded)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from churn_core import views
from churn_core.views import FEATURE_LABELS
from churn_core.warehouse import open_warehouse
from dashboard import charts
from tests.conftest import SCORE_DATES

AS_OF = SCORE_DATES[-1]


@pytest.fixture(scope="module")
def wh(scored_home):
    return open_warehouse(scored_home, read_only=True)


@pytest.fixture(scope="module")
def profile(wh):
    # the riskiest evaluator with a recommended channel (the holdout has none)
    top = views.at_risk_page(wh, AS_OF, views.Filters(flags=("worth_saving",)), "risk", 0, 1)["instance"].iloc[0]
    return views.evaluator_profile(wh, int(top), AS_OF)


def test_waterfall_goes_from_the_average_risk_to_the_evaluators_in_points(profile, scored_home):
    card = views.model_card(scored_home, profile.current["model_version"])
    explained = views.explain_score(profile.current, profile.features, card)
    fig = charts.shap_waterfall_chart(explained.drivers, explained.base_risk, explained.risk, top_n=5)
    trace = fig.data[0]
    assert isinstance(trace, go.Waterfall)
    # summed in data order, drawn top to bottom: from the average evaluator's risk to this one's
    assert list(trace.measure) == ["absolute", *["relative"] * 6, "total"]
    assert trace.y[0] == "average evaluator" and trace.y[-1] == "this evaluator"
    assert fig.layout.yaxis.autorange == "reversed"
    assert trace.x[0] + sum(trace.x[1:-1]) == pytest.approx(profile.current["churn_probability"] * 100, abs=1e-3)
    assert trace.text[-1] == f"{profile.current['churn_probability']:.0%} risk"
    assert all(t.endswith(" pts") for t in trace.text[1:-1])
    top = explained.drivers.iloc[0]
    assert f"{top['label']} = {top['value_text']}" in trace.y
    assert "log-odds" not in fig.to_json() and "SHAP" not in fig.to_json()


def test_profile_charts(wh, profile, scored_home):
    history = charts.risk_history_chart(profile.history, scored_home.risk_tier_high, scored_home.risk_tier_medium)
    assert len(history.data[0].x) == len(profile.history)
    card = views.model_card(scored_home, profile.current["model_version"])
    moves = views.shap_changes(profile.current, profile.previous, card)
    changes = charts.shap_change_chart(moves)
    assert len(changes.data[0].y) == 8 if moves["change"].abs().max() > 1e-6 else changes.layout.annotations
    assert "log-odds" not in changes.to_json()
    explained = views.explain_score(profile.current, profile.features, card)
    day = profile.current["as_of_day"]
    medians = views.cohort_medians(wh, day)
    comparison = views.cohort_comparison(medians, explained.values, day, profile.current["team_size"])
    cohorts = charts.feature_vs_cohorts_chart(comparison)
    assert [t.name for t in cohorts.data] == ["retained (median)", "churned (median)", "this evaluator"]
    assert f"on day {day}" in cohorts.layout.title.text and comparison.band in cohorts.layout.title.text
    uplift = charts.channel_uplift_chart(views.channel_uplifts(profile.current), profile.current["recommended_channel"])
    colours = dict(zip(uplift.data[0].y, uplift.data[0].marker.color, strict=True))
    assert colours[profile.current["recommended_channel"]] == charts.HIGHLIGHT
    activity = charts.daily_activity_chart(views.daily_activity(wh, profile.instance))
    assert activity.data[0].name == "active users"
    touches = views.evaluator_touches(wh, profile.instance)
    fig = charts.touches_chart(touches, profile.facts["eval_start_date"])
    assert sum(len(t.x) for t in fig.data) == len(touches)
    assert not fig.layout.shapes
    scored = charts.touches_chart(touches, profile.facts["eval_start_date"], dt.date(2026, 11, 20))
    assert [pd.Timestamp(s.x0) for s in scored.layout.shapes] == [pd.Timestamp("2026-11-20")]
    assert [a.text for a in scored.layout.annotations] == ["scored"]


def test_risk_colours_are_colour_blind_safe_and_labelled():
    assert charts.RISK_COLOURS == {"high": "#D55E00", "medium": "#E69F00", "low": "#0072B2"}
    history = pd.DataFrame({"as_of_date": [dt.date(2026, 11, 25)], "churn_probability": [0.7], "risk_tier": ["high"]})
    fig = charts.risk_history_chart(history, 0.6, 0.3)
    assert {a.text for a in fig.layout.annotations} == {"high risk", "medium risk", "low risk"}


def test_activation_charts(wh):
    curves = views.activation_curves(wh)
    fig = charts.activation_curves_chart(curves)
    headline = [t for t in fig.data if "(last complete)" in t.name]
    assert len(headline) == 1 and headline[0].line.color == charts.HIGHLIGHT and len(fig.data) == 8
    partial = [t for t in fig.data if "partial" in t.name]
    assert partial and all(t.line.dash == "dash" and "days so far" in t.name for t in partial)
    weekly = views.activation_trend(wh)
    trend = charts.activation_trend_chart(weekly, target=0.12)
    assert trend.data[0].error_y.array is not None
    assert list(trend.data[0].marker.pattern.shape) == ["" if c else "/" for c in weekly["complete"]]
    assert [s.y0 for s in trend.layout.shapes] == [12.0] and trend.layout.annotations[0].text == "target 12.0%"
    assert not charts.activation_trend_chart(weekly).layout.shapes
    actions = charts.early_actions_chart(views.early_actions(wh, AS_OF))
    assert len(actions.data) == 3
    by = views.activation_by_segment(wh, "channel", AS_OF - dt.timedelta(60))
    segments = charts.activation_segments_chart(views.segment_curves(by), "channel")
    control = [t for t in segments.data if "control" in t.name]
    assert control and control[0].line.dash == "dash"
    sizes = views.segment_trend(views.activation_by_segment(wh, "company_size_band", AS_OF - dt.timedelta(60)))
    lines = charts.segment_trend_chart(sizes, "company size", 0.1)
    drawn = sizes[sizes["enough"]]["segment"].astype(str).unique().tolist()
    assert [t.name for t in lines.data] == drawn and drawn[:2] == ["1-10", "11-50"]


def test_channel_and_content_charts(wh):
    outcomes = views.channel_outcomes(wh)
    fig = charts.channel_rates_chart(outcomes, "retention", "Retention")
    assert len(fig.data[0].y) == len(outcomes) and fig.data[0].error_x.array is not None
    assert "in-app" in fig.data[0].y and "in_app" not in fig.data[0].y
    content = views.content_effects(wh, AS_OF)
    fig = charts.content_effects_chart(content, top_n=10)
    assert len(fig.data[0].y) == 10 and all("n=" in y for y in fig.data[0].y)
    assert fig.data[0].y[-1].startswith(content["title"].iloc[0])  # the best item on top
    effects = charts.channel_effects_chart(views.channel_uplift(wh, AS_OF))
    assert effects.data[0].error_x.array is not None and "in-app" in effects.data[0].y


def test_driver_charts(wh):
    importance = views.shap_importance(wh, AS_OF)
    assert list(charts.shap_importance_chart(importance).data[0].y)[-1] == importance["label"].iloc[0]
    sample = views.shap_sample(wh, AS_OF, 300)
    features = importance["feature"].tolist()[:5]
    swarm = charts.beeswarm_chart(sample, features, FEATURE_LABELS)
    assert len(swarm.data) == 5 and all(len(t.x) == 300 for t in swarm.data)
    dep = charts.dependence_chart(sample, features[0], features[1], FEATURE_LABELS)
    assert len(dep.data[0].x) == 300
    assert len(charts.stayers_churners_chart(views.feature_by_outcome(wh)).data) == 2


def test_dependence_and_beeswarm_work_for_every_feature_derived_ones_included(tuned_home):
    wh = open_warehouse(tuned_home, read_only=True)
    pipeline = views.model_pipeline(views.model_card(tuned_home, views.score_sets(wh)[0].model_version))
    sample = views.shap_sample(wh, AS_OF, 300, 0, pipeline)
    categories = views.feature_categories(pipeline)
    features = views.shap_importance(wh, AS_OF)["feature"].tolist()  # the page's order: its default first
    assert set(features) == set(pipeline.features_) and {"user_days_per_day", "edition"} <= set(features)
    for feature in features:
        dependence = charts.dependence_chart(sample, feature, features[0], FEATURE_LABELS, categories)
        x = np.asarray(dependence.data[0].x, float)
        assert np.isfinite(x).sum() == sample[f"value_{feature}"].notna().sum() > 150, feature
        swarm = charts.beeswarm_chart(sample, [feature], FEATURE_LABELS, categories)
        assert len(set(swarm.data[0].marker.color)) > 1, feature  # coloured by value, not all one colour
    edition = charts.dependence_chart(sample, "edition", None, FEATURE_LABELS, categories)
    assert list(edition.layout.xaxis.ticktext) == categories["edition"]
    assert set(edition.data[0].customdata) <= set(categories["edition"])


def test_a_missing_value_is_drawn_as_no_data(tuned_home):
    wh = open_warehouse(tuned_home, read_only=True)
    card = views.model_card(tuned_home, views.score_sets(wh)[0].model_version)
    row = wh.query(
        "SELECT s.instance FROM evaluator_scores AS s JOIN instances_w1 AS w ON w.instance = s.instance "
        "WHERE s.as_of_date = :d AND coalesce(w.number_of_issues, 0) = 0 ORDER BY s.instance LIMIT 1",
        {"d": AS_OF},
    )
    profile = views.evaluator_profile(wh, int(row["instance"].iloc[0]), AS_OF)
    explained = views.explain_score(profile.current, profile.features, card)
    fig = charts.shap_waterfall_chart(explained.drivers, explained.base_risk, explained.risk, top_n=40)
    assert "updates per issue = no data" in fig.data[0].y  # no issues: no updates per issue, which is not 0


def test_model_health_charts(wh):
    flagged = views.flagged_by_threshold(views.risk_histogram(wh, AS_OF))
    table = pd.DataFrame({"threshold": [0.2, 0.5, 0.8], "precision": [0.5, 0.7, 0.9], "recall": [0.9, 0.6, 0.2]})
    fig = charts.threshold_chart(table, flagged, 0.5, capacity=100)
    assert [t.name for t in fig.data] == ["precision", "recall", "flagged now"]
    drift = views.drift_history(wh)
    latest = drift[drift["as_of_date"] == drift["as_of_date"].max()]
    assert len(latest) > 10 and len(charts.drift_chart(latest).data[0].y) == len(latest)
    assert len(charts.realised_chart(views.realised_performance(wh)).data) == 4
    cm = charts.confusion_matrix_chart([[50, 10], [5, 35]])
    assert cm.data[0].text[0][0].startswith("50")
    assert charts.curve_chart([0, 0.5, 1], [0, 0.8, 1], "ROC curve", "fpr", "tpr", diagonal="chance").data[1].name
    assert len(charts.lift_chart([1, 2], [3.0, 1.5]).data[0].y) == 2


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.shap_waterfall_chart(pd.DataFrame(columns=views.explanation.DRIVER_COLUMNS), 0.5, 0.5),
        lambda: charts.activation_curves_chart(pd.DataFrame()),
        lambda: charts.content_effects_chart(pd.DataFrame(columns=["title", "label", "n_sent", "lift"])),
        lambda: charts.drift_chart(pd.DataFrame(columns=["feature", "psi", "status"])),
        lambda: charts.realised_chart(pd.DataFrame()),
        lambda: charts.correlation_chart(pd.DataFrame()),
        lambda: charts.pca_chart([]),
        lambda: charts.confusion_matrix_chart([]),
    ],
)
def test_empty_inputs_give_a_message_not_an_error(build):
    fig = build()
    assert fig.layout.annotations and not fig.data

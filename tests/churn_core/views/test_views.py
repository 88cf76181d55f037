"""churn_core.views: the dashboard's read queries against the small scored warehouse, checked with pandas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn_core import views
from churn_core.schema import CHANNELS
from churn_core.scoring.explain import TreeExplainer
from churn_core.views import Filters
from churn_core.warehouse import open_warehouse
from tests.conftest import HOSTILE_PRODUCT, SCORE_DATES

AS_OF = SCORE_DATES[-1]


@pytest.fixture(scope="module")
def wh(scored_home):
    return open_warehouse(scored_home, read_only=True)


@pytest.fixture(scope="module")
def scores(wh) -> pd.DataFrame:
    return wh.query("SELECT * FROM evaluator_scores WHERE as_of_date = :d", {"d": AS_OF})


def test_filter_values_are_bound_never_written_into_sql():
    hostile = "x') OR 1=1; DROP TABLE evaluator_scores; --"
    f = Filters(
        tiers=("high", hostile),
        products=(hostile,),
        editions=(hostile,),
        regions=(hostile,),
        channels=(hostile, views.NOT_REACHED),
        cohort_weeks=(dt.date(2026, 11, 23),),
        team_size=(2, 9),
        day_of_trial=(1, 3),
        search="12a3'--",
        flags=("worth_saving", hostile),
    )
    sql, params = views.filter_conditions(f)
    assert hostile not in sql and "DROP" not in sql and "12" not in sql
    assert hostile in params.values() and f",{hostile}," in params.values()
    assert params["f_search"] == "123%"
    assert sql.count(":f_") == len(params)


def test_empty_filters_add_nothing():
    assert views.filter_conditions(Filters()) == ("", {})


def test_score_sets_newest_first(wh):
    sets = views.score_sets(wh)
    assert [s.as_of for s in sets] == sorted(SCORE_DATES, reverse=True)
    assert sets[0].scored > 0 and sets[0].model_version


def test_filter_options_list_what_the_set_holds(wh, scores):
    options = views.filter_options(wh, AS_OF)
    assert set(options.products) == set(scores["product"])
    assert HOSTILE_PRODUCT in options.products
    assert options.team_size_max == scores["team_size"].max()
    assert options.channels[-1] == views.NOT_REACHED


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(tiers=("high",)),
        Filters(flags=("worth_saving", "might_swing"), products=("Boards",)),
        Filters(flags=("control_group",)),
        Filters(recommended=("phone", views.NO_CHANNEL)),
        Filters(flags=("worth_saving",), recommended=("chat",)),
        Filters(channels=("email",)),
        Filters(channels=(views.NOT_REACHED,)),
        Filters(team_size=(3, 10), day_of_trial=(2, 5), regions=("EMEA", "APAC")),
        Filters(search="1002"),
    ],
)
def test_page_and_summary_match_pandas(wh, scores, filters):
    expected = scores
    if filters.tiers:
        expected = expected[expected["risk_tier"].isin(filters.tiers)]
    if filters.flags:
        expected = expected[(expected[list(filters.flags)] == 1).any(axis=1)]
    if filters.recommended:
        rec = expected["recommended_channel"]
        expected = expected[rec.isin(filters.recommended) | (rec.isna() & (views.NO_CHANNEL in filters.recommended))]
    if filters.products:
        expected = expected[expected["product"].isin(filters.products)]
    if filters.regions:
        expected = expected[expected["region"].isin(filters.regions)]
    if filters.channels == ("email",):
        expected = expected[expected["channels_reached"].fillna("").str.split(",").map(lambda c: "email" in c)]
    if filters.channels == (views.NOT_REACHED,):
        expected = expected[expected["channels_reached"].fillna("") == ""]
    if filters.team_size:
        expected = expected[expected["team_size"].between(*filters.team_size)]
    if filters.day_of_trial:
        expected = expected[expected["day_of_trial"].between(*filters.day_of_trial)]
    if filters.search:
        expected = expected[expected["instance"].astype(str).str.startswith(filters.search)]
    summary = views.at_risk_summary(wh, AS_OF, filters)
    assert summary.evaluators == len(expected) and isinstance(summary.evaluators, int)
    assert summary.high_risk == (expected["risk_tier"] == "high").sum()
    assert summary.worth_saving == (expected["worth_saving"] == 1).sum()
    assert summary.might_swing == (expected["might_swing"] == 1).sum()
    assert summary.flagged == (expected["predicted_churn"] == 1).sum()
    assert summary.held_out == (expected["control_group"] == 1).sum()
    assert summary.plan_value == pytest.approx(expected.loc[expected["worth_saving"] == 1, "expected_value"].sum())
    assert summary.value_at_risk == pytest.approx(expected["value_at_risk"].sum())
    planned = expected[expected["worth_saving"] == 1]["recommended_channel"].value_counts()
    assert views.plan_by_channel(wh, AS_OF, filters) == {c: int(planned.get(c, 0)) for c in CHANNELS}
    page = views.at_risk_page(wh, AS_OF, filters, "risk", 0, 20)
    top = expected.sort_values(["churn_probability", "instance"], ascending=[False, True]).head(20)
    assert page["instance"].tolist() == top["instance"].tolist()
    assert list(page.columns) == list(views.TABLE_COLUMNS)


def test_paging_and_sorting(wh, scores):
    pages = [views.at_risk_page(wh, AS_OF, Filters(), "value", p, 50) for p in range(3)]
    ids = [i for p in pages for i in p["instance"]]
    expected = scores.sort_values(["expected_value", "instance"], ascending=[False, True]).head(150)
    assert ids == expected["instance"].tolist()
    change = views.at_risk_page(wh, AS_OF, Filters(), "change", 0, 10)
    assert change["probability_change"].iloc[0] == pytest.approx(scores["probability_change"].max())
    odd = views.at_risk_page(wh, AS_OF, Filters(), "x'; DROP TABLE t; --", 0, 5)
    assert (
        odd["instance"].tolist()
        == views.at_risk_page(wh, AS_OF, Filters(), views.DEFAULT_SORT, 0, 5)["instance"].tolist()
    )


def test_the_default_order_is_todays_plan_then_the_value_of_contact(wh, scores):
    listed = pd.concat([views.at_risk_page(wh, AS_OF, Filters(), "plan", p, 100) for p in range(20)])
    assert len(listed) == len(scores)
    planned = int(scores["worth_saving"].sum())
    assert (listed["worth_saving"].iloc[:planned] == 1).all() and (listed["worth_saving"].iloc[planned:] == 0).all()
    assert listed["expected_value"].iloc[:planned].is_monotonic_decreasing
    rest = listed.iloc[planned:]
    assert rest["control_group"].iloc[-int(scores["control_group"].sum()) :].eq(1).all()  # no value: last


def test_export_is_the_filtered_query_without_paging_and_never_mixes_in_the_holdout(wh, scores):
    f = Filters(tiers=("high", "medium"))
    out = views.at_risk_export(
        wh,
        AS_OF,
        f,
        "risk",
        ["risk_tier", "shap_w1_active_users", "uplift_email", "evaluators; DROP TABLE x", "product"],
        100_000,
    )
    assert list(out.columns) == ["instance", "risk_tier", "shap_w1_active_users", "uplift_email", "product"]
    flagged = scores[scores["risk_tier"].isin(["high", "medium"])]
    assert len(out) == (flagged["control_group"] == 0).sum() > 50
    assert not set(out["instance"]) & set(scores.loc[scores["control_group"] == 1, "instance"])
    held = views.at_risk_export(wh, AS_OF, f, "risk", ["control_group"], 100_000, held_out=True)
    assert len(held) == (flagged["control_group"] == 1).sum() > 0 and (held["control_group"] == 1).all()
    assert len(views.at_risk_export(wh, AS_OF, f, "risk", ["product"], 7)) == 7


def test_the_export_file_says_what_it_holds(wh):
    score_set = views.score_sets(wh)[0]
    f = Filters(tiers=("high",), products=(HOSTILE_PRODUCT,))
    export = views.at_risk_file(wh, score_set, f, "plan", ["churn_probability", "shap_w1_active_users"], 10)
    assert list(export.rows.columns) == ["instance", "control_group", "churn_probability", "shap_w1_active_users"]
    about = dict(export.about)
    assert about["Score date"] == AS_OF.isoformat() and about["Model version"] == score_set.model_version
    assert about["Filters"] == f"tier: high; product: {HOSTILE_PRODUCT}" and about["Sort"] == views.SORTS["plan"]
    assert about["List"].endswith("(the measurement holdout is left out)")
    assert export.formats["churn_probability"] == views.column_format("churn_probability")
    assert export.formats["shap_w1_active_users"].header == "Driver: people active so far (log-odds)"
    assert about["Column: Churn risk"].startswith("calibrated probability")


def test_export_columns_are_the_schema_then_shap_and_uplift(wh):
    columns = views.export_columns(wh)
    assert columns[:3] == ["instance", "as_of_date", "day_of_trial"]
    assert "shap_w1_active_users" in columns and "uplift_in_app" in columns and "shap_base" in columns


def test_activation_headline_is_the_last_complete_week_against_the_one_before(wh):
    raw = wh.query("SELECT cohort_week, eval_start_date, day_index, activated FROM activation_daily")
    last_day = (pd.to_datetime(raw["eval_start_date"]) + pd.to_timedelta(raw["day_index"], unit="D")).max()
    day7 = raw[raw["day_index"] == 7].assign(week=pd.to_datetime(raw["cohort_week"]))
    complete = day7[day7["week"] + pd.Timedelta(days=13) <= last_day].groupby("week")["activated"].mean()
    trend = views.activation_trend(wh)
    headline = views.activation_headline(trend)
    assert pd.Timestamp(headline.week) == complete.index[-1] and headline.rate == pytest.approx(complete.iloc[-1])
    assert pd.Timestamp(headline.previous_week) == complete.index[-2]
    assert headline.change == pytest.approx(complete.iloc[-1] - complete.iloc[-2])
    assert headline.evaluators == (day7["week"] == complete.index[-1]).sum()
    partial = trend[~trend["complete"]]
    assert len(partial) and partial["change"].isna().all()  # a week in progress is never compared
    assert (partial["days_so_far"] < 14).all() and (trend.loc[trend["complete"], "days_so_far"] == 14).all()
    assert views.activation_headline(trend[~trend["complete"]]) == views.ActivationHeadline()


def test_segments_come_in_their_natural_order_with_a_weekly_trend(wh):
    by = views.activation_by_segment(wh, "company_size_band", AS_OF - dt.timedelta(weeks=8))
    bands = ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+"]
    assert list(by["segment"].cat.categories) == [b for b in bands if b in set(by["segment"])]
    assert len(by["segment"].cat.categories) >= 5
    weekly = views.segment_trend(by)
    assert weekly["complete"].all() and weekly["rate"].between(0, 1).all()
    changes = views.segment_changes(weekly)
    assert list(changes["segment"]) == list(by["segment"].cat.categories)
    small = changes["evaluators"].lt(views.SEGMENT_MIN_TRIALS) | changes["previous_evaluators"].lt(
        views.SEGMENT_MIN_TRIALS
    )
    assert changes.loc[small, "change"].isna().all()
    big = changes[~small]
    assert np.allclose(big["change"], big["rate"] - big["previous_rate"])
    channels = views.activation_by_segment(wh, "channel", AS_OF - dt.timedelta(weeks=8))
    assert "in-app" in set(channels["segment"]) and "in_app" not in set(channels["segment"])


def test_profile_and_drivers_add_up(wh, scores, scored_home):
    instance = int(scores.sort_values("churn_probability").iloc[-1]["instance"])
    profile = views.evaluator_profile(wh, instance, AS_OF)
    assert profile.facts["instance"] == instance and profile.current["instance"] == instance
    assert profile.previous is not None and profile.previous["as_of_date"] < profile.current["as_of_date"]
    assert len(profile.history) >= 2
    card = views.model_card(scored_home, profile.current["model_version"])
    explained = views.explain_score(profile.current, profile.features, card)
    drivers = explained.drivers
    assert drivers["shap"].abs().is_monotonic_decreasing
    assert profile.current["shap_base"] + drivers["shap"].sum() == pytest.approx(
        profile.current["churn_margin"], abs=1e-3
    )
    assert explained.risk == pytest.approx(profile.current["churn_probability"], abs=1e-5)
    assert {f: explained.values[f] for f in drivers["feature"]} == {
        f: None if profile.features[f] is None else float(profile.features[f]) for f in drivers["feature"]
    }  # the seed's model: its inputs are the snapshot's counts (and the day)
    changes = views.shap_changes(profile.current, profile.previous, card)
    assert len(changes) == len(drivers) and changes["change"].abs().is_monotonic_decreasing
    moved = profile.current["churn_probability"] - profile.previous["churn_probability"]
    assert changes["change"].sum() == pytest.approx(moved, abs=1e-4)  # the points explain the risk's move
    uplifts = views.channel_uplifts(profile.current)
    assert uplifts["uplift"].is_monotonic_decreasing and len(uplifts) == 5


def test_top_drivers_are_read_from_the_scoring_jobs_json(scores):
    row = scores.iloc[0]
    drivers = views.top_drivers(row)
    assert drivers and all(isinstance(d, views.Driver) and d.reason for d in drivers)
    assert drivers[0].reason == row["top_reason"] or drivers[-1].reason == row["top_reason"]
    junk = '[{"feature": "x", "shap": "high"}, 3, {"reason": "r", "shap": -0.5}]'
    assert views.top_drivers({"top_drivers": junk}) == [
        views.Driver("x", None, None, ""),
        views.Driver("", None, -0.5, "r"),
    ]
    assert views.top_drivers({"top_drivers": "not json"}) == [] == views.top_drivers({})


def test_profile_of_an_unknown_instance(wh):
    profile = views.evaluator_profile(wh, 10**11, AS_OF)
    assert profile.facts is None and profile.current is None


def test_activation_views_match_activation_daily(wh):
    curves = views.activation_curves(wh)
    raw = wh.query("SELECT cohort_week, day_index, activated FROM activation_daily")
    expected = raw.groupby(["cohort_week", "day_index"])["activated"].mean()
    got = curves.set_index(["cohort_week", "day_index"])["rate"]
    assert np.allclose(got.sort_index().to_numpy(), expected.sort_index().to_numpy())
    by = views.segment_curves(views.activation_by_segment(wh, "channel", AS_OF - dt.timedelta(weeks=8)))
    assert "no contact (control)" in set(by["segment"])
    assert set(views.activation_by_segment(wh, "bogus", AS_OF)["segment"]) <= {
        "Boards",
        "Docs",
        "Desk",
        HOSTILE_PRODUCT,
    }
    trend = views.activation_trend(wh)
    assert trend["rate"].between(0, 1).all() and (trend["rate_low"] <= trend["rate"]).all()
    actions = views.early_actions(wh, AS_OF)
    assert len(actions) == 12 and actions["reach"].between(0, 1).all()
    assert actions["impact"].dropna().is_monotonic_decreasing


def test_channel_views(wh):
    outcomes = views.channel_outcomes(wh)
    control = outcomes[outcomes["is_control"]].iloc[0]
    raw = wh.query(
        "SELECT count(*) AS n, count(retained) AS r, sum(retained) AS k FROM evaluators WHERE control_group = 1"
    ).iloc[0]
    assert control["evaluators"] == raw["n"] and control["resolved"] == raw["r"]
    assert control["retention"] == pytest.approx(raw["k"] / raw["r"])
    assert (outcomes["retention_low"] <= outcomes["retention"]).all()
    assert "in-app" in set(outcomes["label"]) and control["label"] == views.CONTROL_ARM
    engaged = views.content_lift(wh)
    assert engaged["content_id"].notna().all() and engaged["lift_low"].le(engaged["lift"]).all()
    effects = views.channel_uplift(wh, AS_OF)
    assert set(effects["channel"]) == {"email", "phone", "chat", "push", "in_app"}
    assert set(effects["label"]) == {"email", "phone", "chat", "push", "in-app"}
    assert {"uplift", "ci_low", "ci_high", "n_treated", "n_control", "cost"} <= set(effects.columns)


def test_content_effects_rank_and_filter(wh):
    everything = views.content_effects(wh, AS_OF)
    assert len(everything) == wh.query("SELECT count(*) AS n FROM content").iloc[0]["n"]
    assert everything["lift"].is_monotonic_decreasing and everything["title"].notna().all()
    assert (everything["ci_low"] <= everything["lift"]).all() and (everything["lift"] <= everything["ci_high"]).all()
    middle = int(everything["n_sent"].median())
    some = views.content_effects(wh, AS_OF, min_sent=middle, conservative=True)
    assert 0 < len(some) < len(everything) and (some["n_sent"] >= middle).all()
    assert some["ci_low"].is_monotonic_decreasing
    assert "in-app" in set(everything["label"])


def test_shap_importance_is_computed_in_sql_and_matches_pandas(wh, scores):
    importance = views.shap_importance(wh, AS_OF).set_index("feature")
    for feature in ("w1_active_users", "number_of_issues"):
        assert importance.loc[feature, "mean_abs_shap"] == pytest.approx(scores[f"shap_{feature}"].abs().mean())
    sample = views.shap_sample(wh, AS_OF, 100)
    assert len(sample) == 100 and sample["value_w1_active_users"].notna().all()
    assert views.shap_sample(wh, AS_OF, 100)["instance"].tolist() == sample["instance"].tolist()
    thinned = views.shap_sample(wh, AS_OF, 50, scored=len(scores))
    assert 0 < len(thinned) <= 50 and set(thinned["instance"]) <= set(scores["instance"])


def test_threshold_counts(wh, scores):
    flagged = views.flagged_by_threshold(views.risk_histogram(wh, AS_OF))
    assert len(flagged) == 101 and flagged["flagged"].is_monotonic_decreasing
    at_half = flagged[flagged["threshold"] == 0.5]["flagged"].iloc[0]
    assert at_half == (np.floor(scores["churn_probability"] * 100) >= 50).sum()
    cut = views.capacity_threshold(flagged, 100)
    assert flagged[flagged["threshold"] == cut]["flagged"].iloc[0] <= 100


def test_realised_performance_matches_sklearn(wh):
    perf = views.realised_performance(wh).set_index("as_of_date")
    joined = wh.query(
        "SELECT s.as_of_date, s.churn_probability, s.predicted_churn, e.retained FROM evaluator_scores s "
        "JOIN evaluators e ON e.instance = s.instance WHERE e.retained IS NOT NULL"
    )
    first = joined[joined["as_of_date"] == joined["as_of_date"].min()]
    row = perf.loc[first["as_of_date"].iloc[0]]
    assert row["resolved"] == len(first)
    assert row["auc"] == pytest.approx(roc_auc_score(1 - first["retained"], first["churn_probability"]))
    tp = ((first["predicted_churn"] == 1) & (first["retained"] == 0)).sum()
    assert row["precision"] == pytest.approx(tp / first["predicted_churn"].sum())


def test_feature_by_outcome_and_freshness(wh, scored_home):
    by = views.feature_by_outcome(wh)
    assert len(by) == 16 and by["retained_n"].iloc[0] > 0
    raw = wh.query("SELECT avg(w1_active_users) AS m FROM instances_modeling WHERE retained = 1").iloc[0, 0]
    assert by.set_index("feature").loc["w1_active_users", "retained_mean"] == pytest.approx(raw)
    fresh = views.freshness(wh)
    assert fresh.last_usage_date == AS_OF and fresh.evaluators == len(wh.query("SELECT instance FROM evaluators"))
    assert len(views.data_quality(wh)) > 10
    assert views.job_history(wh, scored_home) is None or "job" in views.job_history(wh, scored_home).columns


def test_render_sql_refuses_unknown_markers():
    with pytest.raises(ValueError):
        views.render_sql("at_risk_summary", columns=", x")


def test_what_if_reproduces_the_score_and_moves_with_the_features(wh, scores, scored_home, model_version):
    model = views.load_model(scored_home, model_version)
    assert model is not None and model.version == model_version
    explainer = TreeExplainer(model.booster)
    for _, row in scores.sort_values("churn_probability").iloc[[0, len(scores) // 2, -1]].iterrows():
        profile = views.evaluator_profile(wh, int(row["instance"]), AS_OF)
        inputs = views.explain_score(profile.current, profile.features, model.card).inputs
        same = views.what_if(model, inputs)
        assert same.probability == pytest.approx(profile.current["churn_probability"], abs=1e-5)
        x = model.transform(pd.DataFrame([inputs]))
        assert np.allclose(views.shap_row(model, x), explainer.shap_values(x), atol=1e-4)
        assert same.base_risk + same.drivers["points"].sum() == pytest.approx(same.probability, abs=1e-9)
        busier = {
            **inputs,
            **{
                f: 50 * (inputs[f] or 0) + 50
                for f in ("w1_active_users", "number_of_issues", "issues_viewed", "issues_updated")
            },
        }
        moved = views.what_if(model, busier)
        assert moved.probability != pytest.approx(same.probability, abs=1e-9)
    assert views.what_if(None, {}) is None


def test_model_card_accessors_read_the_real_card(scored_home, model_version):
    card = views.model_card(scored_home, model_version)
    assert card.version == model_version
    assert views.model_card(scored_home, "v9999").version == model_version  # falls back to the champion
    summary = views.card_summary(card)
    assert summary["threshold"] == pytest.approx(card.threshold) and summary["profile"] == "seed"
    assert {"ROC AUC", "Precision", "Recall", "F1", "F2", "Accuracy"} <= set(views.card_metrics(card))
    assert len(views.card_confusion(card)) == 2
    assert {"retained", "churned"} <= set(views.card_report(card)["class"])
    curves = views.card_curves(card)
    assert all(len(curves[k]) > 2 for k in ("roc", "pr", "gains", "calibration"))
    assert len(views.card_lift(card)) == 10 and len(views.card_threshold_table(card)) > 10
    assert len(views.card_by_day(card)) == 7 and not views.card_cohorts(card).empty
    study = views.feature_study(card)
    assert study.correlation.shape[0] == study.correlation.shape[1] > 10
    assert study.explained_variance and sum(study.explained_variance) == pytest.approx(1, abs=0.01)
    assert views.metrics_at(views.card_threshold_table(card), 0.5)["threshold"] == pytest.approx(0.5)


def test_cards_are_read_without_the_model_stack_and_checked(scored_home, model_version, tmp_path):
    import shutil

    from churn_core.model.registry import Registry

    card = views.model_card(scored_home)  # read by churn_core.model.registry_files, without XGBoost
    assert card is not None and card == Registry(scored_home).model_card("champion")
    assert views.champion_version(scored_home) == model_version
    copy = tmp_path / "home"
    shutil.copytree(scored_home.home / "models", copy / "models")
    card = copy / "models" / model_version / "card.json"
    card.write_text(card.read_text().replace('"seed"', '"tampered"'))
    changed = scored_home.with_overrides(home=copy)
    assert views.model_card(changed, model_version) is None  # checksum mismatch
    assert views.model_card(changed) is None  # the registry refuses it too


def test_no_registry_means_no_model(empty_home):
    assert views.load_model(empty_home) is None and views.model_card(empty_home) is None
    assert views.champion_version(empty_home) is None

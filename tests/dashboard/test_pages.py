"""Every page through streamlit.testing (AppTest) on the small scored warehouse and on empty ones."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from churn_core import views
from churn_core.scoring import integrity
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse
from dashboard import data, ui
from tests.conftest import DEMO_END, HOSTILE_PRODUCT, SCORE_DATES, make_settings

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = ("at_risk", "profile", "channels", "activation", "drivers", "model_health")
GENERIC_ERROR = "Something went wrong"


def run_page(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    page: str = "at_risk",
    params: dict[str, str | list[str]] | None = None,
    env: dict[str, str] | None = None,
) -> AppTest:
    for key in [k for k in os.environ if k.startswith("CHURN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CHURN_HOME", str(settings.home))
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=120)
    if page != "at_risk":
        at.switch_page(f"../pages/{page}.py")
    if params:
        at.query_params.update(params)
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert not errors, errors


def url(at: AppTest, key: str) -> list[str]:
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def table(at: AppTest):
    return at.dataframe[0].value


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_scored_warehouse(monkeypatch, scored_home, model_version, page):
    params = {"instance": str(top_instance(scored_home))} if page == "profile" else None
    at = run_page(monkeypatch, scored_home, page, params)
    assert_clean(at)
    assert at.title, "each page has a title"
    captions = " ".join(c.value for c in at.caption)
    assert f"{SCORE_DATES[-1]:%d %b %Y}" in captions and f"model **{model_version}**" in captions
    assert (
        len(at.get("plotly_chart"))
        >= {"at_risk": 0, "profile": 7, "channels": 5, "activation": 4, "drivers": 5, "model_health": 8}[page]
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_which_command_creates_data_on_a_fresh_home(monkeypatch, empty_home, page):
    at = run_page(monkeypatch, empty_home, page)
    assert_clean(at)
    assert any("`churn demo`" in i.value for i in at.info)
    assert not at.dataframe


@pytest.mark.parametrize(
    "page,expected",
    [("at_risk", "`churn score`"), ("drivers", "`churn score`"), ("model_health", "`churn score`")],
)
def test_pages_needing_scores_say_so_before_the_first_score(monkeypatch, etl_home, page, expected):
    at = run_page(monkeypatch, etl_home, page)
    assert_clean(at)
    assert any(expected in i.value for i in at.info)


@pytest.mark.parametrize("page", ["activation", "channels"])
def test_activation_and_channels_work_before_the_first_score(monkeypatch, etl_home, page):
    at = run_page(monkeypatch, etl_home, page)
    assert_clean(at)
    assert len(at.get("plotly_chart")) >= 3


def test_at_risk_table_pages_sorts_and_shows_kpis(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home)
    assert_clean(at)
    rows = table(at)
    assert len(rows) == scored_home.page_size
    assert (rows["worth_saving"] == 1).all() and rows["expected_value"].is_monotonic_decreasing  # today's plan first
    assert {m.label for m in at.metric} == {
        "Evaluators in trial",
        "Predicted to leave",
        "High risk",
        "Held out",
        "Week-1 activation",
    }
    at.selectbox(key="f_sort").set_value("change").run()
    changes = table(at)["probability_change"].dropna()
    assert changes.is_monotonic_decreasing
    first = table(at)["instance"].tolist()
    at.number_input(key="f_page").set_value(2).run()
    assert set(table(at)["instance"]).isdisjoint(first)
    assert url(at, "page") == ["2"] and url(at, "sort") == ["change"]


def test_todays_list_for_a_channel_in_one_click(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home)
    at.button_group(key="f_list").set_value("chat").run()
    assert_clean(at)
    rows = table(at)
    planned = views.plan_by_channel(open_warehouse(scored_home, read_only=True), SCORE_DATES[-1])["chat"]
    assert len(rows) == min(planned, scored_home.page_size) > 0
    assert set(rows["recommended_channel"]) == {"chat"} and rows["plan_rank"].tolist() == list(range(1, len(rows) + 1))
    assert url(at, "list") == ["chat"] and not url(at, "flag") and not url(at, "rec")
    assert any(f"Today's list for chat: {planned:,} evaluators" in m.value for m in at.markdown)
    at.button_group(key="f_list").set_value(None).run()  # clicked again: everyone
    assert not url(at, "list") and len(table(at)) == scored_home.page_size


def test_the_holdout_is_counted_and_named(monkeypatch, scored_home):
    held = views.at_risk_summary(open_warehouse(scored_home, read_only=True), SCORE_DATES[-1]).held_out
    at = run_page(monkeypatch, scored_home, params={"flag": "control_group"})
    assert_clean(at)
    assert next(m.value for m in at.metric if m.label == "Held out") == f"{held:,}"
    assert any(f"{held:,} held out** to measure what contact achieves" in c.value for c in at.caption)
    rows = table(at)
    assert set(rows["segment"]) == {"held out"} and rows["recommended_channel"].isna().all()


def test_change_column_shows_once_there_is_a_previous_score(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home)
    assert "probability_change" in at.dataframe[0].proto.column_order
    at.session_state["score_set_choice"] = SCORE_DATES[0]  # the first set: nobody has a previous score
    at.run()
    assert_clean(at)
    assert table(at)["probability_change"].isna().all()
    assert "probability_change" not in at.dataframe[0].proto.column_order
    assert "top_reason" in at.dataframe[0].proto.column_order


def test_prepare_fills_what_the_home_page_reads(monkeypatch, scored_home):
    """dashboard/serve.py prepares the home page while the server starts: its first visitor runs no query."""
    for key in [k for k in os.environ if k.startswith("CHURN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CHURN_HOME", str(scored_home.home))
    st.cache_data.clear()
    data.prepare(data.settings())

    def refuse(*args, **kwargs):
        raise AssertionError("the home page ran a query that prepare() should have cached")

    for name in (
        "score_sets",
        "filter_options",
        "at_risk_summary",
        "at_risk_page",
        "plan_by_channel",
        "activation_trend",
    ):
        monkeypatch.setattr(views, name, refuse)
    monkeypatch.setattr(integrity, "check_score_set", refuse)
    at = run_page(monkeypatch, scored_home)
    assert_clean(at)
    assert len(table(at)) == scored_home.page_size and len(at.metric) == 5


def test_filters_change_the_table_and_the_url(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home)
    everyone = views.at_risk_summary(open_warehouse(scored_home, read_only=True), SCORE_DATES[-1]).evaluators
    at.button_group(key="f_tiers").set_value(["medium"]).run()
    assert_clean(at)
    rows = table(at)
    assert len(rows) and set(rows["risk_tier"]) == {"Medium"}
    assert url(at, "tier") == ["medium"]
    assert f"of **{everyone:,}**" not in " ".join(c.value for c in at.caption)
    assert not at.multiselect  # the "more filters" are drawn only once their panel is opened
    at.session_state["f_more"] = True
    at.run().multiselect(key="f_products").set_value(["Docs"]).run()
    assert set(table(at)["product"]) == {"Docs"} and url(at, "product") == ["Docs"]
    at.text_input(key="f_search").set_value("1001").run()
    assert all(str(i).startswith("1001") for i in table(at)["instance"])


def test_closing_more_filters_keeps_them(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home)
    at.session_state["f_more"] = True
    at.run().multiselect(key="f_products").set_value(["Docs"]).run()
    at.slider(key="f_day").set_value((2, 5)).run()
    at.session_state["f_more"] = False
    at.run()
    assert not at.multiselect and not at.slider
    for tiers in (["high", "medium"], ["high"]):  # on later runs too: widgets not drawn keep their values
        at.button_group(key="f_tiers").set_value(tiers).run()
        assert_clean(at)
        rows = table(at)
        assert set(rows["product"]) == {"Docs"} and rows["day_of_trial"].between(2, 5).all()
        assert url(at, "product") == ["Docs"] and url(at, "day") == ["2-5"]
    assert "2 active" in at.expander[0].label
    at.session_state["f_more"] = True
    at.run()
    assert at.multiselect(key="f_products").value == ["Docs"] and at.slider(key="f_day").value == (2, 5)


def test_a_shared_url_restores_the_view(monkeypatch, scored_home):
    at = run_page(
        monkeypatch,
        scored_home,
        params={"tier": ["high", "medium"], "product": "Boards", "sort": "value", "day": "2-7"},
    )
    assert_clean(at)
    rows = table(at)
    assert set(rows["risk_tier"]) <= {"High", "Medium"} and set(rows["product"]) == {"Boards"}
    assert rows["day_of_trial"].between(2, 7).all()
    assert rows["expected_value"].is_monotonic_decreasing
    assert at.button_group(key="f_tiers").value == ["high", "medium"]


@pytest.mark.parametrize(
    "params",
    [
        {"tier": "<script>alert(1)</script>", "page": "-1", "team": "abc", "week": "2020-13-45"},
        {"q": "1; DROP TABLE evaluator_scores", "sort": "risk' OR 1=1 --", "day": "7-2", "flag": "x" * 5000},
        {"product": ["Boards"] * 500, "page": "99999999999", "team": "0-99999999", "channel": "%00"},
        {"instance": "../../etc/passwd", "region": "", "edition": "standard' --"},
    ],
)
def test_hostile_or_malformed_query_parameters_are_ignored(monkeypatch, scored_home, params):
    at = run_page(monkeypatch, scored_home, params=params)
    assert_clean(at)
    assert len(table(at)) > 0


def test_hostile_product_shows_as_text(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home, params={"product": HOSTILE_PRODUCT})
    assert_clean(at)
    assert set(table(at)["product"]) == {HOSTILE_PRODUCT}


def top_instance(settings: Settings) -> int:
    rows = views.at_risk_page(open_warehouse(settings, read_only=True), SCORE_DATES[-1], views.Filters(), "risk", 0, 1)
    return int(rows["instance"].iloc[0])


def test_profile_shows_the_selected_evaluators_drivers(monkeypatch, scored_home):
    instance = top_instance(scored_home)
    at = run_page(monkeypatch, scored_home, "profile", {"instance": str(instance)})
    assert_clean(at)
    assert at.number_input(key="profile_instance").value == instance
    score = views.evaluator_profile(open_warehouse(scored_home, read_only=True), instance, SCORE_DATES[-1]).current
    assert {m.label: m.value for m in at.metric}["Churn risk"] == f"{score['churn_probability']:.0%}"
    text = " ".join(m.value for m in at.markdown)
    assert views.top_drivers(score)[0].reason in text
    assert len(at.get("plotly_chart")) >= 7


def test_profile_handles_unknown_and_malformed_instances(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home, "profile", {"instance": "999999999"})
    assert_clean(at)
    assert any("no evaluator with instance 999999999" in w.value for w in at.warning)
    at = run_page(monkeypatch, scored_home, "profile", {"instance": "12abc"})
    assert_clean(at)
    assert any("Choose an evaluator" in i.value for i in at.info)


def test_profile_of_an_evaluator_not_in_the_set(monkeypatch, scored_home):
    resolved = (
        open_warehouse(scored_home, read_only=True)
        .query("SELECT min(instance) AS i FROM evaluators WHERE retained IS NOT NULL")
        .iloc[0, 0]
    )
    at = run_page(monkeypatch, scored_home, "profile", {"instance": str(resolved)})
    assert_clean(at)
    assert any("is not in the score set" in i.value for i in at.info)


def test_a_broken_warehouse_gives_a_readable_message(monkeypatch, tmp_path):
    settings = make_settings(tmp_path)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.write_bytes(b"this is not a duckdb file" * 100)
    at = run_page(monkeypatch, settings)
    assert not at.exception
    assert at.error and "warehouse" in at.error[0].value.lower()
    assert GENERIC_ERROR not in at.error[0].value


def test_score_set_picker_switches_sets(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home)
    at.selectbox(key="score_set_choice").set_value(SCORE_DATES[1]).run()
    assert_clean(at)
    assert f"{SCORE_DATES[1]:%d %b %Y}" in at.caption[0].value


def test_what_if_changes_the_risk(monkeypatch, scored_home):
    instance = top_instance(scored_home)
    at = run_page(monkeypatch, scored_home, "profile", {"instance": str(instance)})
    assert "Risk with these numbers" not in {m.label for m in at.metric}
    at.toggle(key="whatif_on").set_value(True).run()
    before = {m.label: m.value for m in at.metric}["Risk with these numbers"]
    assert before == {m.label: m.value for m in at.metric}["Churn risk"]  # nothing changed: the scored risk
    usage = [f"whatif_{instance}_{f}" for f in ("w1_active_users", "number_of_issues", "issues_viewed")]
    inputs = [n for n in at.number_input if n.key in usage]
    assert len(inputs) == 3
    for box in inputs:
        box.set_value(int(box.value or 0) * 20 + 40)
    at.run()
    assert_clean(at)
    after = {m.label: m.value for m in at.metric}["Risk with these numbers"]
    assert after != before


def page_text(at: AppTest) -> str:
    """Every word a page shows: text, metrics, widget labels and choices, and its charts' specs."""
    parts = [e.value for e in (*at.title, *at.subheader, *at.markdown, *at.caption, *at.info, *at.warning)]
    parts += [f"{m.label} {m.value} {m.proto.help}" for m in at.metric]
    parts += [f"{w.label} {w.proto.help}" for w in (*at.number_input, *at.selectbox, *at.toggle)]
    parts += [" ".join(map(str, box.options)) for box in at.selectbox]
    parts += [chart.proto.spec for chart in at.get("plotly_chart")]
    return "\n".join(parts)


def test_the_profile_speaks_in_risk_points_and_words_never_log_odds(monkeypatch, tuned_home):
    instance = top_instance(tuned_home)
    at = run_page(monkeypatch, tuned_home, "profile", {"instance": str(instance)})
    at.toggle(key="whatif_on").set_value(True).run()
    assert_clean(at)
    text = page_text(at)
    assert "log-odds" not in text.lower() and "SHAP" not in text
    assert " pts" in text and "What drives this risk" in text
    # reasons go under the way they push, each saying so
    blocks = {b.split("\n")[0]: b.split("\n")[1:] for b in (m.value for m in at.markdown) if b.startswith("**")}
    assert blocks["**What raises the risk**"]
    assert all(line.startswith("- Raises risk: ") for line in blocks["**What raises the risk**"])
    assert all(line.startswith("- Lowers risk: ") for line in blocks.get("**Working in their favour**", []))
    # the what-if offers every input, categories in words
    model = views.load_model(tuned_home)
    keys = {w.key for w in (*at.number_input, *at.selectbox) if w.key and w.key.startswith("whatif_")}
    assert keys == {f"whatif_{instance}_{c}" for c in model.pipeline.input_columns_}
    edition = at.selectbox(key=f"whatif_{instance}_edition")
    assert edition.label == "Edition" and set(edition.options) == {"enterprise", "premium", "standard", "no data"}
    source = at.selectbox(key=f"whatif_{instance}_acquisition_source")
    assert all(not option.isdigit() and "_" not in option for option in source.options)
    edition.set_value(next(o for o in model.pipeline.categories_["edition"] if o != edition.value)).run()
    assert_clean(at)
    assert "Risk with these numbers" in {m.label for m in at.metric}


def test_the_drivers_page_draws_every_features_dependence(monkeypatch, tuned_home):
    at = run_page(monkeypatch, tuned_home, "drivers")
    assert_clean(at)
    features = at.selectbox(key="dep_feature").options
    assert "active users a day on average" in features and "edition" in features
    for feature in (features[0], "active users a day on average", "edition", "seats declared"):
        at.selectbox(key="dep_feature").select_index(features.index(feature)).run()
        assert_clean(at)
        specs = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
        assert "No values of" not in specs and "No sampled scores" not in specs, feature


def test_stale_scores_raise_a_banner_on_every_page(monkeypatch, scored_home):
    for page in ("at_risk", "channels", "model_health"):
        at = run_page(monkeypatch, scored_home, page, env={"CHURN_FRESHNESS_HOURS": "0"})
        assert any("Scores are stale" in w.value for w in at.warning), page
    at = run_page(monkeypatch, scored_home, "at_risk", env={"CHURN_FRESHNESS_HOURS": "1000000"})
    assert not any("Scores are stale" in w.value for w in at.warning)


def test_late_telemetry_raises_a_banner_on_every_page(monkeypatch, scored_home):
    monkeypatch.setattr(ui, "local_today", lambda settings: DEMO_END + dt.timedelta(days=9))
    for page in PAGES:
        params = {"instance": str(top_instance(scored_home))} if page == "profile" else None
        at = run_page(monkeypatch, scored_home, page, params)
        assert_clean(at)
        late = [w.value for w in at.warning if "Telemetry has stopped arriving" in w.value]
        assert late, page
        assert f"{DEMO_END:%d %b %Y}, 9 days before today" in late[0] and "stale_after_days = 2" in late[0]
    monkeypatch.setattr(ui, "local_today", lambda settings: DEMO_END + dt.timedelta(days=2))
    at = run_page(monkeypatch, scored_home, "activation")
    assert not any("Telemetry has stopped arriving" in w.value for w in at.warning)


def test_the_home_tile_and_the_activation_page_tell_the_same_headline(monkeypatch, scored_home):
    expected = views.activation_headline(views.activation_trend(open_warehouse(scored_home, read_only=True)))
    assert expected.week and expected.previous_week
    shown = {}
    for page in ("at_risk", "activation"):
        at = run_page(monkeypatch, scored_home, page)
        assert_clean(at)
        [tile] = [m for m in at.metric if m.label == "Week-1 activation"]
        shown[page] = (tile.value, tile.delta, tile.proto.delta_description, tile.help)
    assert shown["at_risk"] == shown["activation"]
    value, delta, compared, hint = shown["activation"]
    assert value == f"{expected.rate:.1%}" and delta == f"{expected.change * 100:+.1f} pts"
    assert compared == f"{expected.week:%d %b} vs {expected.previous_week:%d %b}"
    assert f"{expected.activated:,} of {expected.evaluators:,}" in hint


def test_activation_breakdown_and_target_live_in_the_url(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home, "activation", {"by": "company_size_band", "target": "12.5"})
    assert_clean(at)
    assert at.button_group(key="activation_dimension").value == "company_size_band"
    assert at.number_input(key="activation_target").value == 12.5
    table = at.dataframe[0].value
    assert list(table["segment"])[:3] == ["1-10", "11-50", "51-200"]
    target = {m.label: m.value for m in at.metric}["Target"]
    assert target == "12.5%"
    at.button_group(key="activation_dimension").set_value("region").run()
    at.number_input(key="activation_target").set_value(0.0).run()
    assert_clean(at)
    assert url(at, "by") == ["region"] and url(at, "target") == []
    assert {m.label: m.value for m in at.metric}["Target"] == "none set"
    at = run_page(monkeypatch, scored_home, "activation", {"by": "nonsense", "target": "abc"})
    assert_clean(at)
    assert at.button_group(key="activation_dimension").value == "product" and url(at, "by") == []


def test_channels_lead_with_adjusted_effects_and_the_slider_filters(monkeypatch, scored_home):
    at = run_page(monkeypatch, scored_home, "channels")
    assert_clean(at)
    headers = [h.value for h in at.subheader]
    assert headers.index("What each channel adds to retention") < headers.index("Raw comparisons: not effects")
    sizes = views.content_effects(open_warehouse(scored_home, read_only=True), SCORE_DATES[-1])["n_sent"]
    slider = at.slider(key="content_min_n")
    assert (slider.min, slider.max, slider.value) == (sizes.min(), sizes.max(), sizes.min())
    content = at.dataframe[1].value
    assert len(content) == len(sizes)
    middle = int(sizes.median())
    slider.set_value(middle).run()
    assert_clean(at)
    fewer = at.dataframe[1].value
    assert 0 < len(fewer) < len(sizes) and (fewer["n_sent"] >= middle).all()
    shown = [frame.value[list(frame.proto.column_order)] for frame in at.dataframe]  # the columns on screen
    cells = {str(v) for frame in shown for c in frame.columns if frame[c].dtype.kind not in "iufb" for v in frame[c]}
    assert "in-app" in cells and "in_app" not in cells and "None" not in cells and "nan" not in cells
    raw = shown[2].set_index("label")
    assert raw.loc[views.CONTROL_ARM, "response"] == "–" and raw.loc[views.CONTROL_ARM, "delivered"] == "–"

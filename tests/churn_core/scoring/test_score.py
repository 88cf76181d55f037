"""The scoring job end to end on the small demo warehouse: the score set, its side tables, history,
bad input, the CLI, and a job killed at random moments."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from typer.testing import CliRunner

from churn_core import views
from churn_core.cli import app
from churn_core.data.etl import run_etl
from churn_core.model.card import DataSummary, ModelCard
from churn_core.model.features import SEED_NUMERIC, FeaturePipeline
from churn_core.model.registry import Registry
from churn_core.schema import CHANNELS, EVALUATOR_SCORES
from churn_core.scoring import integrity, targeting
from churn_core.scoring import score as scoring
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse
from tests.conftest import DEMO_END, make_settings

PARAMS = {"objective": "binary:logistic", "eta": 0.15, "max_depth": 3, "nthread": 1, "seed": 1}


@dataclass
class StandIn:
    """A registry model's scoring surface (churn_core.model.registry.LoadedModel) without training a champion."""

    version: str
    booster: xgb.Booster
    pipeline: FeaturePipeline
    threshold: float = 0.5

    @property
    def card(self) -> ModelCard:
        return ModelCard(features=list(self.pipeline.features_), threshold=self.threshold)

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.asarray(margin, np.float64)))

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        x = self.pipeline.transform(df).to_numpy(np.float32, na_value=np.nan)
        return self.calibrate(self.booster.inplace_predict(x, predict_type="margin"))


def train_stand_in(settings: Settings, version: str = "v9001") -> StandIn:
    training = open_warehouse(settings).run("training_snapshots")
    pipeline = FeaturePipeline(numeric=(*SEED_NUMERIC, "team_size"), categorical=("edition",), ratios=()).fit(training)
    x = pipeline.transform(training)
    data = xgb.DMatrix(x, label=training["churned"].to_numpy(), feature_names=pipeline.features_)
    return StandIn(version, xgb.train(PARAMS, data, 40), pipeline)


def copy_home(source: Settings, target: Path, **overrides: Any) -> Settings:
    settings = make_settings(target, **overrides)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.warehouse_path, settings.warehouse_path)
    return settings


@pytest.fixture(scope="module")
def model(etl_home) -> StandIn:
    return train_stand_in(etl_home)


@pytest.fixture(scope="module")
def scored(etl_home, model, tmp_path_factory) -> Settings:
    """A copy of the small warehouse scored once as of DEMO_END (treat as read-only)."""
    settings = copy_home(etl_home, tmp_path_factory.mktemp("scored"))
    scoring.score_evaluators(open_warehouse(settings), settings, model)
    return settings


def test_the_score_set_has_the_schema_columns_then_shap_then_uplift(scored, model) -> None:
    scores = open_warehouse(scored).query("SELECT * FROM evaluator_scores ORDER BY instance")
    features = list(model.pipeline.features_)
    assert list(scores.columns) == [
        *EVALUATOR_SCORES.names,
        *(f"shap_{f}" for f in features),
        *(f"uplift_{c}" for c in CHANNELS),
    ]
    w1 = open_warehouse(scored).query("SELECT * FROM instances_w1 ORDER BY instance")
    assert scores["instance"].tolist() == w1["instance"].tolist() and len(scores) > 300
    assert (scores["as_of_date"] == pd.Timestamp(DEMO_END)).all()
    assert (scores["model_version"] == model.version).all()
    assert scores[["day_of_trial", "as_of_day"]].equals(w1[["day_of_trial", "as_of_day"]])


def test_probability_margin_and_shap_agree_with_the_model(scored, model) -> None:
    scores = open_warehouse(scored).query("SELECT * FROM evaluator_scores ORDER BY instance")
    w1 = open_warehouse(scored).query("SELECT * FROM instances_w1 ORDER BY instance")
    np.testing.assert_allclose(scores["churn_probability"], model.predict_proba(w1), rtol=1e-6)
    shap = scores[[f"shap_{f}" for f in model.pipeline.features_]].sum(axis=1) + scores["shap_base"]
    np.testing.assert_allclose(shap, scores["churn_margin"], atol=1e-4)
    assert (scores["predicted_churn"] == (scores["churn_probability"] >= model.threshold)).all()
    ranked = scores.sort_values("risk_rank")
    assert ranked["risk_rank"].tolist() == list(range(1, len(scores) + 1))
    assert ranked["churn_probability"].is_monotonic_decreasing
    tier = np.where(
        scores["churn_probability"] >= max(0.6, model.threshold),
        "high",
        np.where(scores["churn_probability"] >= model.threshold, "medium", "low"),
    )
    assert (scores["risk_tier"] == tier).all()
    np.testing.assert_allclose(scores["value_at_risk"], scores["churn_probability"] * scores["expected_annual_value"])


def test_reached_channels_and_activation_come_from_the_raw_tables(scored, small_tables) -> None:
    scores = open_warehouse(scored).query("SELECT * FROM evaluator_scores").set_index("instance")
    touches = small_tables["engagements"]
    sent = pd.to_datetime(touches["sent_at"].astype("datetime64[us]"))
    touches = touches[(touches["delivered"] == 1) & (sent.dt.normalize() <= pd.Timestamp(DEMO_END))]
    reached = touches.groupby("instance")["channel"].agg(lambda c: ",".join(x for x in CHANNELS if x in set(c)))
    got = scores["channels_reached"]
    expected = reached.reindex(got.index)
    assert got.notna().sum() > 100
    assert (got.fillna("") == expected.fillna("")).all()
    activation = open_warehouse(scored).query("SELECT instance, day_index, activated FROM activation_daily")
    day = scores["day_of_trial"].clip(upper=7)
    key = pd.MultiIndex.from_arrays([scores.index, day])
    want = activation.set_index(["instance", "day_index"])["activated"].reindex(key).to_numpy()
    assert (scores["activated"].to_numpy() == want).all() and 0 < scores["activated"].mean() < 1


def test_targeting_columns_follow_the_rules(scored) -> None:
    s = open_warehouse(scored).query("SELECT * FROM evaluator_scores")
    assert set(s["segment"]) <= set(targeting.SEGMENTS)
    planned = s[s["worth_saving"] == 1]
    assert len(planned) > 50 and (planned["expected_value"] > 0).all()
    for channel, n in planned["recommended_channel"].value_counts().items():
        assert n <= (scored.channel_capacity(channel) or n)
        ranks = planned.loc[planned["recommended_channel"] == channel].sort_values("plan_rank")
        assert ranks["plan_rank"].tolist() == list(range(1, n + 1)) and ranks["expected_value"].is_monotonic_decreasing
    assert s.loc[s["worth_saving"] == 0, "plan_rank"].isna().all()
    assert (s.loc[s["might_swing"] == 1, "predicted_churn"] == 0).all()
    held = s[s["control_group"] == 1]
    assert len(held) > 20 and (held["segment"] == "held out").all()
    assert held["recommended_channel"].isna().all() and held["expected_value"].isna().all()
    assert (held[["worth_saving", "might_swing"]] == 0).all().all()
    assert set(s["recommended_channel"].dropna()) <= set(CHANNELS)
    chosen = s[s["recommended_channel"].notna()]
    best = chosen[[f"uplift_{c}" for c in CHANNELS]].to_numpy()[
        np.arange(len(chosen)), [CHANNELS.index(c) for c in chosen["recommended_channel"]]
    ]
    np.testing.assert_allclose(chosen["channel_uplift"], best)
    assert s.loc[s["recommended_channel"].isna(), "channel_uplift"].isna().all()
    assert s["top_reason"].notna().all()
    drivers = [json.loads(t) for t in s["top_drivers"]]
    assert all(set(d) == {"feature", "value", "shap", "reason"} for row in drivers for d in row)
    assert any("teams of" in d["reason"] for row in drivers for d in row)


def test_side_tables_are_written_with_the_set(scored, model) -> None:
    warehouse = open_warehouse(scored)
    drift = warehouse.query("SELECT * FROM score_drift")
    assert sorted(drift["feature"]) == sorted([*model.pipeline.features_, "churn_probability"])
    assert set(drift["status"]) <= {"ok", "watch", "alert"} and drift["psi"].ge(0).all()
    effects = warehouse.query("SELECT * FROM channel_effects")
    assert list(effects.columns[:8]) == [
        "as_of_date",
        "channel",
        "uplift",
        "ci_low",
        "ci_high",
        "n_treated",
        "n_control",
        "cost",
    ]
    assert sorted(effects["channel"]) == sorted(CHANNELS)
    recommended = warehouse.query("SELECT count(recommended_channel) AS n FROM evaluator_scores").iloc[0, 0]
    assert effects["recommended"].sum() == recommended > 0
    # what the dashboard reads of them
    sets = views.score_sets(warehouse)
    assert [(s.as_of, s.model_version, s.scored) for s in sets] == [
        (DEMO_END, model.version, warehouse.count("evaluator_scores"))
    ]
    assert sets[0].created_at is not None
    history = views.drift_history(warehouse)
    assert len(history) == len(drift) and history["psi"].is_monotonic_decreasing
    shown = views.channel_uplift(warehouse, DEMO_END)
    assert sorted(shown["channel"]) == sorted(CHANNELS) and shown["uplift"].dropna().is_monotonic_decreasing
    reference = warehouse.query("SELECT DISTINCT model_version FROM drift_reference")
    assert reference["model_version"].tolist() == [model.version]


def test_history_previous_scores_replacement_and_retention(etl_home, model, tmp_path) -> None:
    settings = copy_home(etl_home, tmp_path, score_history_sets=2)
    warehouse = open_warehouse(settings)
    dates = [DEMO_END - dt.timedelta(days=14), DEMO_END - dt.timedelta(days=7), DEMO_END]
    for day in dates:
        run_etl(warehouse, settings, day)
        scoring.score_evaluators(warehouse, settings, model, day)
    scoring.score_evaluators(warehouse, settings, model, DEMO_END)  # again: replaces, never duplicates
    for table in scoring.SCORE_TABLES:
        kept = warehouse.query(f"SELECT DISTINCT as_of_date FROM {table} ORDER BY 1")["as_of_date"]
        assert [d.date() for d in kept] == dates[1:], table
    counts = warehouse.query(
        "SELECT as_of_date, count(*) AS n, count(DISTINCT instance) AS k FROM evaluator_scores GROUP BY 1"
    )
    assert (counts["n"] == counts["k"]).all()
    scores = warehouse.query("SELECT * FROM evaluator_scores")
    before = scores[scores["as_of_date"] == pd.Timestamp(dates[1])].set_index("instance")
    now = scores[scores["as_of_date"] == pd.Timestamp(DEMO_END)].set_index("instance")
    both = now.index.intersection(before.index)
    assert len(both) > 50
    np.testing.assert_allclose(now.loc[both, "previous_probability"], before.loc[both, "churn_probability"])
    np.testing.assert_allclose(
        now.loc[both, "probability_change"],
        now.loc[both, "churn_probability"] - before.loc[both, "churn_probability"],
    )
    assert (now.loc[both, "previous_as_of_date"] == pd.Timestamp(dates[1])).all()
    new = now.index.difference(before.index)
    assert now.loc[new, "previous_probability"].isna().all()


class Reordered(StandIn):
    """A model whose card lists its features in another order than its pipeline produces them."""

    @property
    def card(self) -> ModelCard:
        return ModelCard(features=list(reversed(self.pipeline.features_)), threshold=self.threshold)


def _set_state(settings: Settings) -> pd.DataFrame:
    return open_warehouse(settings).query(
        "SELECT s.as_of_date, s.model_version, s.rows, count(e.instance) AS stored, "
        "count(DISTINCT e.model_version) AS versions, max(e.model_version) AS version "
        "FROM score_sets AS s LEFT JOIN evaluator_scores AS e ON e.as_of_date = s.as_of_date "
        "GROUP BY 1, 2, 3 ORDER BY 1"
    )


def test_bad_input_is_refused_and_the_previous_set_stays(scored, model, tmp_path) -> None:
    settings = copy_home(scored, tmp_path)
    warehouse = open_warehouse(settings)
    before = _set_state(settings)
    with pytest.raises(scoring.ScoringError, match="built for 2026-11-26"):
        scoring.score_evaluators(warehouse, settings, model, dt.date(2026, 11, 20))
    lacking = StandIn(
        "v9002",
        model.booster,
        FeaturePipeline.from_dict(
            {**model.pipeline.to_dict(), "features": [*model.pipeline.features_[:-1], "not_a_column"]}
        ),
    )
    with pytest.raises(scoring.FeatureMismatchError, match="not_a_column"):
        scoring.score_evaluators(warehouse, settings, lacking)
    with pytest.raises(scoring.FeatureMismatchError, match="do not match the card"):
        scoring.score_evaluators(warehouse, settings, Reordered("v9003", model.booster, model.pipeline))
    warehouse.execute("DELETE FROM instances_w1")
    with pytest.raises(scoring.ScoringError, match="instances_w1 is empty"):
        scoring.score_evaluators(warehouse, settings, model)
    warehouse.execute("DROP TABLE instances_w1")
    with pytest.raises(scoring.ScoringError, match="churn etl"):
        scoring.score_evaluators(warehouse, settings, model)
    assert _set_state(settings).equals(before)


def test_cli_without_a_champion_says_so_without_a_traceback(scored, tmp_path, monkeypatch) -> None:
    settings = copy_home(scored, tmp_path)
    monkeypatch.setenv("CHURN_HOME", str(settings.home))
    monkeypatch.delenv("CHURN_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["score"])
    assert result.exit_code == 1
    assert "no champion model yet" in result.output and "Traceback" not in result.output
    assert _set_state(settings).equals(_set_state(scored))


def test_cli_scores_with_the_champion_and_refuses_another_date(scored, model, tmp_path, monkeypatch) -> None:
    settings = copy_home(scored, tmp_path)
    monkeypatch.setenv("CHURN_HOME", str(settings.home))
    monkeypatch.delenv("CHURN_CONFIG", raising=False)
    monkeypatch.setattr(Registry, "load", lambda self, version="champion": model)
    before = _set_state(settings)
    refused = CliRunner().invoke(app, ["score", "--as-of", "2026-11-20"])
    assert refused.exit_code == 1 and "churn etl --as-of 2026-11-20" in refused.output
    assert "Traceback" not in refused.output and _set_state(settings).equals(before)
    done = CliRunner().invoke(app, ["score"])
    assert done.exit_code == 0, done.output
    rows = open_warehouse(settings).count("instances_w1")
    assert f"Scored {rows:,} evaluators as of 2026-11-26 with model {model.version}" in " ".join(done.output.split())
    after = _set_state(settings)
    assert after["rows"].tolist() == [rows] and (after["stored"] == rows).all()


# --- killed at random moments ------------------------------------------------------------------------


def _stand_in_from(spec_path: str) -> StandIn:
    spec = json.loads(Path(spec_path).read_text())
    return StandIn(spec["version"], xgb.Booster(model_file=spec["model"]), FeaturePipeline.from_dict(spec["pipeline"]))


def _score_forever(home: str, spec_path: str, marks: str) -> None:
    """Child process: score again and again with the stand-in stored at spec_path (killed by the test),
    touching marks/writing-<i> when run i starts its write and marks/done-<i> when it has committed."""
    stand_in, settings = _stand_in_from(spec_path), make_settings(Path(home), uplift_trees=10)
    run = 0

    def step(label: str, work: Any) -> Any:
        if label == "Writing the score set":
            (Path(marks) / f"writing-{run}").touch()
        return work()

    while True:
        scoring.score_evaluators(open_warehouse(settings), settings, stand_in, step=step)
        (Path(marks) / f"done-{run}").touch()
        run += 1


def _score_once_timed(home: str, spec_path: str, log_path: str) -> None:
    """Child process: one scoring run, logging the clock time each step starts and the run ends."""
    stand_in, settings = _stand_in_from(spec_path), make_settings(Path(home), uplift_trees=10)
    marks = []

    def step(label: str, work: Any) -> Any:
        marks.append((label, time.time()))
        return work()

    scoring.score_evaluators(open_warehouse(settings), settings, stand_in, step=step)
    marks.append(("done", time.time()))
    Path(log_path).write_text(json.dumps(dict(marks)))


def _wait_for(path: Path, child: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert child.is_alive() and time.monotonic() < deadline, f"the scoring child never reached {path.name}"
        time.sleep(0.005)


def _spec(model: StandIn, folder: Path, version: str) -> str:
    model.booster.save_model(str(folder / f"{version}.ubj"))
    path = folder / f"{version}.json"
    path.write_text(
        json.dumps(
            {
                "version": version,
                "model": str(folder / f"{version}.ubj"),
                "pipeline": model.pipeline.to_dict(),
            }
        )
    )
    return str(path)


def test_a_job_killed_at_any_moment_leaves_exactly_one_complete_set(scored, model, tmp_path) -> None:
    settings = copy_home(scored, tmp_path)
    expected_rows = open_warehouse(settings).count("instances_w1")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["churn_core.scoring.score", "tests.churn_core.scoring.test_score"])
    warm = context.Process(target=time.sleep, args=(0,))  # starts the fork server (imports preloaded once)
    warm.start()
    warm.join()
    # one uninterrupted run in a child first: how long a run takes there, and when its write starts
    log = tmp_path / "timing.json"
    child = context.Process(
        target=_score_once_timed, args=(str(settings.home), _spec(model, tmp_path, "v9100"), str(log))
    )
    launched = time.time()
    child.start()
    child.join()
    marks = json.loads(log.read_text())  # seconds after launch, start-up included
    write_start, done = marks["Writing the score set"] - launched, marks["done"] - launched
    rng = random.Random(20261126)
    versions = [_set_state(settings)["model_version"].iloc[0]]
    assert versions == ["v9100"]
    killed_writing = 0
    for attempt in range(15):
        version = f"v{9101 + attempt}"
        marks = tmp_path / version
        marks.mkdir()
        child = context.Process(
            target=_score_forever, args=(str(settings.home), _spec(model, tmp_path, version), str(marks))
        )
        child.start()
        if attempt % 3 == 0:  # inside the write transaction
            _wait_for(marks / "writing-0", child)
            time.sleep(rng.uniform(0.0, 0.8) * (done - write_start))
        elif attempt % 3 == 1:  # anywhere in a second run, after a first one committed
            _wait_for(marks / "done-0", child)
            time.sleep(rng.uniform(0.0, 1.0) * done)
        else:  # anywhere in the first run: reading, computing or writing
            time.sleep(rng.uniform(0.0, 1.0) * done)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        killed_writing += (marks / "writing-0").exists() and not (marks / "done-0").exists()
        state = _set_state(settings)
        assert len(state) == 1  # one set for the date, complete, never half of one
        row = state.iloc[0]
        assert row["rows"] == row["stored"] == expected_rows
        assert row["versions"] == 1 and row["version"] == row["model_version"]
        committed = (marks / "done-0").exists()
        assert row["model_version"] == version if committed else row["model_version"] in (versions[-1], version)
        drift = open_warehouse(settings).query("SELECT count(*) AS n FROM score_drift")["n"].iloc[0]
        effects = open_warehouse(settings).query("SELECT count(*) AS n FROM channel_effects")["n"].iloc[0]
        assert drift == len(model.pipeline.features_) + 1 and effects == len(CHANNELS)
        versions.append(row["model_version"])
    print(f"run {done:.1f} s, write from {write_start:.1f} s; killed mid-write {killed_writing}; sets: {versions}")
    assert killed_writing >= 1  # the write itself was interrupted, and the previous set stayed
    assert len(set(versions)) >= 6  # every run killed after its commit had replaced the set


def test_the_drift_reference_uses_the_cohorts_the_card_names() -> None:
    snaps = pd.DataFrame({"eval_start_date": ["2026-08-01", "2026-09-01", "2026-10-01"], "x": [1, 2, 3]})
    training = DataSummary(date_min="2026-08-15", date_max="2026-09-30")
    assert scoring.training_rows(snaps, training)["x"].tolist() == [2]
    assert scoring.training_rows(snaps, DataSummary())["x"].tolist() == [1, 2, 3]


def test_scoring_in_small_batches_writes_the_same_signed_set(scored, model, tmp_path, monkeypatch) -> None:
    """Batches of 37 evaluators (a partial last one) give the rows, ranks, manifest and drift of one batch."""
    settings = copy_home(scored, tmp_path)
    monkeypatch.setattr(scoring, "BATCH_ROWS", 37)
    scoring.score_evaluators(open_warehouse(settings), settings, model)
    batched, whole = open_warehouse(settings), open_warehouse(scored)
    assert batched.count("instances_w1") % 37 and batched.count("instances_w1") > 37 * 5
    for table, order in (("evaluator_scores", "instance"), ("score_drift", "feature"), ("channel_effects", "channel")):
        query = f"SELECT * FROM {table} ORDER BY {order}"
        pd.testing.assert_frame_equal(batched.query(query), whole.query(query), check_exact=False, rtol=1e-12)
    # Each home has its own key, and the manifest's own digest covers when and how fast it was written.
    manifest = "SELECT * EXCLUDE (created_at, seconds, signature, fingerprint) FROM score_sets"
    pd.testing.assert_frame_equal(batched.query(manifest), whole.query(manifest))
    digests = [json.loads(w.query("SELECT fingerprint FROM score_sets").iloc[0, 0])["tables"] for w in (batched, whole)]
    for table in ("evaluator_scores", "score_drift", "channel_effects", "content_effects"):
        assert digests[0][table] == digests[1][table]
    assert integrity.check_score_set(batched, settings, DEMO_END).rows == batched.count("instances_w1")

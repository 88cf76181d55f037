"""The scoring job (`churn score`): one complete, atomic score set per as-of date.

Every evaluator in instances_w1 (unresolved, on its current day of trial) is scored by the champion model
through the model's stored feature pipeline (nothing is re-fitted), explained with exact SHAP values,
put into a risk tier and a targeting segment, and given a next-best channel. The set is written with its
side tables -- score_drift, channel_effects, content_effects and score_sets -- in one transaction keyed by as_of_date:
readers see the previous set until the new one is complete, re-running a date replaces its set, and
only the newest settings.score_history_sets sets are kept. The set's score_sets row carries its signed
digests (churn_core.scoring.integrity), so a set edited in the warehouse afterwards is refused by its readers.

A million evaluators are scored in bounded memory: the model's inputs are made a batch at a time
(model_outputs), the SHAP values and the set's rows too (score_in_batches), the rows kept only as compressed
Arrow, which the warehouse reads back a batch at a time as it writes them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import xgboost as xgb

from churn_core.errors import ChurnError
from churn_core.model.card import DataSummary, ModelCard
from churn_core.schema import CHANNELS
from churn_core.scoring import channels, columns, content, integrity, monitor, reasons, targeting
from churn_core.scoring.explain import TreeExplainer
from churn_core.scoring.rows import Decisions, ScoringPass, decide, effect_rows, risk_ranks, score_rows
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

T = TypeVar("T")
Step = Callable[[str, Callable[[], T]], T]
REFERENCE_SAMPLE = 100_000  # training snapshot rows the drift reference is built from, at most
BATCH_ROWS = 50_000  # evaluators explained and turned into rows at a time
SUMMARY_COLUMNS = ("risk_tier", "predicted_churn", "worth_saving", "might_swing", "value_at_risk", "control_group")
SCORE_TABLES: tuple[str, ...] = ("evaluator_scores", "score_drift", "channel_effects", "content_effects", "score_sets")


class ScoringError(ChurnError):
    """Scoring cannot run; nothing was written and the previous score set is still served."""


class FeatureMismatchError(ScoringError):
    """The data to score does not have the columns the model was trained on."""


class ScoringModel(Protocol):
    """What scoring needs from a registry model (churn_core.model.registry.LoadedModel)."""

    version: str
    card: ModelCard
    booster: xgb.Booster
    pipeline: Any
    threshold: float

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class ScoreSummary:
    """What one scoring run wrote (the score_sets row), for the CLI and the job log."""

    as_of: dt.date
    model_version: str
    rows: int
    high_risk: int
    medium_risk: int
    low_risk: int
    predicted_churn: int
    worth_saving: int  # in today's contact plan
    might_swing: int
    value_at_risk: float
    drift_alerts: int
    seconds: float
    notes: tuple[str, ...] = ()  # warnings for the user, e.g. a previous set ignored as tampered
    held_out: int = 0  # in the measurement holdout: never contacted


@dataclass(frozen=True)
class Outputs:
    """Every evaluator's model inputs and outputs, aligned with the frame of evaluators to score."""

    x: pd.DataFrame  # the model's inputs (float32, NaN where missing), one column per feature
    margin: np.ndarray
    probability: np.ndarray


@dataclass(frozen=True)
class ScoredSet:
    """A score set's rows as one compressed Arrow stream, and what its manifest and side tables need."""

    rows: pa.Buffer  # Arrow IPC stream of record batches, zstd-compressed
    totals: pd.DataFrame  # SUMMARY_COLUMNS of every row
    chosen: targeting.Targets  # every row's targeting decisions

    def reader(self) -> pa.RecordBatchReader:
        """The rows, decompressed one batch at a time as they are read."""
        return pa.ipc.open_stream(self.rows)


def _plain_step(label: str, work: Callable[[], T]) -> T:
    return work()


# --- reading ----------------------------------------------------------------------------------------


def scoring_date(warehouse: Warehouse, as_of: dt.date | None = None) -> dt.date:
    """The as-of date to score: instances_w1's own date; a different `as_of` is refused with what to run."""
    if not warehouse.table_exists("instances_w1"):
        raise ScoringError("instances_w1 does not exist: build it with `churn etl` (or `churn demo`) first")
    info = warehouse.run("scoring_as_of")
    built, count = info["as_of_date"].iloc[0], int(info["evaluators"].iloc[0])
    if count == 0 or built is None or pd.isna(built):
        raise ScoringError(
            "instances_w1 is empty: no unresolved evaluators in their trial at its as-of date, "
            "so there is nothing to score. Check the data or the --as-of date of `churn etl`; "
            "the previous score set is still served."
        )
    built = pd.Timestamp(built).date()
    if as_of is not None and as_of != built:
        raise ScoringError(
            f"instances_w1 was built for {built}, not {as_of}: run `churn etl --as-of {as_of}` "
            f"first, then `churn score --as-of {as_of}`"
        )
    return built


def model_features(model: ScoringModel) -> list[str]:
    """The model's features in order, as its card lists them (else as its pipeline does)."""
    return list(model.card.features or model.pipeline.features_)


def model_inputs(model: ScoringModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features for `frame` through its stored pipeline, checked against its card."""
    features = model_features(model)
    try:
        x = model.pipeline.transform(frame)
    except KeyError as exc:
        raise FeatureMismatchError(
            f"the data to score lacks column(s) the model {model.version} needs ({exc}); rebuild the tables "
            "with `churn etl` or train a model on the current columns with `churn train`"
        ) from None
    if list(x.columns) != features:
        missing = [f for f in features if f not in x.columns]
        extra = [c for c in x.columns if c not in features]
        raise FeatureMismatchError(
            f"the features do not match the card of model {model.version}: missing {missing or 'none'}, "
            f"unexpected {extra or 'none'} (order must match too); retrain with `churn train`"
        )
    return x


def channels_reached(warehouse: Warehouse, instances: np.ndarray, as_of: dt.date) -> np.ndarray:
    """(rows, channels) bool: a touch on the channel was delivered to the evaluator on or before as_of."""
    out = np.zeros((len(instances), len(CHANNELS)), bool)
    if not warehouse.table_exists("engagements"):
        return out
    touches = warehouse.run("channels_reached", {"as_of": as_of})
    if touches.empty:
        return out
    order = np.argsort(instances, kind="stable")
    ids = touches["instance"].to_numpy()
    at = np.minimum(np.searchsorted(instances[order], ids), len(instances) - 1)
    col = pd.Categorical(touches["channel"], categories=list(CHANNELS)).codes
    ok = (instances[order][at] == ids) & (col >= 0)
    out[order[at[ok]], col[ok]] = True
    return out


def previous_scores(warehouse: Warehouse, settings: Settings, as_of: dt.date) -> tuple[pd.DataFrame, str | None]:
    """Each evaluator's row in the most recent set before as_of (empty before the first set), and a warning
    when that set failed its integrity check and was ignored (the CLI prints it, the job log records it).

    A tampered or unsigned previous set is ignored rather than refused: its rows never reach the new set
    (whose change columns stay empty, as on a first run), while refusing would stop scoring and leave the
    tampered set as the newest one listed. The new set is signed and becomes the default."""
    empty = pd.DataFrame(columns=["instance", "previous_as_of_date", "previous_probability"])
    if not warehouse.table_exists("evaluator_scores"):
        return empty, None
    previous = warehouse.run("previous_scores", {"as_of": as_of})
    if previous.empty:
        return previous, None
    day = pd.Timestamp(previous["previous_as_of_date"].iloc[0]).date()
    try:
        integrity.check_score_set(warehouse, settings, day)
    except integrity.ScoreSetIntegrityError as exc:
        note = f"previous score set ignored (no probability changes or rising-risk flags this time): {exc}"
        return empty, note
    return previous, None


# --- model outputs ----------------------------------------------------------------------------------


def predict(
    model: ScoringModel, frame: pd.DataFrame, x: pd.DataFrame, shap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(raw margin, calibrated churn probability) per row. With the rows' SHAP values at hand the margin is
    their sum (exact TreeSHAP adds up to it), which saves predicting twice."""
    if shap is not None:
        margin = shap.sum(axis=1, dtype=np.float64)
    else:
        margin = model.booster.inplace_predict(x.to_numpy(np.float32, na_value=np.nan), predict_type="margin")
    calibrate = getattr(model, "calibrate", None)
    prob = calibrate(margin) if callable(calibrate) else model.predict_proba(frame)
    return np.asarray(margin, np.float64), np.asarray(prob, np.float64)


def model_outputs(model: ScoringModel, frame: pd.DataFrame) -> Outputs:
    """Every evaluator's model inputs (made BATCH_ROWS at a time), raw margin and churn probability."""
    features = model_features(model)
    x = np.empty((len(frame), len(features)), np.float32)  # as the feature pipeline makes them
    for rows in _batches(len(frame)):
        x[rows] = model_inputs(model, frame.iloc[rows]).to_numpy(np.float32, na_value=np.nan)
    inputs = pd.DataFrame(x, columns=features, copy=False)
    margin, prob = predict(model, frame, inputs)
    return Outputs(inputs, margin, prob)


def score_in_batches(
    settings: Settings, run: ScoringPass, uplift_model: channels.UpliftModel, explainer: TreeExplainer
) -> ScoredSet:
    """The set's rows, built BATCH_ROWS at a time (exact SHAP values, drivers in words, columns) and kept as
    one zstd-compressed Arrow stream, with the summary's columns. Decisions and the risk rank weigh every
    evaluator against the others, so they are made for the whole set first.

    The explainer's kernels are compiled once per machine (kept under CHURN_HOME), so even a few rows take
    the fast path."""
    decisions = decide(settings, run, uplift_model)
    rank = risk_ranks(run.probability, run.frame["instance"].to_numpy(np.int64))
    sink, writer, schema = pa.BufferOutputStream(), None, None
    totals = []
    for rows in _batches(len(run.frame)):
        part = _part(run, rows)
        part = dataclasses.replace(part, shap=explainer.shap_values(part.x))
        scores = score_rows(settings, part, _decided(decisions, rows))
        scores["risk_rank"] = rank[rows]
        totals.append(scores[list(SUMMARY_COLUMNS)])
        batch = pa.RecordBatch.from_pandas(scores, schema=schema, preserve_index=False)
        if writer is None:
            schema = batch.schema  # the first batch's types for all (a column NULL in a batch keeps its type)
            writer = pa.ipc.new_stream(sink, schema, options=pa.ipc.IpcWriteOptions(compression="zstd"))
        writer.write_batch(batch)
    writer.close()
    return ScoredSet(sink.getvalue(), pd.concat(totals, ignore_index=True), decisions.chosen)


def _batches(n: int) -> Iterator[slice]:
    return (slice(start, min(start + BATCH_ROWS, n)) for start in range(0, n, BATCH_ROWS))


def _decided(decisions: Decisions, rows: slice) -> Decisions:
    """The decisions of rows `rows` (targeting.Targets holds only arrays aligned with the rows)."""
    chosen = decisions.chosen
    return dataclasses.replace(
        decisions,
        predicted=decisions.predicted[rows],
        previous=decisions.previous.iloc[rows].reset_index(drop=True),
        change=decisions.change[rows],
        uplift=decisions.uplift[rows],
        chosen=dataclasses.replace(
            chosen, **{f.name: getattr(chosen, f.name)[rows] for f in dataclasses.fields(chosen)}
        ),
    )


def _part(run: ScoringPass, rows: slice) -> ScoringPass:
    """The rows `rows` of a pass not yet explained (every per-row field; `previous` is aligned with `frame`)."""
    return dataclasses.replace(
        run,
        frame=run.frame.iloc[rows].reset_index(drop=True),
        x=run.x.iloc[rows].reset_index(drop=True),
        margin=run.margin[rows],
        probability=run.probability[rows],
        reached=run.reached[rows],
        previous=run.previous.iloc[rows].reset_index(drop=True),
    )


def training_rows(snapshots: pd.DataFrame, training: DataSummary) -> pd.DataFrame:
    """The snapshots of the cohorts the model was trained on, when its card says which (the first and last
    eval_start_date of its training rows); otherwise every resolved evaluator's."""
    if not (training.date_min and training.date_max) or "eval_start_date" not in snapshots:
        return snapshots
    start = pd.to_datetime(snapshots["eval_start_date"].astype("str"), errors="coerce")
    inside = (start >= pd.Timestamp(training.date_min)) & (start <= pd.Timestamp(training.date_max))
    return snapshots[inside.to_numpy()].reset_index(drop=True) if inside.any() else snapshots


def drift_reference(warehouse: Warehouse, model: ScoringModel, features: list[str]) -> pd.DataFrame:
    """The training reference of the model's features and score, computed once per model version and
    stored in drift_reference (a later instances_modeling does not move it)."""
    ref = monitor.stored_reference(warehouse, model.version)
    if not ref.empty:
        return ref
    training = training_rows(warehouse.run("training_snapshots"), model.card.training)
    if training.empty:
        return ref
    if len(training) > REFERENCE_SAMPLE:  # deciles need no more; keeps the first run of a model quick
        keep = np.random.default_rng(0).choice(len(training), REFERENCE_SAMPLE, replace=False)
        training = training.iloc[np.sort(keep)].reset_index(drop=True)
    x = model_inputs(model, training)
    _, prob = predict(model, training, x)
    values = x.assign(**{monitor.SCORE_FEATURE: prob, "as_of_day": training["as_of_day"].to_numpy()})
    ref = monitor.build_reference(values, [*features, monitor.SCORE_FEATURE], model.version)
    warehouse.write_partition(monitor.REFERENCE_TABLE, ref, "model_version", model.version)
    return ref


# --- the job ----------------------------------------------------------------------------------------


def score_evaluators(
    warehouse: Warehouse,
    settings: Settings,
    model: ScoringModel,
    as_of: dt.date | None = None,
    step: Step = _plain_step,
) -> ScoreSummary:
    """Score every evaluator of instances_w1 and write the score set and its side tables atomically."""
    started = time.monotonic()
    as_of = scoring_date(warehouse, as_of)
    scored, tables, note = _score_set(warehouse, settings, model, as_of, step)
    summary = _summary(
        scored.totals, tables["score_drift"], model.version, as_of, time.monotonic() - started, (note,) if note else ()
    )
    manifest = _score_set_row(summary, model.threshold)
    seal = step(
        "Signing the score set",
        lambda: integrity.seal(
            settings, {"evaluator_scores": scored.reader(), **tables, "score_sets": manifest}, model.version
        ),
    )
    manifest = manifest.assign(**{k: pd.Series([v], dtype="str") for k, v in seal.items()})
    step(
        "Writing the score set",
        lambda: warehouse.write_partitions(
            {"evaluator_scores": scored.reader(), **tables, "score_sets": manifest},
            "as_of_date",
            as_of,
            keep=settings.score_history_sets,
        ),
    )
    return summary


def _score_set(
    warehouse: Warehouse, settings: Settings, model: ScoringModel, as_of: dt.date, step: Step
) -> tuple[ScoredSet, dict[str, pd.DataFrame], str | None]:
    """The set's rows, its side tables (drift, channel and content effects), and a note when the previous set
    was ignored. The model's inputs and SHAP values are let go on return: the write needs the memory."""
    run, history, note = _scoring_pass(warehouse, settings, model, as_of, step)
    uplift_model = step("Fitting channel uplift models", lambda: channels.fit_uplift(history, settings))
    reference = step("Checking drift", lambda: drift_reference(warehouse, model, run.features))
    drift = _drift(reference, run)
    explainer = TreeExplainer(model.booster, settings.kernel_cache_dir)
    scored = step(
        "Explaining every score (exact SHAP), targeting, drivers",
        lambda: score_in_batches(settings, run, uplift_model, explainer),
    )
    content_effects = step(
        "Estimating content effects", lambda: content.content_effect_rows(warehouse, as_of, history, uplift_model)
    )
    tables = {
        "score_drift": drift,
        "channel_effects": effect_rows(settings, as_of, uplift_model, history, scored.chosen),
        "content_effects": content_effects,
    }
    return scored, tables, note


def _scoring_pass(
    warehouse: Warehouse, settings: Settings, model: ScoringModel, as_of: dt.date, step: Step
) -> tuple[ScoringPass, pd.DataFrame, str | None]:
    """The evaluators to score with the model's outputs and what the set needs besides; also the uplift
    history and a note when the previous set was ignored."""
    frame = step("Reading evaluators to score", lambda: warehouse.run("scoring_instances", {"as_of": as_of}))
    if frame.empty:
        raise ScoringError(f"instances_w1 has no evaluators for {as_of}; the previous score set is still served")
    outputs = step("Preparing the model's features, predicting churn", lambda: model_outputs(model, frame))
    reached, (previous, note), medians, history = step(
        "Reading touches, previous scores and cohorts",
        lambda: (
            channels_reached(warehouse, frame["instance"].to_numpy(), as_of),
            previous_scores(warehouse, settings, as_of),
            reasons.cohort_medians(warehouse),
            channels.uplift_history(warehouse),
        ),
    )
    run = ScoringPass(
        as_of=as_of,
        model_version=model.version,
        threshold=float(model.threshold),
        categories=dict(getattr(model.pipeline, "categories_", {}) or {}),
        frame=frame,
        x=outputs.x,
        shap=None,
        margin=outputs.margin,
        probability=outputs.probability,
        reached=reached,
        previous=frame[["instance"]].merge(previous, on="instance", how="left"),
        medians=medians,
    )
    return run, history, note


def _drift(reference: pd.DataFrame, run: ScoringPass) -> pd.DataFrame:
    """PSI of every model feature and of the score in this set against the model's training reference."""
    if reference.empty:
        return _empty_drift()
    current = pd.DataFrame(
        {
            **{f: run.x[f].to_numpy() for f in run.features},
            monitor.SCORE_FEATURE: run.probability,
            "as_of_day": run.frame["as_of_day"].to_numpy(),
        },
        copy=False,
    )
    return monitor.drift_table(reference, current, run.as_of)


def _summary(
    scores: pd.DataFrame,
    drift: pd.DataFrame,
    version: str,
    as_of: dt.date,
    seconds: float,
    notes: tuple[str, ...] = (),
) -> ScoreSummary:
    tiers = scores["risk_tier"].value_counts()
    return ScoreSummary(
        as_of=as_of,
        model_version=version,
        rows=len(scores),
        high_risk=int(tiers.get("high", 0)),
        medium_risk=int(tiers.get("medium", 0)),
        low_risk=int(tiers.get("low", 0)),
        predicted_churn=int(scores["predicted_churn"].sum()),
        worth_saving=int(scores["worth_saving"].sum()),
        might_swing=int(scores["might_swing"].sum()),
        value_at_risk=float(np.nansum(scores["value_at_risk"])),
        drift_alerts=int((drift["status"] == "alert").sum()),
        seconds=round(seconds, 3),
        notes=notes,
        held_out=int(scores["control_group"].sum()),
    )


def _score_set_row(summary: ScoreSummary, threshold: float) -> pd.DataFrame:
    """The score_sets row the dashboard lists sets from: the set's manifest (its signature is added to it).
    created_at is kept to the millisecond, the precision every engine reads back exactly."""
    row = {
        "as_of_date": columns.same_date(summary.as_of, 1),
        "model_version": pd.Series([summary.model_version], dtype="str"),
        "rows": np.asarray([summary.rows], np.int32),
        "created_at": pd.Series([pd.Timestamp.now(tz="UTC").tz_localize(None).floor("ms")], dtype="datetime64[us]"),
        "threshold": [float(threshold)],
        "high_risk": np.asarray([summary.high_risk], np.int32),
        "medium_risk": np.asarray([summary.medium_risk], np.int32),
        "low_risk": np.asarray([summary.low_risk], np.int32),
        "predicted_churn": np.asarray([summary.predicted_churn], np.int32),
        "worth_saving": np.asarray([summary.worth_saving], np.int32),
        "might_swing": np.asarray([summary.might_swing], np.int32),
        "value_at_risk": [summary.value_at_risk],
        "drift_alerts": np.asarray([summary.drift_alerts], np.int32),
        "seconds": [summary.seconds],
    }
    return pd.DataFrame(row)


def _empty_drift() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "as_of_date": columns.same_date(dt.date(1970, 1, 1), 0),
            "feature": pd.Series([], dtype="str"),
            "psi": pd.Series([], dtype="float64"),
            "status": pd.Series([], dtype="str"),
        }
    )

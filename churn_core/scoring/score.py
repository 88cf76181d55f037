"""The scoring job (`churn score`): one complete, atomic score set per as-of date.

Every evaluator in instances_w1 (unresolved, on its current day of trial) is scored by the champion model
through the model's stored feature pipeline (nothing is re-fitted), explained with exact SHAP values,
put into a risk tier and a targeting segment, and given a next-best channel. The set is written with its
side tables -- score_drift, channel_effects and score_sets -- in one transaction keyed by as_of_date:
readers see the previous set until the new one is complete, re-running a date replaces its set, and
only the newest settings.score_history_sets sets are kept. The set's score_sets row carries its signed
fingerprint (churn_core.scoring.integrity), so a set edited in the warehouse afterwards is refused by its readers.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import xgboost as xgb

from churn_core.errors import ChurnError
from churn_core.schema import CHANNELS, EVALUATOR_SCORES, RISK_TIERS, SEGMENT_COLUMNS
from churn_core.scoring import channels, integrity, monitor, reasons, targeting
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

T = TypeVar("T")
Step = Callable[[str, Callable[[], T]], T]
FAST_SHAP_MIN_ROWS = 50_000
REFERENCE_SAMPLE = 100_000  # training snapshot rows the drift reference is built from, at most
SCORE_TABLES: tuple[str, ...] = ("evaluator_scores", "score_drift", "channel_effects", "score_sets")


class ScoringError(ChurnError):
    """Scoring cannot run; nothing was written and the previous score set is still served."""


class FeatureMismatchError(ScoringError):
    """The data to score does not have the columns the model was trained on."""


class ScoringModel(Protocol):
    """What scoring needs from a registry model (churn_core.model.registry.LoadedModel)."""

    version: str
    card: dict[str, Any]
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
    worth_saving: int
    might_swing: int
    value_at_risk: float
    drift_alerts: int
    seconds: float
    notes: tuple[str, ...] = ()  # warnings for the user, e.g. a previous set ignored as tampered


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
    listed = model.card.get("features") if isinstance(model.card, dict) else None
    return list(listed or model.pipeline.features_)


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


def _reached_text(reached: np.ndarray) -> pd.Series:
    """Channels as text per row ("email,push"; NULL when none), looked up among the 2**5 combinations."""
    combos = [
        ",".join(c for j, c in enumerate(CHANNELS) if mask >> j & 1) or None for mask in range(2 ** len(CHANNELS))
    ]
    code = (reached.astype(np.int64) << np.arange(len(CHANNELS))).sum(axis=1)
    return _text(pa.array(combos, pa.string()).take(pa.array(code)))


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


def explain_margin(model: ScoringModel, x: pd.DataFrame) -> np.ndarray:
    """Exact SHAP values (rows, features + 1), last column the base value; rows sum to the margin.

    Large sets go through churn_core.scoring.explain (compiled once per process, then far faster); below
    FAST_SHAP_MIN_ROWS xgboost's own exact TreeSHAP finishes before the compiled kernels would load."""
    if len(x) < FAST_SHAP_MIN_ROWS:
        return model.booster.predict(xgb.DMatrix(x), pred_contribs=True)
    from churn_core.scoring.explain import TreeExplainer

    return TreeExplainer(model.booster).shap_values(x)


def _training_rows(snapshots: pd.DataFrame, card: dict[str, Any]) -> pd.DataFrame:
    """The snapshots of the cohorts the model was trained on, when its card says which (training.date_min
    and date_max of eval_start_date); otherwise every resolved evaluator's."""
    span = card.get("training", {}) if isinstance(card, dict) else {}
    if not (span.get("date_min") and span.get("date_max")) or "eval_start_date" not in snapshots:
        return snapshots
    start = pd.to_datetime(snapshots["eval_start_date"].astype("str"), errors="coerce")
    inside = (start >= pd.Timestamp(span["date_min"])) & (start <= pd.Timestamp(span["date_max"]))
    return snapshots[inside.to_numpy()].reset_index(drop=True) if inside.any() else snapshots


def drift_reference(warehouse: Warehouse, model: ScoringModel, features: list[str]) -> pd.DataFrame:
    """The training reference of the model's features and score, computed once per model version and
    stored in drift_reference (a later instances_modeling does not move it)."""
    ref = monitor.stored_reference(warehouse, model.version)
    if not ref.empty:
        return ref
    training = _training_rows(warehouse.run("training_snapshots"), model.card)
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
    features = model_features(model)
    frame = step("Reading evaluators to score", lambda: warehouse.run("scoring_instances", {"as_of": as_of}))
    if frame.empty:
        raise ScoringError(f"instances_w1 has no evaluators for {as_of}; the previous score set is still served")
    x = step("Preparing the model's features", lambda: model_inputs(model, frame))
    shap = step("Explaining every score (exact SHAP)", lambda: explain_margin(model, x))
    margin, prob = step("Predicting churn", lambda: predict(model, frame, x, shap))
    context = step(
        "Reading touches, previous scores and cohorts",
        lambda: (
            channels_reached(warehouse, frame["instance"].to_numpy(), as_of),
            previous_scores(warehouse, settings, as_of),
            reasons.cohort_medians(warehouse),
            channels.uplift_history(warehouse),
        ),
    )
    reached, (previous, note), medians, history = context
    uplift_model = step("Fitting channel uplift models", lambda: channels.fit_uplift(history, settings))
    scores, effects = step(
        "Targeting and channels",
        lambda: _score_frame(
            settings,
            model,
            features,
            as_of,
            frame,
            x,
            margin,
            prob,
            shap,
            reached,
            previous,
            medians,
            uplift_model,
            history,
        ),
    )
    reference = step("Checking drift", lambda: drift_reference(warehouse, model, features))
    current = pd.DataFrame(
        {
            **{f: x[f].to_numpy() for f in features},
            monitor.SCORE_FEATURE: prob,
            "as_of_day": frame["as_of_day"].to_numpy(),
        },
        copy=False,
    )
    drift = monitor.drift_table(reference, current, as_of) if not reference.empty else _empty_drift()
    summary = _summary(scores, drift, model.version, as_of, time.monotonic() - started, (note,) if note else ())
    sets = _score_set_row(summary, model.threshold, integrity.seal(settings, scores, as_of, model.version))
    step(
        "Writing the score set",
        lambda: warehouse.write_partitions(
            {
                "evaluator_scores": scores,
                "score_drift": drift,
                "channel_effects": effects,
                "score_sets": sets,
            },
            "as_of_date",
            as_of,
            keep=settings.score_history_sets,
        ),
    )
    return summary


def _score_frame(
    settings: Settings,
    model: ScoringModel,
    features: list[str],
    as_of: dt.date,
    frame: pd.DataFrame,
    x: pd.DataFrame,
    margin: np.ndarray,
    prob: np.ndarray,
    shap: np.ndarray,
    reached: np.ndarray,
    previous: pd.DataFrame,
    medians: pd.DataFrame,
    uplift_model: channels.UpliftModel,
    history: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evaluator_scores rows (EVALUATOR_SCORES columns, shap_*, uplift_*) and channel_effects."""
    n = len(frame)
    threshold = float(model.threshold)
    predicted = (prob >= threshold).astype(np.int32)
    instance = frame["instance"].to_numpy(np.int64)
    rank = np.empty(n, np.int32)
    rank[np.lexsort((instance, -prob))] = np.arange(1, n + 1, dtype=np.int32)

    prev = pd.DataFrame({"instance": instance}).merge(previous, on="instance", how="left")
    prev_prob = prev["previous_probability"].to_numpy(np.float64, na_value=np.nan)
    change = prob - prev_prob

    uplift, rate = channels.estimate_channels(uplift_model, frame, prob, settings)
    value = frame["expected_annual_value"].to_numpy(np.float64, na_value=np.nan)
    ev = targeting.expected_values(prob, value, rate, targeting.channel_costs(settings))
    chosen = targeting.choose_targets(prob, threshold, ev, change, settings)
    has = chosen.recommended >= 0
    rows = np.arange(n)
    uplift = np.round(uplift, 6)  # stored to six decimals (as are the SHAP values)
    channel_uplift = np.where(has, uplift[rows, np.maximum(chosen.recommended, 0)], np.nan)

    # the pipeline neither scales nor imputes, so the model inputs are the values to put into words
    words = reasons.explain(
        shap[:, :-1],
        x.to_numpy(np.float64, na_value=np.nan),
        features,
        frame["team_size"].to_numpy(),
        frame["as_of_day"].to_numpy(),
        predicted,
        medians,
        dict(getattr(model.pipeline, "categories_", {}) or {}),
    )

    out: dict[str, Any] = {
        "instance": frame["instance"].to_numpy(np.int32),
        "as_of_date": _same_date(as_of, n),
        "day_of_trial": frame["day_of_trial"].to_numpy(np.int32),
        "as_of_day": frame["as_of_day"].to_numpy(np.int32),
        "eval_start_date": _dates(frame["eval_start_day"]),
        "cohort_week": _dates(frame["cohort_week"]),
        "model_version": _labels((model.version,), np.zeros(n, np.int32)),
        "churn_probability": prob,
        "churn_margin": margin,
        "risk_tier": _labels(RISK_TIERS, targeting.risk_tier_codes(prob, settings)),
        "predicted_churn": predicted,
        "risk_rank": rank,
        "top_reason": _text(words.top_reason),
        "top_drivers": _text(words.top_drivers),
        "shap_base": shap[:, -1].astype(np.float64),
        **{c.name: _segment(frame[c.name], c.type) for c in SEGMENT_COLUMNS},
        "channels_reached": _reached_text(reached),
        "activated": frame["activated"].to_numpy(np.int32),
        "value_at_risk": prob * value,
        "recommended_channel": _labels(CHANNELS, np.maximum(chosen.recommended, 0), missing=~has),
        "channel_uplift": channel_uplift,
        "expected_value": chosen.expected_value,
        "worth_saving": chosen.worth_saving,
        "might_swing": chosen.might_swing,
        "segment": _labels(targeting.SEGMENTS, chosen.segment_code),
        "previous_as_of_date": _dates(prev["previous_as_of_date"]),
        "previous_probability": prev_prob,
        "probability_change": change,
    }
    assert list(out) == EVALUATOR_SCORES.names
    # six decimals are plenty to read, and compress to half the size of full doubles
    out.update({f"shap_{f}": np.round(shap[:, j].astype(np.float64), 6) for j, f in enumerate(features)})
    out.update({f"uplift_{c}": uplift[:, j] for j, c in enumerate(CHANNELS)})
    scores = pd.DataFrame(out, copy=False)

    effects = channels.estimate_channel_effects(history, uplift_model, settings)
    counts = np.bincount(chosen.recommended[has], minlength=len(CHANNELS))
    effects.insert(0, "as_of_date", _same_date(as_of, len(effects)))
    effects["recommended"] = counts[[CHANNELS.index(c) for c in effects["channel"]]].astype(np.int32)
    return scores, effects


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
    )


def _score_set_row(summary: ScoreSummary, threshold: float, seal: dict[str, str]) -> pd.DataFrame:
    """The score_sets row the dashboard lists sets from: the set's manifest, with its signed fingerprint."""
    row = {
        "as_of_date": _same_date(summary.as_of, 1),
        "model_version": pd.Series([summary.model_version], dtype="str"),
        "rows": np.asarray([summary.rows], np.int32),
        "created_at": pd.Series([pd.Timestamp.now(tz="UTC").tz_localize(None)], dtype="datetime64[us]"),
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
        **{name: pd.Series([value], dtype="str") for name, value in seal.items()},
    }
    return pd.DataFrame(row)


def _empty_drift() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "as_of_date": _same_date(dt.date(1970, 1, 1), 0),
            "feature": pd.Series([], dtype="str"),
            "psi": pd.Series([], dtype="float64"),
            "status": pd.Series([], dtype="str"),
        }
    )


def _dates(values: Any) -> pd.Series:
    """A DATE column (Arrow date32), NULL where missing, converted without Python objects per row."""
    stamps = (
        pd.to_datetime(pd.Series(values), errors="coerce")
        if not isinstance(values, pd.Series) or not pd.api.types.is_datetime64_any_dtype(values)
        else values
    )
    days = stamps.to_numpy("datetime64[D]")
    missing = np.isnat(days)
    epoch = np.where(missing, 0, days.astype(np.int64)).astype(np.int32)
    return pd.Series(pa.array(epoch, pa.int32(), mask=missing).cast(pa.date32()), dtype=pd.ArrowDtype(pa.date32()))


def _same_date(day: dt.date, n: int) -> pd.Series:
    """A DATE column holding `day` n times."""
    epoch = np.full(n, (day - dt.date(1970, 1, 1)).days, np.int32)
    return pd.Series(pa.array(epoch, pa.int32()).cast(pa.date32()), dtype=pd.ArrowDtype(pa.date32()))


def _text(values: Any) -> pd.Series:
    """A VARCHAR column kept in Arrow (no Python strings per row)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values, dtype=pd.ArrowDtype(pa.string()))
    return pd.Series(pa.array(values, pa.string(), from_pandas=True), dtype=pd.ArrowDtype(pa.string()))


def _labels(labels: tuple[str, ...], codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """A VARCHAR column from codes into a few labels, NULL where `missing`."""
    taken = pa.array(labels, pa.string()).take(pa.array(codes.astype(np.int32), mask=missing))
    return pd.Series(taken, dtype=pd.ArrowDtype(pa.string()))


def _segment(values: pd.Series, kind: str) -> Any:
    if kind == "INTEGER":
        return values.to_numpy(np.int32)
    if kind == "DOUBLE":
        return values.to_numpy(np.float64, na_value=np.nan)
    return _text(pa.array(values, from_pandas=True).cast(pa.string()))


# --- reads for the dashboard --------------------------------------------------------------------------


def score_sets(warehouse: Warehouse) -> pd.DataFrame:
    """The kept score sets with their summary counts, newest first (empty before the first `churn score`)."""
    if not warehouse.table_exists("score_sets"):
        return pd.DataFrame(columns=["as_of_date", "model_version", "rows", "created_at"])
    return warehouse.run("score_sets")

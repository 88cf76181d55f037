"""One score explained one way: the values the model saw, each driver's push in probability points, and the
comparison with stayers and churners on the same day of trial.

The waterfall, the reasons, the what-if and the cohort chart of the profile all read from here, so they
cannot disagree. Values are recomputed through the model's stored feature pipeline (its card) from the
evaluator's snapshot and sign-up facts -- derived features included, nothing re-fitted -- and a value the
model did not get stays missing: it is written "no data" (churn_core.schema.NO_DATA), never 0, because the
model routes it down its own branch. Only the card is read: no XGBoost, no scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from churn_core.model.calibration import Calibrator
from churn_core.model.card import ModelCard
from churn_core.model.features import FeaturePipeline, ModelError
from churn_core.schema import SEGMENT_COLUMNS, feature_text
from churn_core.scoring import effects, reasons
from churn_core.views._common import SHAP_COLUMN, feature_label
from churn_core.warehouse import Warehouse

# Score columns the model's inputs are recomputed from besides the snapshot (segment columns a pipeline may use).
CONTEXT_COLUMNS: tuple[str, ...] = ("instance", "as_of_day", "day_of_trial", *(c.name for c in SEGMENT_COLUMNS))
DRIVER_COLUMNS = ["feature", "label", "value", "value_text", "shap", "points", "reason"]
T = TypeVar("T")


def model_pipeline(card: ModelCard | None) -> FeaturePipeline | None:
    """The card's stored feature pipeline, or None without a card or with an unreadable one."""
    return _stored(card.pipeline if card else {}, FeaturePipeline.from_dict)


def model_calibrator(card: ModelCard | None) -> Calibrator | None:
    """The card's calibrator (margin to the risk every page shows), or None without a readable one."""
    return _stored(card.calibrator if card else {}, Calibrator.from_dict)


def _stored(part: Mapping[str, Any], load: Callable[[Mapping[str, Any]], T]) -> T | None:
    if not part:
        return None
    try:
        return load(part)
    except ModelError:
        return None


def raw_inputs(score: Mapping[str, Any], features: Mapping[str, Any]) -> dict[str, Any]:
    """What the model's inputs are computed from: the score's facts, then the snapshot's counts."""
    return {**{k: score[k] for k in CONTEXT_COLUMNS if k in score}, **features}


def input_values(pipeline: FeaturePipeline, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The model's inputs for one row of raw inputs, as the model sees them: numbers, categories as their
    labels, None where the model has no value."""
    x = pipeline.transform(pd.DataFrame([dict(raw)]))
    return shown_values(pipeline, x.iloc[0])


def shown_values(pipeline: FeaturePipeline, x: pd.Series) -> dict[str, Any]:
    """A row of model inputs with category codes turned back into their labels and NaN into None."""
    out: dict[str, Any] = {}
    for name, value in x.items():
        if value is None or math.isnan(float(value)):
            out[str(name)] = None
        elif name in pipeline.categories_:
            out[str(name)] = pipeline.categories_[str(name)][int(value)]
        else:
            out[str(name)] = float(value)
    return out


def shap_drivers(score: Mapping[str, Any], values: Mapping[str, Any], calibrator: Calibrator) -> pd.DataFrame:
    """Every feature's SHAP value and points for one score, strongest first, with the value the model saw
    (`values`; a feature absent from it is shown by its label alone) and a reason in words.

    The points of all rows add up to calibrated risk minus the average evaluator's (effects.risk_steps)."""
    names = [m.group(1) for k in score if (m := SHAP_COLUMN.match(k)) and m.group(1) != "base"]
    names = [n for n in names if score.get(f"shap_{n}") is not None]
    if not names:
        return pd.DataFrame(columns=DRIVER_COLUMNS)
    shap = np.asarray([float(score[f"shap_{n}"]) for n in names])
    steps = effects.risk_steps(float(score.get("shap_base") or 0.0), shap, calibrator)
    rows = []
    for j, points in zip(steps.order, steps.points, strict=True):
        name = names[j]
        text = feature_text(name).text(values.get(name)) if name in values else ""
        rows.append(
            {
                "feature": name,
                "label": feature_label(name),
                "value": values.get(name),
                "value_text": text,
                "shap": float(shap[j]),
                "points": float(points),
                "reason": reason_text(name, text, float(shap[j])),
            }
        )
    return pd.DataFrame(rows, columns=DRIVER_COLUMNS)


def reason_text(feature: str, value_text: str, shap: float) -> str:
    """A driver in words when the scoring job wrote none: the value and which way it pushes the risk."""
    direction = "Raises risk" if shap > 0 else "Lowers risk"
    return f"{direction}: {feature_label(feature)}" + (f" = {value_text}" if value_text else "")


@dataclass(frozen=True)
class Explanation:
    """A score explained: `drivers` (DRIVER_COLUMNS, strongest first), the walk's two ends in probability,
    the model's inputs as it saw them (`values`) and the raw inputs they came from (`inputs`)."""

    drivers: pd.DataFrame
    base_risk: float
    risk: float
    values: dict[str, Any]
    inputs: dict[str, Any]


def explain_score(score: Mapping[str, Any], features: Mapping[str, Any], card: ModelCard | None) -> Explanation:
    """One scored row explained through its model's card (`features`: its snapshot at the scored day)."""
    inputs = raw_inputs(score, features)
    pipeline = model_pipeline(card)
    values: dict[str, Any] = {}
    if pipeline is not None:
        try:
            values = input_values(pipeline, inputs)
        except ModelError:  # a pipeline needing a column the warehouse no longer has: show what is known
            pipeline = None
    if pipeline is None:
        values = {k: v for k, v in inputs.items() if f"shap_{k}" in score}
    calibrator = model_calibrator(card)
    drivers = shap_drivers(score, values, calibrator or Calibrator.identity())
    pushed = float(drivers["points"].sum())
    if calibrator is None:  # the plain sigmoid's walk, anchored where the score ended (no card to say better)
        risk = float(score.get("churn_probability") or 0.0)
        return Explanation(drivers, risk - pushed, risk, values, inputs)
    start = float(calibrator(np.asarray([float(score.get("shap_base") or 0.0)]))[0])
    return Explanation(drivers, start, start + pushed, values, inputs)


def shap_changes(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None, card: ModelCard | None
) -> pd.DataFrame:
    """What moved the risk since the previous score: each feature's points now minus its points then,
    biggest first (they add up to the change of risk when both scores share a model)."""
    columns = ["feature", "label", "points_now", "points_before", "change"]
    if not previous:
        return pd.DataFrame(columns=columns)
    calibrator = model_calibrator(card) or Calibrator.identity()
    now = shap_drivers(current, {}, calibrator).set_index("feature")["points"]
    before = shap_drivers(previous, {}, calibrator).set_index("feature")["points"]
    both = [f for f in now.index if f in before.index]
    df = pd.DataFrame(
        {
            "feature": both,
            "label": [feature_label(f) for f in both],
            "points_now": now[both].to_numpy(float),
            "points_before": before[both].to_numpy(float),
        },
        columns=columns[:-1],
    )
    df["change"] = df["points_now"] - df["points_before"]
    return df.reindex(df["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)


@dataclass(frozen=True)
class CohortComparison:
    """This evaluator's values beside the medians of retained and churned evaluators of its team-size band
    on its day of trial: the numbers its reasons quote."""

    table: pd.DataFrame  # feature, label, value, value_text, retained, churned
    day: int
    band: str


def cohort_comparison(
    medians: pd.DataFrame, values: Mapping[str, Any], as_of_day: int, team_size: Any
) -> CohortComparison:
    """The comparison for every feature with cohort medians (reasons.cohort_medians) that the model has."""
    features = [f for f in values if f in reasons.MEDIAN_FEATURES]
    band = int(reasons.team_size_band(np.asarray([np.nan if team_size is None else team_size], float))[0])
    day = int(min(max(as_of_day, 0), reasons.DAYS - 1))
    cube = reasons.median_cube(medians, features)
    table = pd.DataFrame(
        {
            "feature": features,
            "label": [feature_label(f) for f in features],
            "value": [np.nan if values[f] is None else float(values[f]) for f in features],
            "value_text": [feature_text(f).text(values[f]) for f in features],
            "retained": cube[1, band, day, :],
            "churned": cube[0, band, day, :],
        }
    )
    return CohortComparison(table, day, reasons.BAND_LABELS[band])


def cohort_medians(warehouse: Warehouse, as_of_day: int) -> pd.DataFrame:
    """The cohort medians the scoring job's reasons quote on one day of trial, for cohort_comparison."""
    return reasons.cohort_medians(warehouse, as_of_day)

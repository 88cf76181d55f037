"""One score set's rows: evaluator_scores and channel_effects from the model's outputs and their context.

The steps, in order: decide (tier, today's contact plan, which channel; churn_core.scoring.targeting and
churn_core.scoring.plan with the uplift of churn_core.scoring.channels), put the drivers into words
(churn_core.scoring.reasons), then lay the columns out as churn_core.schema.EVALUATOR_SCORES says, followed
by shap_<feature> and uplift_<channel>.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_core.schema import CHANNELS, EVALUATOR_SCORES, RISK_TIERS, SEGMENT_COLUMNS
from churn_core.scoring import channels, columns, reasons, targeting
from churn_core.settings import Settings


@dataclass(frozen=True)
class ScoringPass:
    """What one score set is built from; arrays and frames are aligned by row with `frame`."""

    as_of: dt.date
    model_version: str
    threshold: float
    categories: dict[str, list[str]]  # the model pipeline's categories, to put categorical drivers in words
    frame: pd.DataFrame  # the evaluators to score (scoring_instances.sql)
    x: pd.DataFrame  # the model's inputs, one column per feature in the model's order
    shap: np.ndarray | None  # (rows, features + 1), the last column the base value; None until explained
    margin: np.ndarray
    probability: np.ndarray
    reached: np.ndarray  # (rows, channels) bool: a touch on the channel reached the evaluator
    previous: pd.DataFrame  # each evaluator's row in the previous set (churn_core.scoring.score.previous_scores)
    medians: pd.DataFrame  # cohort medians the reasons compare with (reasons.cohort_medians)

    @property
    def features(self) -> list[str]:
        return list(self.x.columns)


@dataclass(frozen=True)
class Decisions:
    """The targeting decisions of a pass (targeting's rules), aligned by row."""

    predicted: np.ndarray  # 0/1: churn probability at or above the model's threshold
    previous: pd.DataFrame  # previous_as_of_date and previous_probability per row (NaN when none)
    change: np.ndarray  # churn probability minus the previous one
    uplift: np.ndarray  # (rows, channels), rounded to six decimals as stored
    chosen: targeting.Targets

    @property
    def channel_uplift(self) -> np.ndarray:
        """The uplift of each row's recommended channel (NaN when none)."""
        has = self.chosen.recommended >= 0
        picked = self.uplift[np.arange(len(has)), np.maximum(self.chosen.recommended, 0)]
        return np.where(has, picked, np.nan)


def decide(settings: Settings, run: ScoringPass, uplift_model: channels.UpliftModel) -> Decisions:
    """Risk against the threshold, change since the previous set, channel uplift, and whom to act on."""
    instance = pd.DataFrame({"instance": run.frame["instance"].to_numpy(np.int64)})
    previous = instance.merge(run.previous, on="instance", how="left")
    change = run.probability - previous["previous_probability"].to_numpy(np.float64, na_value=np.nan)
    uplift, rate = channels.estimate_channels(uplift_model, run.frame, run.probability, settings)
    value = run.frame["expected_annual_value"].to_numpy(np.float64, na_value=np.nan)
    ev = targeting.expected_values(run.probability, value, rate, targeting.channel_costs(settings))
    return Decisions(
        predicted=(run.probability >= run.threshold).astype(np.int32),
        previous=previous,
        change=change,
        uplift=np.round(uplift, 6),  # stored to six decimals (as are the SHAP values)
        chosen=targeting.choose_targets(
            run.probability,
            run.threshold,
            ev,
            change,
            run.frame["control_group"].to_numpy(np.int32),
            instance["instance"].to_numpy(),
            settings,
        ),
    )


def risk_ranks(probability: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """1 for the highest churn probability, and so on; ties in instance order."""
    rank = np.empty(len(probability), np.int32)
    rank[np.lexsort((instance, -probability))] = np.arange(1, len(probability) + 1, dtype=np.int32)
    return rank


def drivers(run: ScoringPass, predicted: np.ndarray) -> reasons.Explanations:
    """Each row's top reason and drivers in words."""
    # the pipeline neither scales nor imputes, so the model inputs are the values to put into words
    return reasons.explain(
        run.shap[:, :-1],
        run.x.to_numpy(np.float64, na_value=np.nan),
        run.features,
        run.frame["team_size"].to_numpy(),
        run.frame["as_of_day"].to_numpy(),
        predicted,
        run.medians,
        run.categories,
    )


def score_rows(settings: Settings, run: ScoringPass, decisions: Decisions) -> pd.DataFrame:
    """The evaluator_scores rows: EVALUATOR_SCORES columns, then shap_<feature>, then uplift_<channel>."""
    frame, prob, chosen, n = run.frame, run.probability, decisions.chosen, len(run.frame)
    rank = risk_ranks(prob, frame["instance"].to_numpy(np.int64))
    words = drivers(run, decisions.predicted)
    value = frame["expected_annual_value"].to_numpy(np.float64, na_value=np.nan)
    out: dict[str, Any] = {
        "instance": frame["instance"].to_numpy(np.int32),
        "as_of_date": columns.same_date(run.as_of, n),
        "day_of_trial": frame["day_of_trial"].to_numpy(np.int32),
        "as_of_day": frame["as_of_day"].to_numpy(np.int32),
        "eval_start_date": columns.dates(frame["eval_start_day"]),
        "cohort_week": columns.dates(frame["cohort_week"]),
        "model_version": columns.labels((run.model_version,), np.zeros(n, np.int32)),
        "churn_probability": prob,
        "churn_margin": run.margin,
        "risk_tier": columns.labels(RISK_TIERS, targeting.risk_tier_codes(prob, run.threshold, settings)),
        "predicted_churn": decisions.predicted,
        "risk_rank": rank,
        "top_reason": columns.text(words.top_reason),
        "top_drivers": columns.text(words.top_drivers),
        "shap_base": run.shap[:, -1].astype(np.float64),
        **{c.name: columns.typed(frame[c.name], c.type) for c in SEGMENT_COLUMNS},
        "channels_reached": columns.channel_lists(run.reached),
        "activated": frame["activated"].to_numpy(np.int32),
        "value_at_risk": prob * value,
        "recommended_channel": columns.labels(
            CHANNELS, np.maximum(chosen.recommended, 0), missing=chosen.recommended < 0
        ),
        "channel_uplift": decisions.channel_uplift,
        "expected_value": chosen.expected_value,
        "worth_saving": chosen.worth_saving,
        "plan_rank": columns.counts(chosen.plan_rank, missing=chosen.plan_rank == 0),
        "might_swing": chosen.might_swing,
        "segment": columns.labels(targeting.SEGMENTS, chosen.segment_code),
        "previous_as_of_date": columns.dates(decisions.previous["previous_as_of_date"]),
        "previous_probability": decisions.previous["previous_probability"].to_numpy(np.float64, na_value=np.nan),
        "probability_change": decisions.change,
    }
    if list(out) != EVALUATOR_SCORES.names:  # a bug here, caught before anything is written
        raise RuntimeError(f"the score-set columns {list(out)} differ from churn_core.schema.EVALUATOR_SCORES")
    # six decimals are plenty to read, and compress to half the size of full doubles
    out.update({f"shap_{f}": np.round(run.shap[:, j].astype(np.float64), 6) for j, f in enumerate(run.features)})
    out.update({f"uplift_{c}": decisions.uplift[:, j] for j, c in enumerate(CHANNELS)})
    return pd.DataFrame(out, copy=False)


def effect_rows(
    settings: Settings,
    as_of: dt.date,
    uplift_model: channels.UpliftModel,
    history: pd.DataFrame,
    chosen: targeting.Targets,
) -> pd.DataFrame:
    """The channel_effects rows: each channel's average uplift and how many evaluators it is recommended to."""
    effects = channels.estimate_channel_effects(history, uplift_model, settings)
    counts = np.bincount(chosen.recommended[chosen.recommended >= 0], minlength=len(CHANNELS))
    effects.insert(0, "as_of_date", columns.same_date(as_of, len(effects)))
    effects["recommended"] = counts[[CHANNELS.index(c) for c in effects["channel"]]].astype(np.int32)
    return effects

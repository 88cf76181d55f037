"""What each play has achieved so far: its arms' retention and week-1 activation, the effect with its
intervals (churn_core.plays.stats), the saves, revenue, cost and return, and a plain verdict.

Every number compares the play's own randomised arms (intention to treat: everyone assigned, reached or
not), on the evaluators whose outcome has resolved. The effect among the reached (compliance-adjusted,
CACE = ITT / the share of the treatment arm a touch of the play's channel reached) is shown apart and
labelled: it assumes the touch does nothing to those it never reached (its interval takes the reach rate as
known). Saves and revenue scale the adjusted
effect to everyone treated (x their mean expected annual value); cost is the channel's cost x treated.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from churn_core.plays import stats
from churn_core.plays.store import PlayRecord, list_plays
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

NEEDED = ("play_assignments", "evaluators", "engagements", "activation_daily")
OUTCOME_COLUMNS = (
    "play",
    "instance",
    "arm",
    "assigned_date",
    "churn_probability",
    "risk_tier",
    "expected_annual_value",
    "retained",
    "activated_w1",
    "reached",
)


@dataclass(frozen=True)
class PlayResult:
    """One play's results (fractions: 0.02 = 2 points; money in the evaluators' currency)."""

    play: str
    status: str
    channel: str
    treatment: int
    holdout: int
    resolved_treatment: int
    resolved_holdout: int
    retention_treatment: float
    retention_holdout: float
    activation_treatment: float
    activation_holdout: float
    itt: stats.Interval  # difference in retention, 95%, looked at once
    adjusted: stats.Interval  # the same with the churn probability at assignment as covariate (CUPED)
    always_valid: stats.Interval  # 95% at every look (confidence sequence): the verdict's
    reach_rate: float  # share of the treatment arm a touch on the play's channel reached
    among_reached: stats.Interval  # compliance-adjusted (CACE): adjusted / reach_rate
    saves: float
    revenue: float
    cost: float
    return_on_cost: float  # (revenue - cost) / cost
    verdict: str

    def row(self) -> dict[str, object]:
        """Flat columns for a table, a CSV or JSON (intervals as <name>, <name>_low, <name>_high)."""
        out: dict[str, object] = {}
        for name, value in asdict(self).items():
            if isinstance(value, dict):
                out.update({name: value["estimate"], f"{name}_low": value["low"], f"{name}_high": value["high"]})
            else:
                out[name] = value
        return out


def play_outcomes(warehouse: Warehouse) -> pd.DataFrame:
    """Every evaluator in a play's arm with its outcome, activation and reach (empty before any assignment)."""
    if not all(warehouse.table_exists(t) for t in NEEDED):
        return pd.DataFrame(columns=list(OUTCOME_COLUMNS))
    return warehouse.run("play_outcomes")


def play_results(warehouse: Warehouse, settings: Settings, day: dt.date | None = None) -> list[PlayResult]:
    """Every play's results (oldest play first), statuses as of `day` (default today, UTC)."""
    day = day or dt.datetime.now(dt.UTC).date()
    outcomes = play_outcomes(warehouse)
    by_play = dict(tuple(outcomes.groupby("play", sort=False))) if len(outcomes) else {}
    return [
        summarise(r, by_play.get(r.play.name, outcomes.iloc[:0]), settings.channel_cost(r.play.channel), day)
        for r in list_plays(warehouse)
    ]


def summarise(record: PlayRecord, rows: pd.DataFrame, cost_per_contact: float, day: dt.date) -> PlayResult:
    """One play's results from its play_outcomes rows."""
    play = record.play
    treated = (rows["arm"] == "treatment").to_numpy()
    resolved = rows["retained"].notna().to_numpy()
    y = pd.to_numeric(rows["retained"], errors="coerce").to_numpy(np.float64)[resolved]
    x = rows["churn_probability"].to_numpy(np.float64)[resolved]
    arm = treated[resolved]
    active = pd.to_numeric(rows["activated_w1"], errors="coerce").to_numpy(np.float64)
    adjusted = stats.adjusted_difference(y, arm, x)
    always = stats.confidence_sequence(y, arm, 1.0 - play.holdout_share, x)
    reach = _mean(rows["reached"].to_numpy(np.float64)[treated])
    value = _mean(pd.to_numeric(rows["expected_annual_value"], errors="coerce").to_numpy(np.float64)[treated])
    n_treated = int(treated.sum())
    saves = adjusted.estimate * n_treated
    revenue = saves * value
    cost = cost_per_contact * n_treated
    pays_from = cost_per_contact / value if value > 0 else 0.0
    return PlayResult(
        play=play.name,
        status=record.status_on(day),
        channel=play.channel,
        treatment=n_treated,
        holdout=int((~treated).sum()),
        resolved_treatment=int(arm.sum()),
        resolved_holdout=int((~arm).sum()),
        retention_treatment=_mean(y[arm]),
        retention_holdout=_mean(y[~arm]),
        activation_treatment=_mean(active[treated]),
        activation_holdout=_mean(active[~treated]),
        itt=stats.difference_in_means(y, arm),
        adjusted=adjusted,
        always_valid=always,
        reach_rate=reach,
        among_reached=adjusted.scaled(1.0 / reach) if reach > 0 else stats.NO_INTERVAL,
        saves=saves,
        revenue=revenue,
        cost=cost,
        return_on_cost=(revenue - cost) / cost if cost > 0 else math.nan,
        verdict=stats.verdict(always, pays_from),
    )


def results_frame(results: list[PlayResult]) -> pd.DataFrame:
    """The results as one flat row per play."""
    return pd.DataFrame([r.row() for r in results])


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan

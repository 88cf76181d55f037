"""The daily randomisation: newly eligible evaluators of each running play go to treatment or holdout.

After the day's score set is written, each active play (oldest first) takes the evaluators its rule accepts,
outside the measurement holdout (control_group), never one it has assigned before, and -- unless the play
allows overlap -- none in an arm of another play that has not ended (a paused play still measures its arms).
They are ranked by contact_value (the uplift of the play's channel x expected annual value - the channel's cost;
ties by instance) and, in that order, randomised exactly as the measurement holdout is
(churn_core.data.holdout.held_out): blocked randomisation within the stratum play|risk tier, the arm a hash of
(holdout_salt, stratum, position) with position the arrival order in the stratum, so every block holds out the
play's share and the same inputs give the same arms. Treatment stops at the play's daily capacity: the best-
ranked are treated, and everyone ranked after the evaluator who filled it is recorded `not_assigned` (without a
position, so the strata stay contiguous; they may be taken on a later day). Holdout evaluators ranked before the
cut keep their arm, so the arms compare like with like.

play_assignments is append-only and a play assigned on a day is not assigned again that day: re-running the
day changes nothing. It sits outside the signed score set (churn_core.scoring.integrity); the covariate the
results use, churn_probability at assignment, is stored with each row, so it is fixed before the outcome.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_core.data.holdout import held_out
from churn_core.plays.spec import Play
from churn_core.plays.store import ENDED, list_plays
from churn_core.schema import PLAY_ASSIGNMENTS
from churn_core.scoring import integrity
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

TREATMENT, HOLDOUT, NOT_ASSIGNED = "treatment", "holdout", "not_assigned"


@dataclass(frozen=True)
class Assigned:
    """What the day's run did for one play."""

    play: str
    treatment: int
    holdout: int
    not_assigned: int


def assign_plays(warehouse: Warehouse, settings: Settings, as_of: dt.date) -> list[Assigned]:
    """Randomise the evaluators newly eligible on `as_of` for every play running that day, and append them to
    play_assignments in one write (plays assigned that day already are left as they are)."""
    records = list_plays(warehouse)
    running = [r.play for r in records if r.assigns_on(as_of)]
    if not running or not warehouse.table_exists("evaluator_scores"):
        return []
    arms = _arms(warehouse, as_of)
    done = set(arms.loc[arms["assigned_today"] == 1, "play"])
    todo = [p for p in running if p.name not in done]
    if not todo:
        return []
    integrity.check_score_set(warehouse, settings, as_of)  # never pick contacts from an edited set
    scores = warehouse.run("play_candidates", {"as_of": as_of})
    final = arms[arms["arm"].isin([TREATMENT, HOLDOUT])]
    measuring = {r.play.name for r in records if r.status_on(as_of) != ENDED}  # paused plays still measure
    busy = set(final.loc[final["play"].isin(measuring), "instance"].astype(np.int64))
    next_position = final.groupby("stratum")["position"].max().add(1).astype(np.int64).to_dict()
    frames, summary = [], []
    for play in todo:
        mine = set(final.loc[final["play"] == play.name, "instance"].astype(np.int64))
        excluded = mine | (set() if play.allow_overlap else busy)
        frame = assign_play(play, scores, as_of, settings, excluded, next_position)
        busy |= set(frame.loc[frame["arm"] != NOT_ASSIGNED, "instance"].astype(np.int64))
        frames.append(frame)
        counts = frame["arm"].value_counts()
        summary.append(Assigned(play.name, *(int(counts.get(a, 0)) for a in (TREATMENT, HOLDOUT, NOT_ASSIGNED))))
    rows = pd.concat(frames, ignore_index=True)
    if len(rows):
        warehouse.append(PLAY_ASSIGNMENTS.name, rows)
    return summary


def assign_play(
    play: Play,
    scores: pd.DataFrame,
    as_of: dt.date,
    settings: Settings,
    excluded: set[int],
    next_position: dict[str, int],
) -> pd.DataFrame:
    """The play's play_assignments rows for the day (module doc): `scores` are the day's candidates,
    `excluded` the instances it may not take, `next_position` each stratum's next free position."""
    instance = scores["instance"].to_numpy(np.int64)
    keep = play.eligible(scores) & ~np.isin(instance, np.fromiter(excluded, np.int64, len(excluded)))
    pool = scores[keep]
    value = contact_value(pool, play.channel, settings.channel_cost(play.channel))
    order = np.lexsort((pool["instance"].to_numpy(np.int64), -np.nan_to_num(value, nan=-np.inf)))
    pool, value = pool.iloc[order].reset_index(drop=True), value[order]
    tier = pool["risk_tier"].astype(str).to_numpy()
    stratum = np.char.add(f"{play.name}|", tier.astype(str)).astype(object)
    first = pd.Series(stratum).map(next_position).fillna(0).astype(np.int64).to_numpy()
    position = first + pd.Series(stratum).groupby(stratum).cumcount().to_numpy(np.int64)
    holdout = held_out(stratum, position, play.holdout_share, settings.holdout_salt) if len(pool) else np.zeros(0, bool)
    treated_so_far = np.cumsum(~holdout)
    cut = np.searchsorted(treated_so_far, play.daily_capacity, side="right")  # first row past the capacity
    assigned = np.arange(len(pool)) < cut
    arm = np.where(~assigned, NOT_ASSIGNED, np.where(holdout, HOLDOUT, TREATMENT))
    for label, last in pd.Series(position[assigned]).groupby(stratum[assigned]).max().items():
        next_position[str(label)] = int(last) + 1
    return pd.DataFrame(
        {
            "play": pd.Series([play.name] * len(pool), dtype="str"),
            "instance": pool["instance"].to_numpy(np.int32),
            "arm": pd.Series(arm, dtype="str"),
            "assigned_date": [as_of] * len(pool),
            "rank": np.arange(1, len(pool) + 1, dtype=np.int32),
            "stratum": pd.Series(stratum, dtype="str"),
            "position": pd.Series(position, dtype="Int32").where(assigned, pd.NA),
            "churn_probability": pool["churn_probability"].to_numpy(np.float64),
            "contact_value": value,
            "risk_tier": pd.Series(tier, dtype="str"),
        }
    )


def contact_value(scores: pd.DataFrame, channel: str, cost: float) -> np.ndarray:
    """Expected incremental retained value of contacting each row through `channel`: its estimated uplift x
    expected annual value - the channel's cost (NaN without an uplift estimate)."""
    column = f"uplift_{channel}"
    uplift = pd.to_numeric(scores[column], errors="coerce") if column in scores else pd.Series(np.nan, scores.index)
    value = pd.to_numeric(scores["expected_annual_value"], errors="coerce").fillna(0.0)
    return (uplift * value).to_numpy(np.float64) - cost


def _arms(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    if not warehouse.table_exists(PLAY_ASSIGNMENTS.name):
        return pd.DataFrame(columns=["play", "instance", "arm", "stratum", "position", "assigned_today"])
    return warehouse.run("play_arms", {"as_of": as_of})

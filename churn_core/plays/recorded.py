"""Plays that ran before the product assigned them: the demo generator's, stored as the daily run would have.

The generator randomised its demo plays itself (churn_core.data.synthetic.plays) and records them in
demo_plays. Here they become plays with their status and play_assignments rows, the covariate computed the
way the daily run fixes it: the champion's churn probability from the features of the day the play's score
set was read (usage days 0..as_of_day, before the touch). The plays tables are replaced, since the demo's
data were just regenerated. On demo data only: the champion was trained on outcomes that include these
evaluators', which a production covariate never is.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from churn_core.data.synthetic import DEMO_PLAYS
from churn_core.plays.store import ACTIVE
from churn_core.schema import PLAY_ASSIGNMENTS, PLAY_STATUS, PLAYS, RISK_TIERS
from churn_core.scoring.score import ScoringModel, model_inputs, predict
from churn_core.scoring.targeting import risk_tier_codes
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

DEMO_OWNER = "demo"


def record_demo_plays(warehouse: Warehouse, settings: Settings, model: ScoringModel, end: dt.date) -> int:
    """Replace the plays tables with the demo plays (active until four weeks after `end`, the data's last
    day) and their assignments; how many evaluators were assigned."""
    frame = warehouse.run("demo_play_snapshots")
    _, probability = predict(model, frame, model_inputs(model, frame))
    tier = np.asarray(RISK_TIERS, dtype=object)[risk_tier_codes(probability, float(model.threshold), settings)]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    order = frame.groupby("play", sort=False).cumcount().to_numpy(np.int32)
    assignments = pd.DataFrame(
        {
            "play": frame["play"].astype("str"),
            "instance": frame["instance"].to_numpy(np.int32),
            "arm": frame["arm"].astype("str"),
            "assigned_date": pd.to_datetime(frame["assigned_date"].astype("str")).dt.date,
            "rank": order + 1,
            "stratum": (frame["play"] + "|demo").astype("str"),
            "position": pd.Series(order, dtype="Int32"),
            "churn_probability": probability,
            "contact_value": np.full(len(frame), np.nan),
            "risk_tier": pd.Series(tier, dtype="str"),
        }
    )
    plays = pd.DataFrame(
        [
            {
                "play": p.name,
                "owner": DEMO_OWNER,
                "channel": p.channel,
                "content_id": p.content_id,
                "eligibility": json.dumps(_rule(p.product, p.min_value, p.day - 1)),
                "daily_capacity": np.int32(500),
                "holdout_share": p.holdout_share,
                "start_date": end - dt.timedelta(days=p.window[0]),
                "end_date": end + dt.timedelta(days=28),
                "allow_overlap": np.int32(0),
                "created_at": now,
                "created_by": DEMO_OWNER,
            }
            for p in DEMO_PLAYS
        ],
        columns=PLAYS.names,
    )
    status = pd.DataFrame(
        {"play": plays["play"], "status": ACTIVE, "changed_at": now, "changed_by": DEMO_OWNER},
        columns=PLAY_STATUS.names,
    )
    warehouse.write_tables({PLAYS.name: plays, PLAY_STATUS.name: status, PLAY_ASSIGNMENTS.name: assignments})
    return len(assignments)


def _rule(product: str | None, min_value: float, day_of_trial: int) -> dict[str, object]:
    """The demo play's eligibility as a play rule (the same as the generator's, on the score set's columns)."""
    rule: dict[str, object] = {"day_of_trial": {"min": day_of_trial, "max": day_of_trial}}
    if product is not None:
        rule["product"] = [product]
    if min_value > 0:
        rule["expected_annual_value"] = {"min": min_value, "max": None}
    return rule

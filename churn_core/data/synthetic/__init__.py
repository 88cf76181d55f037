"""The demo data generator: realistic free-trial telemetry, marketing touches and outcomes, from one seed.

`generate()` returns the four raw tables of churn_core.schema (`evaluators`, `daily_usage`, `engagements`,
`content`) plus `demo_truth`, the hidden quantities that produced them (never read by a feature query).
Everything is vectorised numpy over evaluators (the only loop is over the 14 days of a trial), so the
default 57,700 evaluators take a few seconds and a million well under two minutes.

The story the data tells, one module per part:

* evaluators.py: evaluations start on each of the `days` days ending at `end_date`, fewer at weekends,
  slowly growing. Each evaluator has a hidden engagement propensity (demo_truth.engagement_propensity, in
  (0, 1)) that drives its usage; team size (heavy-tailed, mostly 2-20 seats) scales users and volumes, and
  its engagement decays or grows over the 14-day trial depending on the propensity.
* usage.py: daily_usage has one row per instance and trial day 0..13 reached by `end_date`.
* The control group is the product's own measurement holdout (churn_core.data.holdout, 10% by default),
  drawn by the same function `churn etl` assigns it with, so on the demo the two are the same evaluators.
* touches.py: the marketing touches of everyone outside the control group, and what each is worth.
* The outcome `retained` is drawn from `true_retention_prob` = a non-linear function of the propensity,
  week-1 behaviour (days 0..7) and segment, plus the additive uplift of the touches received.
  demo_truth.effect_<channel> is the true expected uplift (in retention probability) of ONE touch on that
  channel for that evaluator, averaged over delivery, response and content. For evaluators still
  unresolved at `end_date` the probability includes the touches planned for the rest of their trial.
  Outcomes resolve 14 to 30 days after the trial starts; later than `end_date` means retained and
  resolved_date are NULL.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn_core.data.synthetic.common import TRIAL_DAYS, epoch, weekday
from churn_core.data.synthetic.evaluators import (
    base_retention,
    draw_segments,
    draw_traits,
    evaluators_frame,
    truth_frame,
    week1_behaviour,
)
from churn_core.data.synthetic.touches import content_frame, engagement_frame, per_touch_effects, simulate_touches
from churn_core.data.synthetic.usage import simulate_usage, usage_frame
from churn_core.settings import Settings

__all__ = ["DEFAULT_END_DATE", "TABLE_NAMES", "TRIAL_DAYS", "generate"]

DEFAULT_END_DATE = dt.date(2026, 11, 26)
TABLE_NAMES: tuple[str, ...] = ("evaluators", "daily_usage", "engagements", "content", "demo_truth")


def generate(
    n_evaluators: int = 57_700,
    days: int = 90,
    seed: int = 7,
    end_date: dt.date | None = None,
    holdout_share: float = Settings.holdout_share,
    holdout_salt: str = Settings.holdout_salt,
) -> dict[str, pd.DataFrame]:
    """The demo tables: evaluators, daily_usage, engagements, content and demo_truth (see the module doc); the
    control group is the holdout that settings holdout_share and holdout_salt give."""
    if n_evaluators < 1 or days < 1:
        raise ValueError("n_evaluators and days must be positive")
    end_date = end_date or DEFAULT_END_DATE
    rng = np.random.default_rng(seed)
    first_epoch = epoch(end_date) - (days - 1)
    first_weekday = weekday(first_epoch)

    segments = draw_segments(rng, int(n_evaluators), days, first_epoch, (holdout_share, holdout_salt))
    traits = draw_traits(rng, segments)
    usage = simulate_usage(rng, segments, traits, first_weekday)
    week1 = week1_behaviour(usage, segments.team)
    base_prob = base_retention(rng, segments, traits, week1)
    per_touch = per_touch_effects(segments, traits, week1)
    touches, uplift, effects = simulate_touches(
        rng, segments, traits.z, usage["active_users"], first_weekday, per_touch
    )
    true_prob = np.clip(base_prob + uplift, 0.001, 0.999)
    evaluators = evaluators_frame(rng, segments, true_prob, days, first_epoch)
    demo_truth = truth_frame(segments, traits, true_prob, effects)
    daily = usage_frame(rng, usage, segments, days, first_epoch)
    del usage
    return {
        "evaluators": evaluators,
        "daily_usage": daily,
        "engagements": engagement_frame(rng, touches, segments, days, first_epoch),
        "content": content_frame(),
        "demo_truth": demo_truth,
    }

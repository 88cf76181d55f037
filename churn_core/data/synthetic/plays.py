"""Contact plays run on the demo's history, with known true effects, so the whole plays loop can be checked.

Each demo play takes the evaluators outside the control group whose trial started in its window and who match
its rule (a product, a least expected annual value), none taken by an earlier play; they are randomised to
treatment or holdout in arrival order by the measurement holdout's function (churn_core.data.holdout.held_out,
stratum "<play>|demo"). On day `day` of its trial each treated evaluator gets one more touch on the play's
channel with its content item, which adds to its retention probability what one touch adds (the channel's
per-touch effect for that evaluator x delivered x (1 + response bonus) x the item's quality): no repeat decay,
it comes on top of the background marketing both arms get alike. The true effect of being assigned to
treatment is that touch's expected uplift (over delivery and response); `demo_plays` records it per evaluator
with the arm and the day the play's score set was read (the day before the touch), so results can be checked
against the truth. The draws use their own random stream, so the rest of the demo is drawn as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_core.data import holdout
from churn_core.data.synthetic.common import date
from churn_core.data.synthetic.evaluators import PRODUCTS, Segments
from churn_core.data.synthetic.touches import CONTENT_ITEMS, RESPONSE_BONUS, Touches, channel_items, responses
from churn_core.schema import CHANNELS


@dataclass(frozen=True)
class DemoPlay:
    name: str
    channel: str
    content_id: str
    day: int  # trial day of the play's touch; assigned from the score set of the day before
    holdout_share: float
    product: str | None  # eligible product (None: any)
    min_value: float  # eligible expected annual value at least
    window: tuple[int, int]  # trials that started this many days before the data's end, (from, to)


DEMO_PLAYS: tuple[DemoPlay, ...] = (
    DemoPlay("Call valuable teams", "phone", "PH-02", 3, 0.5, None, 5_000.0, (84, 21)),
    DemoPlay("Chat with Desk trials", "chat", "CH-01", 2, 0.5, "Desk", 0.0, (84, 21)),
    DemoPlay("Push Docs mentions", "push", "PU-01", 4, 0.5, "Docs", 0.0, (49, 21)),
)


@dataclass(frozen=True)
class PlayRun:
    """What the demo plays did: their touches, the realised uplift per evaluator, and the demo_plays rows."""

    touches: Touches
    uplift: np.ndarray
    rows: pd.DataFrame


def run_plays(
    seed: int,
    s: Segments,
    z: np.ndarray,
    per_touch: dict[str, np.ndarray],
    expected: dict[str, np.ndarray],
    days: int,
    first_epoch: int,
    salt: str,
) -> PlayRun:
    """Assign, touch and record every demo play (module doc); `expected` is one touch's expected uplift per
    channel and evaluator at average content."""
    rng = np.random.default_rng([seed, 17])
    taken = s.control.copy()
    frames, touches, uplift = [], [], np.zeros(len(s.ids))
    quality = np.asarray([item.quality for item in CONTENT_ITEMS])
    for play in DEMO_PLAYS:
        j = CHANNELS.index(play.channel)
        item = next(i for i, c in enumerate(CONTENT_ITEMS) if c.content_id == play.content_id)
        scale = quality[item] / quality[channel_items()[j]].mean()
        since = days - 1 - s.start
        eligible = (since <= play.window[0]) & (since >= play.window[1]) & ~taken & (s.value >= play.min_value)
        if play.product is not None:
            eligible &= s.product == PRODUCTS.index(play.product)
        who = np.flatnonzero(eligible)  # evaluators are in arrival order
        taken[who] = True
        stratum = np.full(len(who), f"{play.name}|demo", dtype=object)
        treated = ~holdout.held_out(stratum, np.arange(len(who)), play.holdout_share, salt)
        hit = who[treated]
        channel = np.full(len(hit), j, np.int8)
        delivered, opened, responded = responses(rng, channel, z[hit].astype(np.float64), np.ones(len(hit), bool))
        weight = delivered * (1.0 + RESPONSE_BONUS * responded)
        uplift[hit] += per_touch[play.channel][hit] * weight * scale
        touches.append(
            Touches(
                hit,
                channel,
                np.full(len(hit), play.day, np.int32),
                np.full(len(hit), item),
                delivered,
                opened,
                responded,
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    "play": pd.Series([play.name] * len(who), dtype="str"),
                    "instance": s.ids[who],
                    "arm": pd.Series(np.where(treated, "treatment", "holdout"), dtype="str"),
                    "assigned_date": date(first_epoch + s.start[who] + play.day - 1),
                    "as_of_day": np.full(len(who), play.day - 1, np.int32),
                    "true_effect": expected[play.channel][who] * scale,
                }
            )
        )
    return PlayRun(Touches.joined(touches), uplift, pd.concat(frames, ignore_index=True))

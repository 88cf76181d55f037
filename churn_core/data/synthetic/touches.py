"""Marketing touches and what they are worth: channels, the content catalogue, who gets what when, and how
a touch adds to an evaluator's retention probability.

About 10% of evaluators are a control group that receives no touches. Everyone else gets a random primary
channel (probabilities depend a little on segment: phone goes more to high value accounts) with one or more
touches on days 1..13, plus sometimes an extra touch on another channel. A touch only helps when it is
delivered, twice as much when responded to, scaled by its content item's quality, and further touches on the
same channel add 60%, 36%, ... of the first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from churn_core.data.synthetic.common import TRIAL_DAYS, WEEK1_LAST_DAY, choice, logit, sigmoid
from churn_core.data.synthetic.evaluators import Segments, Traits, Week1
from churn_core.schema import CHANNELS

RESPONSE_BONUS = 1.0  # a responded touch helps (1 + RESPONSE_BONUS) times as much as a delivered one
REPEAT_DECAY = 0.6  # the k-th further touch on the same channel adds REPEAT_DECAY**k of the first


@dataclass(frozen=True)
class ContentItem:
    content_id: str
    title: str
    channel: str
    topic: str
    quality: float  # hidden: multiplies the channel's effect


@dataclass(frozen=True)
class ChannelProfile:
    """How a channel is used and received at average propensity."""

    primary: float  # share as primary channel
    extra: float  # share of extra touches
    more: float  # mean further touches when primary
    deliver: float  # delivery probability
    open: float  # opened, given delivered
    respond: float  # responded, given opened
    hours: tuple[int, int]  # when touches go out (UTC)


CONTENT_ITEMS: tuple[ContentItem, ...] = (
    ContentItem("EM-01", "Welcome: your first project in five minutes", "email", "onboarding", 1.0),
    ContentItem("EM-02", "Bring your team: invite teammates", "email", "collaboration", 1.6),
    ContentItem("EM-03", "Plan your first sprint", "email", "agile", 1.3),
    ContentItem("EM-04", "Ten keyboard shortcuts you will love", "email", "onboarding", 0.6),
    ContentItem("EM-05", "Connect Slack and GitHub in two clicks", "email", "integrations", 1.3),
    ContentItem("EM-06", "Your trial ends soon: pick a plan", "email", "pricing", 0.4),
    ContentItem("EM-07", "Take your work anywhere with the mobile app", "email", "mobile", 0.9),
    ContentItem("EM-08", "Customer story: how teams ship faster", "email", "collaboration", 0.9),
    ContentItem("EM-09", "Weekly tips digest", "email", "onboarding", 0.7),
    ContentItem("EM-10", "Last chance: your trial is expiring", "email", "pricing", -0.8),
    ContentItem("PH-01", "Personal onboarding call", "phone", "onboarding", 1.1),
    ContentItem("PH-02", "Solution architect consultation", "phone", "integrations", 1.5),
    ContentItem("PH-03", "Plans and procurement call", "phone", "pricing", 0.8),
    ContentItem("PH-04", "Quick check-in call", "phone", "onboarding", 0.5),
    ContentItem("CH-01", "Live onboarding help", "chat", "onboarding", 1.3),
    ContentItem("CH-02", "Set up your workflow with an expert", "chat", "agile", 1.0),
    ContentItem("CH-03", "Integration help desk", "chat", "integrations", 1.1),
    ContentItem("CH-04", "Questions about plans and pricing?", "chat", "pricing", 0.5),
    ContentItem("CH-05", "Stuck? We can help", "chat", "onboarding", 0.9),
    ContentItem("PU-01", "You were mentioned", "push", "collaboration", 1.4),
    ContentItem("PU-02", "Your sprint ends tomorrow", "push", "agile", 1.1),
    ContentItem("PU-03", "Your daily summary", "push", "mobile", 0.7),
    ContentItem("PU-04", "Trial reminder", "push", "pricing", 0.2),
    ContentItem("PU-05", "New comment on your issue", "push", "collaboration", 1.0),
    ContentItem("IA-01", "Guided product tour", "in_app", "onboarding", 1.3),
    ContentItem("IA-02", "Getting-started checklist", "in_app", "onboarding", 1.1),
    ContentItem("IA-03", "Invite your teammates", "in_app", "collaboration", 1.5),
    ContentItem("IA-04", "Try sprints", "in_app", "agile", 1.0),
    ContentItem("IA-05", "Upgrade now", "in_app", "pricing", 0.3),
    ContentItem("IA-06", "Install the mobile app", "in_app", "mobile", 0.8),
)
PROFILES: dict[str, ChannelProfile] = {
    "email": ChannelProfile(primary=0.42, extra=0.50, more=1.2, deliver=0.96, open=0.40, respond=0.22, hours=(8, 17)),
    "phone": ChannelProfile(primary=0.10, extra=0.05, more=0.15, deliver=0.60, open=0.80, respond=0.35, hours=(9, 17)),
    "chat": ChannelProfile(primary=0.14, extra=0.10, more=0.30, deliver=0.90, open=0.55, respond=0.40, hours=(9, 17)),
    "push": ChannelProfile(primary=0.14, extra=0.15, more=0.80, deliver=0.85, open=0.25, respond=0.30, hours=(9, 19)),
    "in_app": ChannelProfile(primary=0.20, extra=0.20, more=0.80, deliver=0.95, open=0.50, respond=0.25, hours=(8, 19)),
}
_SPECS = [PROFILES[c] for c in CHANNELS]  # indexed by channel code


@dataclass(frozen=True)
class Touches:
    """One entry per touch, planned over the whole trial: evaluator row, channel code, trial day, content
    item (index into CONTENT_ITEMS) and whether it was delivered, opened and responded to."""

    who: np.ndarray
    channel: np.ndarray
    day: np.ndarray
    content: np.ndarray
    delivered: np.ndarray
    opened: np.ndarray
    responded: np.ndarray

    def where(self, keep: np.ndarray) -> Touches:
        return Touches(*(getattr(self, f.name)[keep] for f in fields(self)))


def _day_probabilities() -> np.ndarray:
    """(channel, trial day) probabilities: email front-loaded, phone mid-trial, in-app in week 1."""
    probs = np.zeros((len(CHANNELS), TRIAL_DAYS))
    d = np.arange(TRIAL_DAYS)
    probs[0, 1:] = np.exp(-0.12 * d[1:])
    probs[1, 2:11] = 1.0
    probs[2, 1:] = np.exp(-0.08 * d[1:])
    probs[3, 1:] = 1.0
    probs[4, 1 : WEEK1_LAST_DAY + 1] = np.exp(-0.2 * d[1 : WEEK1_LAST_DAY + 1])
    return probs / probs.sum(axis=1, keepdims=True)


DAY_PROBS = _day_probabilities()


def per_touch_effects(s: Segments, t: Traits, w: Week1) -> dict[str, np.ndarray]:
    """The true effect of one delivered touch at average content, per channel and evaluator."""
    return {
        "email": 0.008 + 0.014 * t.propensity,
        "phone": -0.015 + 0.13 * sigmoid((np.log(s.value) - np.log(12_000.0)) / 0.6),
        "chat": 0.004 + 0.085 * (1.0 - t.propensity) ** 2 - 0.012 * (s.region == 2),
        "push": np.where(t.mobile_user, 0.065, -0.004),
        "in_app": 0.004 + 0.055 * (1.0 - np.minimum(w.ratio, 1.0)) * (w.distinct <= 2),
    }


def simulate_touches(
    rng: np.random.Generator,
    s: Segments,
    z: np.ndarray,
    active_users: np.ndarray,
    first_weekday: int,
    per_touch: dict[str, np.ndarray],
) -> tuple[Touches, np.ndarray, dict[str, np.ndarray]]:
    """Touches for every non-control evaluator, the realised uplift in retention probability per evaluator,
    and the true expected uplift of one touch per channel and evaluator."""
    who, channel = _plan(rng, s)
    day = _schedule(rng, channel, s.start[who], first_weekday)
    content = _content(rng, channel)
    delivered, opened, responded = _responses(rng, channel, z[who].astype(np.float64), active_users[who, day] > 0)
    touches = Touches(who, channel, day, content, delivered, opened, responded)
    return touches, _realised_uplift(touches, per_touch, len(s.ids)), _expected_effects(z, active_users, per_touch)


def _plan(rng: np.random.Generator, s: Segments) -> tuple[np.ndarray, np.ndarray]:
    """Who gets a touch on which channel: a primary channel (phone aimed at high value, push a little more
    for Boards, chat for Desk) one or more times, and sometimes one extra touch on any channel."""
    treated = np.flatnonzero(~s.control)
    weights = np.tile(np.asarray([p.primary for p in _SPECS]), (len(treated), 1))
    weights[:, 1] *= np.exp(0.55 * (np.log(s.value[treated]) - np.log(3_000.0))).clip(0.15, 6.0)
    weights[:, 3] *= np.where(s.product[treated] == 0, 1.4, 0.8)
    weights[:, 2] *= np.where(s.product[treated] == 2, 1.4, 1.0)
    primary = choice(rng, weights)
    more = np.asarray([p.more for p in _SPECS])[primary]
    count = 1 + np.minimum(rng.poisson(more), 4)
    has_extra = rng.random(len(treated)) < 0.3
    extra = rng.choice(len(CHANNELS), size=int(has_extra.sum()), p=np.asarray([p.extra for p in _SPECS]) / 1.0)
    who = np.concatenate([np.repeat(treated, count), treated[has_extra]])
    channel = np.concatenate([np.repeat(primary, count), extra.astype(np.int8)])
    return who, channel


def _schedule(rng: np.random.Generator, channel: np.ndarray, start: np.ndarray, first_weekday: int) -> np.ndarray:
    """The trial day of each touch (1..13), phone and chat moved off weekends."""
    day = choice(rng, DAY_PROBS[channel]).astype(np.int32)
    weekday = (first_weekday + start + day) % 7
    weekday_only = (channel == 1) | (channel == 2)
    shift = np.where(
        weekday == 5,
        np.where(day + 2 <= TRIAL_DAYS - 1, 2, -1),
        np.where(weekday == 6, np.where(day + 1 <= TRIAL_DAYS - 1, 1, -2), 0),
    )
    return np.where(weekday_only, day + shift, day).astype(np.int32)


def _channel_items() -> list[list[int]]:
    """The indices into CONTENT_ITEMS of each channel's items, by channel code."""
    return [[i for i, item in enumerate(CONTENT_ITEMS) if item.channel == ch] for ch in CHANNELS]


def _content(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """A content item for each touch, uniform within its channel."""
    items_of = _channel_items()
    pick = (rng.random(len(channel)) * np.asarray([len(i) for i in items_of])[channel]).astype(np.int64)
    width = max(len(items) for items in items_of)
    table = np.asarray([items + items[-1:] * (width - len(items)) for items in items_of])
    return table[channel, pick]


def _responses(
    rng: np.random.Generator, channel: np.ndarray, z: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delivered, opened, responded: channel rates shifted by propensity; in-app shows only on active days."""
    m = len(channel)
    p_deliver = np.asarray([p.deliver for p in _SPECS])[channel]
    p_open = sigmoid(np.asarray([logit(p.open) for p in _SPECS])[channel] + 0.5 * z)
    p_respond = sigmoid(np.asarray([logit(p.respond) for p in _SPECS])[channel] + 0.4 * z)
    p_deliver = np.where(channel == 4, p_deliver * seen, p_deliver)
    delivered = rng.random(m) < p_deliver
    opened = delivered & (rng.random(m) < p_open)
    responded = opened & (rng.random(m) < p_respond)
    return delivered, opened, responded


def _realised_uplift(t: Touches, per_touch: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Per evaluator: per-touch effect x delivery/response weight x content quality x repeat decay, summed."""
    m, k = len(t.who), len(CHANNELS)
    order = np.lexsort((t.day, t.channel, t.who))
    key = t.who[order].astype(np.int64) * k + t.channel[order]
    group_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m) - np.repeat(group_start, np.diff(np.r_[group_start, m]))
    quality = np.asarray([item.quality for item in CONTENT_ITEMS])
    mean_quality = np.asarray([quality[items].mean() for items in _channel_items()])
    effect_table = np.stack([per_touch[c] for c in CHANNELS], axis=1)  # (n, k)
    weight = t.delivered * (1.0 + RESPONSE_BONUS * t.responded)
    contribution = (
        effect_table[t.who, t.channel] * weight * quality[t.content] / mean_quality[t.channel] * REPEAT_DECAY**rank
    )
    return np.bincount(t.who, weights=contribution, minlength=n)


def _expected_effects(
    z: np.ndarray, active_users: np.ndarray, per_touch: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The true expected uplift of one touch per channel and evaluator, averaged over delivery, response
    and content (the same probabilities the touches were drawn with)."""
    zf = z.astype(np.float64)
    effects = {}
    for j, (name, p) in enumerate(zip(CHANNELS, _SPECS, strict=True)):
        expected_weight = p.deliver * (
            1.0 + RESPONSE_BONUS * sigmoid(logit(p.open) + 0.5 * zf) * sigmoid(logit(p.respond) + 0.4 * zf)
        )
        if name == "in_app":
            expected_weight = expected_weight * ((active_users > 0) @ DAY_PROBS[j])
        effects[name] = per_touch[name] * expected_weight
    return effects


def engagement_frame(
    rng: np.random.Generator, touches: Touches, s: Segments, days: int, first_epoch: int
) -> pd.DataFrame:
    """The touches sent by end_date, at business hours, ordered by time, typed per the schema."""
    sel = touches.where(s.start[touches.who] + touches.day <= days - 1)
    m = len(sel.who)
    low = np.asarray([p.hours[0] for p in _SPECS])[sel.channel]
    high = np.asarray([p.hours[1] for p in _SPECS])[sel.channel]
    seconds = ((low + rng.random(m) * (high - low)) * 3600).astype(np.int64)
    stamp = ((first_epoch + s.start[sel.who] + sel.day).astype(np.int64) * 86_400 + seconds) * 1_000_000
    order = np.lexsort((s.ids[sel.who], stamp))
    channels = np.asarray(CHANNELS, dtype=object)
    items = np.asarray([item.content_id for item in CONTENT_ITEMS], dtype=object)
    return pd.DataFrame(
        {
            "engagement_id": np.arange(m, dtype=np.int64) + 7_000_000_001,
            "instance": s.ids[sel.who][order],
            "sent_at": stamp[order].astype("datetime64[us]"),
            "channel": pd.Series(channels[sel.channel[order]], dtype="str"),
            "content_id": pd.Series(items[sel.content[order]], dtype="str"),
            "delivered": sel.delivered[order].astype(np.int32),
            "opened": sel.opened[order].astype(np.int32),
            "responded": sel.responded[order].astype(np.int32),
        }
    )


def content_frame() -> pd.DataFrame:
    """The content catalogue as the content table (without the hidden quality)."""
    return pd.DataFrame(
        {
            "content_id": pd.Series([c.content_id for c in CONTENT_ITEMS], dtype="str"),
            "title": pd.Series([c.title for c in CONTENT_ITEMS], dtype="str"),
            "channel": pd.Series([c.channel for c in CONTENT_ITEMS], dtype="str"),
            "topic": pd.Series([c.topic for c in CONTENT_ITEMS], dtype="str"),
        }
    )

"""Who signs up for a trial (segments), the hidden traits that drive their usage, and whether they stay."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_core.data import holdout
from churn_core.data.synthetic.common import WEEK1_LAST_DAY, choice, date, nullable, sigmoid, text, weekday
from churn_core.schema import CHANNELS

MIN_RESOLUTION_DAYS, MAX_RESOLUTION_DAYS = 14, 30
PRODUCTS = ("Boards", "Docs", "Desk")
PRODUCT_P = (0.56, 0.26, 0.18)
EDITIONS = ("standard", "premium", "enterprise")
REGIONS = ("AMER", "EMEA", "APAC", "LATAM")
REGION_P = (0.44, 0.31, 0.18, 0.07)
SOURCES = ("organic", "paid_search", "partner", "referral", "marketplace")
SOURCE_P = (0.41, 0.26, 0.09, 0.14, 0.10)
SIZE_BANDS = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+")
SIZE_EDGES = (10, 50, 200, 1000, 5000)
PRICE_PER_SEAT_MONTH = {"standard": 8.0, "premium": 15.5, "enterprise": 27.0}
PRODUCT_PRICE_FACTOR = (1.0, 0.75, 2.1)
RETENTION_INTERCEPT, RETENTION_SCALE = -3.4, 0.8  # tuned: ~30% retained, true-probability ROC AUC ~0.86


@dataclass(frozen=True)
class Segments:
    """What the evaluators table shows of each evaluator (codes index the tuples above), by start date."""

    ids: np.ndarray
    start: np.ndarray  # trial start, days after the first day of the window
    team: np.ndarray
    band: np.ndarray
    product: np.ndarray
    region: np.ndarray
    source: np.ndarray
    edition: np.ndarray
    value: np.ndarray  # expected annual value
    control: np.ndarray  # in the control group, the product's holdout (churn_core.data.holdout): no touches


@dataclass(frozen=True)
class Traits:
    """The hidden traits that drive an evaluator's usage (z is the engagement propensity's logit)."""

    z: np.ndarray
    propensity: np.ndarray
    slope: np.ndarray  # activity trend per trial day
    ghost: np.ndarray  # signs up, then barely comes back
    intensity: np.ndarray
    mobile_user: np.ndarray
    watcher: np.ndarray
    agile: np.ndarray
    product_volume: np.ndarray


@dataclass(frozen=True)
class Week1:
    """Week-1 behaviour (days 0..7) the outcome depends on."""

    distinct: np.ndarray  # distinct active users
    ratio: np.ndarray  # of the team
    active_days: np.ndarray
    sprints: np.ndarray
    invites: np.ndarray
    completed: np.ndarray
    mobile: np.ndarray


def draw_segments(
    rng: np.random.Generator, n: int, days: int, first_epoch: int, holdout_rule: tuple[float, str]
) -> Segments:
    """Sign-ups on each day of the window (fewer at weekends, slowly growing), their segments, and the control
    group: the product's holdout for (share, salt) = `holdout_rule`, assigned exactly as `churn etl` assigns it."""
    first_weekday = weekday(first_epoch)
    offsets = np.arange(days)
    weights = np.where((first_weekday + offsets) % 7 >= 5, 0.42, 1.0) * (1.0 + 0.25 * offsets / max(days, 1))
    start = np.sort(rng.choice(days, size=n, p=weights / weights.sum())).astype(np.int32)
    ids = rng.permutation(n).astype(np.int32) + 100_000
    ids = ids[np.lexsort((ids, start))]
    team = np.clip(np.rint(np.exp(np.log(5.5) + 1.05 * rng.standard_normal(n))), 1, 500).astype(np.int32)
    log_team = np.log(team)
    employees = np.maximum(team, np.exp(1.7 + 1.05 * log_team + 1.1 * rng.standard_normal(n)))
    band = np.searchsorted(np.asarray(SIZE_EDGES), employees, side="left").astype(np.int8)
    product = rng.choice(len(PRODUCTS), size=n, p=PRODUCT_P).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n, p=REGION_P).astype(np.int8)
    source = rng.choice(len(SOURCES), size=n, p=SOURCE_P).astype(np.int8)
    edition_logits = np.stack(
        [np.zeros(n), -1.3 + 0.35 * log_team + 0.15 * (band >= 3), -3.4 + 0.6 * log_team + 0.5 * (band >= 4)], axis=1
    )
    edition = choice(rng, np.exp(edition_logits))
    price = np.asarray([PRICE_PER_SEAT_MONTH[e] for e in EDITIONS])[edition]
    seats = np.maximum(1.0, np.rint(team * np.exp(0.05 + 0.3 * rng.standard_normal(n))))
    value = np.round(
        seats * price * np.asarray(PRODUCT_PRICE_FACTOR)[product] * 12.0 * np.exp(0.1 * rng.standard_normal(n)), 2
    )
    # evaluators are in arrival order (start day, then instance): positions within each stratum count up from 0
    stratum = holdout.strata(np.asarray(PRODUCTS, dtype=object)[product], first_epoch + start)
    position = holdout.arrival_positions(stratum, start, ids, np.zeros(n, np.int64))
    control = holdout.held_out(stratum, position, *holdout_rule)
    return Segments(ids, start, team, band, product, region, source, edition, value, control)


def draw_traits(rng: np.random.Generator, s: Segments) -> Traits:
    """Hidden traits, shifted by acquisition source, edition and region."""
    n = len(s.ids)
    z = (
        rng.standard_normal(n)
        + np.asarray([0.0, -0.25, 0.15, 0.35, 0.05])[s.source]
        + np.asarray([0.0, 0.12, 0.25])[s.edition]
        + np.asarray([0.0, 0.03, -0.05, -0.1])[s.region]
    ).astype(np.float32)
    propensity = sigmoid(z.astype(np.float64))
    slope = (0.11 * z - 0.10 + 0.07 * rng.standard_normal(n)).astype(np.float32)
    ghost = rng.random(n) < sigmoid(-1.7 - 1.0 * z)
    intensity = (0.45 * z + 0.35 * rng.standard_normal(n)).astype(np.float32)
    mobile_user = rng.random(n) < 0.13 + 0.06 * (s.product == 0) + 0.06 * (s.region == 2) + 0.05 * propensity
    watcher = rng.random(n) < 0.10 + 0.10 * propensity
    agile = rng.random(n) < np.asarray([0.55, 0.06, 0.12])[s.product] * (0.5 + propensity)
    product_volume = np.asarray([1.0, 0.45, 1.6], dtype=np.float32)[s.product]
    return Traits(z, propensity, slope, ghost, intensity, mobile_user, watcher, agile, product_volume)


def week1_behaviour(usage: dict[str, np.ndarray], team: np.ndarray) -> Week1:
    w1 = slice(0, WEEK1_LAST_DAY + 1)
    distinct = usage["new_active_users"][:, w1].sum(axis=1)
    return Week1(
        distinct=distinct,
        ratio=distinct / team,
        active_days=(usage["active_users"][:, w1] > 0).sum(axis=1),
        sprints=usage["sprints_started"][:, w1].sum(axis=1),
        invites=usage["invites_sent"][:, w1].sum(axis=1),
        completed=usage["issues_completed"][:, w1].sum(axis=1),
        mobile=usage["mobile_sessions"][:, w1].sum(axis=1),
    )


def base_retention(rng: np.random.Generator, s: Segments, t: Traits, w: Week1) -> np.ndarray:
    """The retention probability without marketing: a non-linear function of propensity, week 1 and segment."""
    lc = np.log1p(w.completed)
    signal = (
        0.75 * t.z
        + 1.5 * w.ratio * (s.team > 1)
        + 0.35 * np.log1p(w.distinct)
        + 0.16 * w.active_days
        + (w.sprints > 0) * np.where(s.product == 0, 0.65, 0.3)
        + 0.55 * ((w.distinct >= 2) & (w.sprints > 0))
        + 0.25 * np.log1p(w.invites)
        + 0.40 * lc
        - 0.06 * lc * lc
        + 0.20 * w.ratio * np.log(s.team)
        + 0.15 * (w.mobile > 0)
        - 0.45 * (s.team == 1)
        - 0.25 * (s.team > 150)
        + np.asarray([0.0, 0.15, 0.35])[s.edition]
        + np.asarray([0.0, -0.25, 0.15, 0.30, 0.05])[s.source]
        + np.asarray([0.0, 0.05, -0.10, -0.15])[s.region]
        + np.asarray([0.0, -0.10, 0.10])[s.product]
        + 0.45 * rng.standard_normal(len(s.ids))
    )
    return sigmoid(RETENTION_INTERCEPT + RETENTION_SCALE * signal)


def evaluators_frame(
    rng: np.random.Generator, s: Segments, true_prob: np.ndarray, days: int, first_epoch: int
) -> pd.DataFrame:
    """Draw each outcome from its true probability; it resolves 14 to 30 days after the trial starts, and an
    outcome later than the window's end is unknown (retained and resolved_date NULL)."""
    n = len(s.ids)
    retained = rng.random(n) < true_prob
    lag = MIN_RESOLUTION_DAYS + np.minimum(rng.geometric(0.22, size=n) - 1, MAX_RESOLUTION_DAYS - MIN_RESOLUTION_DAYS)
    unresolved = s.start + lag > days - 1
    return pd.DataFrame(
        {
            "instance": s.ids,
            "eval_start_date": date(first_epoch + s.start),
            "product": text(PRODUCTS, s.product),
            "edition": text(EDITIONS, s.edition),
            "team_size": s.team,
            "company_size_band": text(SIZE_BANDS, s.band),
            "region": text(REGIONS, s.region),
            "acquisition_source": text(SOURCES, s.source),
            "expected_annual_value": s.value.astype(np.float64),
            "control_group": s.control.astype(np.int32),
            "retained": nullable(retained.astype(np.int32), unresolved),
            "resolved_date": date(first_epoch + s.start + lag, unresolved),
        }
    )


def truth_frame(s: Segments, t: Traits, true_prob: np.ndarray, effects: dict[str, np.ndarray]) -> pd.DataFrame:
    """demo_truth: the hidden quantities behind each evaluator's data (never read by a feature query)."""
    return pd.DataFrame(
        {
            "instance": s.ids,
            "engagement_propensity": t.propensity,
            "true_retention_prob": true_prob.astype(np.float64),
            **{f"effect_{c}": effects[c].astype(np.float64) for c in CHANNELS},
        }
    )

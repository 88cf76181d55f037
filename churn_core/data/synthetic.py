"""The demo data generator: realistic free-trial telemetry, marketing touches and outcomes, from one seed.

`generate()` returns the four raw tables of churn_core.schema (`evaluators`, `daily_usage`, `engagements`,
`content`) plus `demo_truth`, the hidden quantities that produced them (never read by a feature query).
Everything is vectorised numpy over evaluators (the only loop is over the 14 days of a trial), so the
default 57,700 evaluators take a few seconds and a million well under two minutes.

The story the data tells:

* Evaluations start on each of the `days` days ending at `end_date`, fewer at weekends, slowly growing.
* Each evaluator has a hidden engagement propensity (demo_truth.engagement_propensity, in (0, 1)) that
  drives its usage; team size (heavy-tailed, mostly 2-20 seats) scales users and volumes, and its
  engagement decays or grows over the 14-day trial depending on the propensity.
* daily_usage has one row per instance and trial day 0..13 reached by `end_date`. Each day has an
  activity gate (with a weekday/weekend rhythm) and Poisson-lognormal volumes; distinct users accumulate
  through returning users plus new ones (helped by invitations), so the running sum of
  new_active_users is the number of distinct users so far and never exceeds team_size. A few percent of
  issues_viewed, mobile_sessions and at_mentions are missing (telemetry gaps).
* About 10% of evaluators are a control group that receives no marketing touches. Everyone else gets a
  random primary channel (probabilities depend a little on segment: phone goes more to high value
  accounts) with one or more touches on days 1..13, plus sometimes an extra touch on another channel.
* The outcome `retained` is drawn from `true_retention_prob` = a non-linear function of the propensity,
  week-1 behaviour (days 0..7) and segment, plus the additive uplift of the touches received.
  demo_truth.effect_<channel> is the true expected uplift (in retention probability) of ONE touch on that
  channel for that evaluator, averaged over delivery, response and content; a touch only helps when it
  is delivered, twice as much when responded to, scaled by its content item's quality, and further
  touches on the same channel add 60%, 36%, ... of the first. For evaluators still unresolved at
  `end_date` the probability includes the touches planned for the rest of their trial.
* Outcomes resolve 14 to 30 days after the trial starts; later than `end_date` means retained and
  resolved_date are NULL.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from churn_core.schema import CHANNELS, CONTENT, DAILY_USAGE, DEMO_TRUTH, ENGAGEMENTS, EVALUATORS

DEFAULT_END_DATE = dt.date(2026, 11, 26)
TRIAL_DAYS = 14  # usage rows for days 0..13
WEEK1_LAST_DAY = 7  # retention depends on days 0..7
CONTROL_SHARE = 0.10
MIN_RESOLUTION_DAYS, MAX_RESOLUTION_DAYS = 14, 30
TABLE_NAMES: tuple[str, ...] = ("evaluators", "daily_usage", "engagements", "content", "demo_truth")

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

# The content catalogue: id, title, channel, topic, and its hidden quality (multiplies the channel's effect).
CONTENT_ITEMS: tuple[tuple[str, str, str, str, float], ...] = (
    ("EM-01", "Welcome: your first project in five minutes", "email", "onboarding", 1.0),
    ("EM-02", "Bring your team: invite teammates", "email", "collaboration", 1.6),
    ("EM-03", "Plan your first sprint", "email", "agile", 1.3),
    ("EM-04", "Ten keyboard shortcuts you will love", "email", "onboarding", 0.6),
    ("EM-05", "Connect Slack and GitHub in two clicks", "email", "integrations", 1.3),
    ("EM-06", "Your trial ends soon: pick a plan", "email", "pricing", 0.4),
    ("EM-07", "Take your work anywhere with the mobile app", "email", "mobile", 0.9),
    ("EM-08", "Customer story: how teams ship faster", "email", "collaboration", 0.9),
    ("EM-09", "Weekly tips digest", "email", "onboarding", 0.7),
    ("EM-10", "Last chance: your trial is expiring", "email", "pricing", -0.8),
    ("PH-01", "Personal onboarding call", "phone", "onboarding", 1.1),
    ("PH-02", "Solution architect consultation", "phone", "integrations", 1.5),
    ("PH-03", "Plans and procurement call", "phone", "pricing", 0.8),
    ("PH-04", "Quick check-in call", "phone", "onboarding", 0.5),
    ("CH-01", "Live onboarding help", "chat", "onboarding", 1.3),
    ("CH-02", "Set up your workflow with an expert", "chat", "agile", 1.0),
    ("CH-03", "Integration help desk", "chat", "integrations", 1.1),
    ("CH-04", "Questions about plans and pricing?", "chat", "pricing", 0.5),
    ("CH-05", "Stuck? We can help", "chat", "onboarding", 0.9),
    ("PU-01", "You were mentioned", "push", "collaboration", 1.4),
    ("PU-02", "Your sprint ends tomorrow", "push", "agile", 1.1),
    ("PU-03", "Your daily summary", "push", "mobile", 0.7),
    ("PU-04", "Trial reminder", "push", "pricing", 0.2),
    ("PU-05", "New comment on your issue", "push", "collaboration", 1.0),
    ("IA-01", "Guided product tour", "in_app", "onboarding", 1.3),
    ("IA-02", "Getting-started checklist", "in_app", "onboarding", 1.1),
    ("IA-03", "Invite your teammates", "in_app", "collaboration", 1.5),
    ("IA-04", "Try sprints", "in_app", "agile", 1.0),
    ("IA-05", "Upgrade now", "in_app", "pricing", 0.3),
    ("IA-06", "Install the mobile app", "in_app", "mobile", 0.8),
)

# Per channel: share as primary channel, share of extra touches, mean extra touches when primary,
# delivery / open-given-delivered / response-given-opened probabilities at average propensity,
# and the hours of the day (UTC) touches go out.
_CHANNEL = {
    "email": dict(primary=0.42, extra=0.50, more=1.2, deliver=0.96, open=0.40, respond=0.22, hours=(8, 17)),
    "phone": dict(primary=0.10, extra=0.05, more=0.15, deliver=0.60, open=0.80, respond=0.35, hours=(9, 17)),
    "chat": dict(primary=0.14, extra=0.10, more=0.30, deliver=0.90, open=0.55, respond=0.40, hours=(9, 17)),
    "push": dict(primary=0.14, extra=0.15, more=0.80, deliver=0.85, open=0.25, respond=0.30, hours=(9, 19)),
    "in_app": dict(primary=0.20, extra=0.20, more=0.80, deliver=0.95, open=0.50, respond=0.25, hours=(8, 19)),
}
RESPONSE_BONUS = 1.0  # a responded touch helps (1 + RESPONSE_BONUS) times as much as a delivered one
REPEAT_DECAY = 0.6  # the k-th further touch on the same channel adds REPEAT_DECAY**k of the first
RETENTION_INTERCEPT, RETENTION_SCALE = -3.4, 0.8  # tuned: ~30% retained, true-probability ROC AUC ~0.86


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row from a (rows, k) probability matrix (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int8)


def _text(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(values))).astype("str")


def _date(epoch_days: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    arr = pa.array(epoch_days.astype(np.int32), type=pa.int32(), mask=null).cast(pa.date32())
    return pd.Series(arr, dtype=pd.ArrowDtype(pa.date32()))


def _nullable(values: np.ndarray, null: np.ndarray | None = None) -> pd.arrays.IntegerArray:
    values = values.astype(np.int32, copy=False)
    return pd.arrays.IntegerArray(values, np.zeros(len(values), bool) if null is None else null)


def _epoch(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def generate(
    n_evaluators: int = 57_700, days: int = 90, seed: int = 7, end_date: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """The demo tables: evaluators, daily_usage, engagements, content and demo_truth (see the module doc)."""
    if n_evaluators < 1 or days < 1:
        raise ValueError("n_evaluators and days must be positive")
    end_date = end_date or DEFAULT_END_DATE
    rng = np.random.default_rng(seed)
    n = int(n_evaluators)
    first_epoch = _epoch(end_date) - (days - 1)
    first_weekday = (end_date - dt.timedelta(days=days - 1)).weekday()  # Monday = 0

    # --- sign-ups: weekday rhythm, slow growth; rows sorted by start date then instance ---------------
    offsets = np.arange(days)
    weights = np.where((first_weekday + offsets) % 7 >= 5, 0.42, 1.0) * (1.0 + 0.25 * offsets / max(days, 1))
    start = np.sort(rng.choice(days, size=n, p=weights / weights.sum())).astype(np.int32)
    ids = rng.permutation(n).astype(np.int32) + 100_000
    ids = ids[np.lexsort((ids, start))]

    # --- segments -------------------------------------------------------------------------------------
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
    edition = _choice(rng, np.exp(edition_logits))
    price = np.asarray([PRICE_PER_SEAT_MONTH[e] for e in EDITIONS])[edition]
    seats = np.maximum(1.0, np.rint(team * np.exp(0.05 + 0.3 * rng.standard_normal(n))))
    value = np.round(
        seats * price * np.asarray(PRODUCT_PRICE_FACTOR)[product] * 12.0 * np.exp(0.1 * rng.standard_normal(n)), 2
    )
    control = rng.random(n) < CONTROL_SHARE

    # --- hidden traits ----------------------------------------------------------------------------------
    source_shift = np.asarray([0.0, -0.25, 0.15, 0.35, 0.05])[source]
    z = (
        rng.standard_normal(n)
        + source_shift
        + np.asarray([0.0, 0.12, 0.25])[edition]
        + np.asarray([0.0, 0.03, -0.05, -0.1])[region]
    ).astype(np.float32)
    propensity = _sigmoid(z.astype(np.float64))
    slope = (0.11 * z - 0.10 + 0.07 * rng.standard_normal(n)).astype(np.float32)  # activity trend per day
    ghost = rng.random(n) < _sigmoid(-1.7 - 1.0 * z)  # signs up, then barely comes back
    intensity = (0.45 * z + 0.35 * rng.standard_normal(n)).astype(np.float32)
    mobile_user = rng.random(n) < 0.13 + 0.06 * (product == 0) + 0.06 * (region == 2) + 0.05 * propensity
    watcher = rng.random(n) < 0.10 + 0.10 * propensity
    agile = rng.random(n) < np.asarray([0.55, 0.06, 0.12])[product] * (0.5 + propensity)
    product_volume = np.asarray([1.0, 0.45, 1.6], dtype=np.float32)[product]

    usage = _simulate_usage(
        rng, n, team, z, slope, ghost, intensity, mobile_user, watcher, agile, product_volume, start, first_weekday
    )

    # --- week-1 behaviour and the base retention probability ----------------------------------------------
    w1 = slice(0, WEEK1_LAST_DAY + 1)
    distinct7 = usage["new_active_users"][:, w1].sum(axis=1)
    ratio7 = distinct7 / team
    active_days7 = (usage["active_users"][:, w1] > 0).sum(axis=1)
    sprints7 = usage["sprints_started"][:, w1].sum(axis=1)
    invites7 = usage["invites_sent"][:, w1].sum(axis=1)
    completed7 = usage["issues_completed"][:, w1].sum(axis=1)
    mobile7 = usage["mobile_sessions"][:, w1].sum(axis=1)
    lc = np.log1p(completed7)
    signal = (
        0.75 * z
        + 1.5 * ratio7 * (team > 1)
        + 0.35 * np.log1p(distinct7)
        + 0.16 * active_days7
        + (sprints7 > 0) * np.where(product == 0, 0.65, 0.3)
        + 0.55 * ((distinct7 >= 2) & (sprints7 > 0))
        + 0.25 * np.log1p(invites7)
        + 0.40 * lc
        - 0.06 * lc * lc
        + 0.20 * ratio7 * log_team
        + 0.15 * (mobile7 > 0)
        - 0.45 * (team == 1)
        - 0.25 * (team > 150)
        + np.asarray([0.0, 0.15, 0.35])[edition]
        + np.asarray([0.0, -0.25, 0.15, 0.30, 0.05])[source]
        + np.asarray([0.0, 0.05, -0.10, -0.15])[region]
        + np.asarray([0.0, -0.10, 0.10])[product]
        + 0.45 * rng.standard_normal(n)
    )
    base_prob = _sigmoid(RETENTION_INTERCEPT + RETENTION_SCALE * signal)

    # --- true per-evaluator channel effects (per delivered touch at average content) ---------------------
    per_touch = {
        "email": 0.008 + 0.014 * propensity,
        "phone": -0.015 + 0.13 * _sigmoid((np.log(value) - np.log(12_000.0)) / 0.6),
        "chat": 0.004 + 0.085 * (1.0 - propensity) ** 2 - 0.012 * (region == 2),
        "push": np.where(mobile_user, 0.065, -0.004),
        "in_app": 0.004 + 0.055 * (1.0 - np.minimum(ratio7, 1.0)) * (distinct7 <= 2),
    }
    engagements, uplift, effects = _simulate_touches(
        rng, n, control, z, product, value, usage["active_users"], start, first_weekday, per_touch
    )

    true_prob = np.clip(base_prob + uplift, 0.001, 0.999)
    retained = rng.random(n) < true_prob
    lag = MIN_RESOLUTION_DAYS + np.minimum(rng.geometric(0.22, size=n) - 1, MAX_RESOLUTION_DAYS - MIN_RESOLUTION_DAYS)
    unresolved = start + lag > days - 1

    evaluators = pd.DataFrame(
        {
            "instance": ids,
            "eval_start_date": _date(first_epoch + start),
            "product": _text(PRODUCTS, product),
            "edition": _text(EDITIONS, edition),
            "team_size": team,
            "company_size_band": _text(SIZE_BANDS, band),
            "region": _text(REGIONS, region),
            "acquisition_source": _text(SOURCES, source),
            "expected_annual_value": value.astype(np.float64),
            "control_group": control.astype(np.int32),
            "retained": _nullable(retained.astype(np.int32), unresolved),
            "resolved_date": _date(first_epoch + start + lag, unresolved),
        }
    )
    demo_truth = pd.DataFrame(
        {
            "instance": ids,
            "engagement_propensity": propensity,
            "true_retention_prob": true_prob.astype(np.float64),
            **{f"effect_{c}": effects[c].astype(np.float64) for c in CHANNELS},
        }
    )
    daily = _usage_frame(rng, usage, ids, start, days, first_epoch)
    del usage
    eng = _engagement_frame(rng, engagements, ids, start, days, first_epoch)
    content = pd.DataFrame(
        {
            "content_id": pd.Series([c[0] for c in CONTENT_ITEMS], dtype="str"),
            "title": pd.Series([c[1] for c in CONTENT_ITEMS], dtype="str"),
            "channel": pd.Series([c[2] for c in CONTENT_ITEMS], dtype="str"),
            "topic": pd.Series([c[3] for c in CONTENT_ITEMS], dtype="str"),
        }
    )
    tables = {
        "evaluators": evaluators,
        "daily_usage": daily,
        "engagements": eng,
        "content": content,
        "demo_truth": demo_truth,
    }
    schemas = (EVALUATORS, DAILY_USAGE, ENGAGEMENTS, CONTENT, DEMO_TRUTH)
    for name, table in zip(TABLE_NAMES, schemas, strict=True):
        assert list(tables[name].columns) == table.names, name
    return tables


_COUNTS = [c.name for c in DAILY_USAGE.columns[3:]]
_MISSING_RATE = {"issues_viewed": 0.03, "mobile_sessions": 0.025, "at_mentions": 0.015}


def _simulate_usage(
    rng: np.random.Generator,
    n: int,
    team: np.ndarray,
    z: np.ndarray,
    slope: np.ndarray,
    ghost: np.ndarray,
    intensity: np.ndarray,
    mobile_user: np.ndarray,
    watcher: np.ndarray,
    agile: np.ndarray,
    product_volume: np.ndarray,
    start: np.ndarray,
    first_weekday: int,
) -> dict[str, np.ndarray]:
    """Every count for every evaluator and trial day 0..13, as (n, 14) int32 arrays (beyond end_date too)."""
    out = {name: np.zeros((n, TRIAL_DAYS), np.int32) for name in _COUNTS}
    distinct = np.zeros(n, np.int32)
    pending = np.zeros(n, np.float32)  # invitations not yet turned into users
    open_sprints = np.zeros(n, np.int32)
    sprint_rate = (0.16 * (1.0 + 0.25 * np.log(team))).astype(np.float32)
    for d in range(TRIAL_DAYS):
        weekend = ((first_weekday + start + d) % 7 >= 5).astype(np.float32)
        shock = 0.6 * rng.standard_normal(n, dtype=np.float32)
        gate = 0.3 + 1.2 * z + slope * d - 2.1 * weekend + shock
        if d == 0:
            gate = gate + 4.0
        else:
            gate = gate - 3.0 * ghost
        active = rng.random(n, dtype=np.float32) < _sigmoid(gate)
        remaining = team - distinct
        if d == 0:
            returning = np.zeros(n, np.int64)
            new = 1 + rng.binomial(team - 1, _sigmoid(-2.0 + 0.8 * z + 0.5 * shock))
        else:
            p_return = _sigmoid(-0.1 + 0.9 * z + 0.5 * slope * d - 1.3 * weekend + shock)
            returning = rng.binomial(distinct, p_return)
            boost = 1.2 * np.minimum(1.0, pending / (remaining + 0.5))
            new = rng.binomial(remaining, _sigmoid(-2.7 + 0.7 * z - 0.12 * d - 1.0 * weekend + shock + boost))
        returning = np.where(active, returning, 0)
        new = np.where(active, new, 0)
        nobody = active & (returning + new == 0)
        returning = np.where(nobody & (distinct > 0), 1, returning)
        new = np.where(nobody & (distinct == 0), 1, new)
        users = returning + new
        distinct += new.astype(np.int32)
        pending = np.maximum(0.0, pending - new)
        out["active_users"][:, d] = users
        out["new_active_users"][:, d] = new

        idx = np.flatnonzero(active)
        m = len(idx)
        a = users[idx].astype(np.float64)
        wk = weekend[idx]
        lam = np.exp(intensity[idx] + 0.5 * rng.standard_normal(m) - 0.35 * wk)
        vol = a * lam
        team_i, z_i = team[idx], z[idx]
        remaining_i = (team_i - distinct[idx]).astype(np.float64)
        invites = rng.poisson(remaining_i**0.8 * 0.25 * np.exp(0.6 * z_i - 0.3 * d) * (1 - 0.5 * wk))
        pending[idx] += invites
        created = rng.poisson(1.4 * vol * product_volume[idx])
        commented = rng.poisson(0.7 * vol * np.where(distinct[idx] > 1, 1.0, 0.4))
        ramp = min(1.0, 0.2 + d / 5)
        cols = {
            "projects_created": rng.poisson(1.3 * np.exp(-1.0 * d) * np.exp(0.3 * intensity[idx]))
            + (d == 0) * (rng.random(m) < 0.8),
            "issues_created": created,
            "issues_updated": rng.poisson(2.2 * vol + 0.7 * created),
            "issues_commented": commented,
            "issues_assigned": rng.poisson(0.45 * created + 0.2 * vol * (team_i > 1)),
            "issues_viewed": rng.poisson(8.0 * vol),
            "issues_completed": rng.poisson(0.7 * vol * ramp * product_volume[idx]),
            "at_mentions": rng.poisson(0.3 * commented * (distinct[idx] >= 2)),
            "watchers_added": rng.poisson(0.6 * vol) * (watcher[idx] & (rng.random(m) < 0.3)),
            "invites_sent": invites,
            "mobile_sessions": rng.poisson(0.8 * a**0.7) * (mobile_user[idx] & (rng.random(m) < 0.45)),
        }
        started = rng.poisson(sprint_rate[idx] * min(1.0, 0.4 + 0.3 * d) * (1 - 0.7 * wk)) * agile[idx]
        finished = rng.binomial(open_sprints[idx], min(0.5, 0.08 + 0.03 * d) * (1 - 0.6 * wk))
        open_sprints[idx] += (started - finished).astype(np.int32)
        cols["sprints_started"] = started
        cols["sprints_finished"] = finished
        for name, values in cols.items():
            out[name][idx, d] = values
    return out


def _usage_frame(
    rng: np.random.Generator,
    usage: dict[str, np.ndarray],
    ids: np.ndarray,
    start: np.ndarray,
    days: int,
    first_epoch: int,
) -> pd.DataFrame:
    """The rows reached by end_date, with telemetry gaps, typed per the schema."""
    reached = (start[:, None] + np.arange(TRIAL_DAYS)[None, :] <= days - 1).ravel()
    rows = np.flatnonzero(reached)
    evaluator, day = np.divmod(rows, TRIAL_DAYS)
    frame = {
        "instance": ids[evaluator],
        "usage_date": _date(first_epoch + start[evaluator] + day),
        "day_index": day.astype(np.int32),
    }
    del reached
    for name in _COUNTS:
        values = usage[name].ravel()[rows]
        usage[name] = np.empty((0, 0), np.int32)  # free as we go
        rate = _MISSING_RATE.get(name)
        null = rng.random(len(rows), dtype=np.float32) < rate if rate else None
        frame[name] = _nullable(values, null)
    return pd.DataFrame(frame, copy=False)


def _simulate_touches(
    rng: np.random.Generator,
    n: int,
    control: np.ndarray,
    z: np.ndarray,
    product: np.ndarray,
    value: np.ndarray,
    active_users: np.ndarray,
    start: np.ndarray,
    first_weekday: int,
    per_touch: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Marketing touches for every non-control evaluator (planned over the whole trial), the realised uplift
    in retention probability per evaluator, and the true expected uplift of one touch per channel."""
    k = len(CHANNELS)
    spec = [_CHANNEL[c] for c in CHANNELS]
    treated = np.flatnonzero(~control)
    # primary channel: phone aimed at high value, push a little more for Boards, chat for Desk
    weights = np.tile(np.asarray([s["primary"] for s in spec]), (len(treated), 1))
    weights[:, 1] *= np.exp(0.55 * (np.log(value[treated]) - np.log(3_000.0))).clip(0.15, 6.0)
    weights[:, 3] *= np.where(product[treated] == 0, 1.4, 0.8)
    weights[:, 2] *= np.where(product[treated] == 2, 1.4, 1.0)
    primary = _choice(rng, weights)
    more = np.asarray([s["more"] for s in spec])[primary]
    count = 1 + np.minimum(rng.poisson(more), 4)
    has_extra = rng.random(len(treated)) < 0.3
    extra = rng.choice(k, size=int(has_extra.sum()), p=np.asarray([s["extra"] for s in spec]) / 1.0)
    who = np.concatenate([np.repeat(treated, count), treated[has_extra]])
    channel = np.concatenate([np.repeat(primary, count), extra.astype(np.int8)])
    m = len(who)

    # day of trial 1..13: email front-loaded, in-app in week 1, phone/chat on weekdays
    day_probs = np.zeros((k, TRIAL_DAYS))
    d = np.arange(TRIAL_DAYS)
    day_probs[0, 1:] = np.exp(-0.12 * d[1:])
    day_probs[1, 2:11] = 1.0
    day_probs[2, 1:] = np.exp(-0.08 * d[1:])
    day_probs[3, 1:] = 1.0
    day_probs[4, 1 : WEEK1_LAST_DAY + 1] = np.exp(-0.2 * d[1 : WEEK1_LAST_DAY + 1])
    day_probs /= day_probs.sum(axis=1, keepdims=True)
    day = _choice(rng, day_probs[channel]).astype(np.int32)
    weekday = (first_weekday + start[who] + day) % 7
    weekday_only = (channel == 1) | (channel == 2)
    shift = np.where(
        weekday == 5,
        np.where(day + 2 <= TRIAL_DAYS - 1, 2, -1),
        np.where(weekday == 6, np.where(day + 1 <= TRIAL_DAYS - 1, 1, -2), 0),
    )
    day = np.where(weekday_only, day + shift, day).astype(np.int32)

    # content: uniform within the channel
    items_of = [[i for i, c in enumerate(CONTENT_ITEMS) if c[2] == ch] for ch in CHANNELS]
    quality = np.asarray([c[4] for c in CONTENT_ITEMS])
    mean_quality = np.asarray([quality[items].mean() for items in items_of])
    pick = (rng.random(m) * np.asarray([len(i) for i in items_of])[channel]).astype(np.int64)
    first_item = np.asarray([items[0] for items in items_of])
    content = first_item[channel] + pick  # items of a channel are contiguous in CONTENT_ITEMS
    assert all(items == list(range(items[0], items[0] + len(items))) for items in items_of)

    # delivery, open, response: channel rates shifted by propensity; in-app only shows on active days
    zt = z[who].astype(np.float64)
    p_deliver = np.asarray([s["deliver"] for s in spec])[channel]
    p_open = _sigmoid(np.asarray([_logit(s["open"]) for s in spec])[channel] + 0.5 * zt)
    p_respond = _sigmoid(np.asarray([_logit(s["respond"]) for s in spec])[channel] + 0.4 * zt)
    seen = active_users[who, day] > 0
    p_deliver = np.where(channel == 4, p_deliver * seen, p_deliver)
    delivered = rng.random(m) < p_deliver
    opened = delivered & (rng.random(m) < p_open)
    responded = opened & (rng.random(m) < p_respond)

    # realised uplift: per-touch effect x delivery/response weight x content quality x repeat decay
    order = np.lexsort((day, channel, who))
    key = who[order].astype(np.int64) * k + channel[order]
    group_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m) - np.repeat(group_start, np.diff(np.r_[group_start, m]))
    effect_table = np.stack([per_touch[c] for c in CHANNELS], axis=1)  # (n, k)
    weight = delivered * (1.0 + RESPONSE_BONUS * responded)
    contribution = effect_table[who, channel] * weight * quality[content] / mean_quality[channel] * REPEAT_DECAY**rank
    uplift = np.bincount(who, weights=contribution, minlength=n)

    # true expected uplift of one touch per channel and evaluator (same probabilities as above)
    zf = z.astype(np.float64)
    effects = {}
    for j, (name, s) in enumerate(zip(CHANNELS, spec, strict=True)):
        expected_weight = s["deliver"] * (
            1.0 + RESPONSE_BONUS * _sigmoid(_logit(s["open"]) + 0.5 * zf) * _sigmoid(_logit(s["respond"]) + 0.4 * zf)
        )
        if name == "in_app":
            expected_weight = expected_weight * ((active_users > 0) @ day_probs[j])
        effects[name] = per_touch[name] * expected_weight

    touches = {
        "who": who,
        "channel": channel,
        "day": day,
        "content": content,
        "delivered": delivered,
        "opened": opened,
        "responded": responded,
    }
    return touches, uplift, effects


def _engagement_frame(
    rng: np.random.Generator, t: dict[str, np.ndarray], ids: np.ndarray, start: np.ndarray, days: int, first_epoch: int
) -> pd.DataFrame:
    """The touches sent by end_date, at business hours, ordered by time, typed per the schema."""
    keep = start[t["who"]] + t["day"] <= days - 1
    sel = {k: v[keep] for k, v in t.items()}
    m = len(sel["who"])
    low = np.asarray([_CHANNEL[c]["hours"][0] for c in CHANNELS])[sel["channel"]]
    high = np.asarray([_CHANNEL[c]["hours"][1] for c in CHANNELS])[sel["channel"]]
    seconds = ((low + rng.random(m) * (high - low)) * 3600).astype(np.int64)
    stamp = ((first_epoch + start[sel["who"]] + sel["day"]).astype(np.int64) * 86_400 + seconds) * 1_000_000
    order = np.lexsort((ids[sel["who"]], stamp))
    channels = np.asarray(CHANNELS, dtype=object)
    items = np.asarray([c[0] for c in CONTENT_ITEMS], dtype=object)
    return pd.DataFrame(
        {
            "engagement_id": np.arange(m, dtype=np.int64) + 7_000_000_001,
            "instance": ids[sel["who"]][order],
            "sent_at": stamp[order].astype("datetime64[us]"),
            "channel": pd.Series(channels[sel["channel"][order]], dtype="str"),
            "content_id": pd.Series(items[sel["content"][order]], dtype="str"),
            "delivered": sel["delivered"][order].astype(np.int32),
            "opened": sel["opened"][order].astype(np.int32),
            "responded": sel["responded"][order].astype(np.int32),
        }
    )

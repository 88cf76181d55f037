"""The data model in one place: every table, its grain, source, and each column's type and meaning.

Raw tables arrive from product telemetry and marketing systems (`churn ingest`, or the demo generator);
modelling tables are built from them by the SQL in churn_core/sql/ (`churn etl`). Types are the SQL
types both engines share (Athena/Trino names). `churn schema` prints this; the validator enforces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

CHANNELS: tuple[str, ...] = ("email", "phone", "chat", "push", "in_app")
# How each channel is written for people (pages, charts, exports); the stored value stays the code above.
CHANNEL_LABELS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "chat": "chat",
    "push": "push",
    "in_app": "in-app",
}


def channel_label(channel: str) -> str:
    """A stored channel value as people read it ("in_app" -> "in-app"); other text is returned as it is."""
    return CHANNEL_LABELS.get(channel, channel)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # INTEGER, BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP
    doc: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str | int, ...] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    source: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    doc: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _count(name: str, doc: str) -> Column:
    return Column(name, "INTEGER", doc, nullable=True, min=0, max=10_000_000)


USAGE_COUNTS: tuple[Column, ...] = (
    _count("active_users", "users active in the product that day"),
    _count("new_active_users", "users active that day for the first time in the evaluation"),
    _count("projects_created", "projects created"),
    _count("issues_created", "issues created"),
    _count("issues_updated", "issues updated"),
    _count("issues_commented", "comments added to issues"),
    _count("issues_assigned", "issues assigned to someone"),
    _count("issues_viewed", "issue views"),
    _count("issues_completed", "issues moved to done"),
    _count("at_mentions", "@-mentions of a team mate"),
    _count("watchers_added", "watchers added to issues (sparse)"),
    _count("invites_sent", "invitations sent to new users"),
    _count("mobile_sessions", "sessions from the mobile app (sparse)"),
    _count("sprints_started", "sprints started"),
    _count("sprints_finished", "sprints completed"),
)

EVALUATORS = Table(
    "evaluators",
    grain="one row per evaluation (site instance)",
    source="raw: product sign-up and billing systems",
    key=("instance",),
    columns=(
        Column("instance", "INTEGER", "site instance id", min=0),
        Column("eval_start_date", "DATE", "first day of the free trial (day 0)"),
        Column("product", "VARCHAR", "product evaluated"),
        Column("edition", "VARCHAR", "edition evaluated", allowed=("standard", "premium", "enterprise")),
        Column("team_size", "INTEGER", "seats declared at sign-up", min=1, max=1_000_000),
        Column("company_size_band", "VARCHAR", "employees of the company, banded"),
        Column("region", "VARCHAR", "sales region"),
        Column("acquisition_source", "VARCHAR", "how the evaluator found us"),
        Column("expected_annual_value", "DOUBLE", "annual contract value if it converts", min=0, max=1e9),
        Column(
            "control_group",
            "INTEGER",
            "1 = held out of marketing touches on purpose, as the source recorded it (the product's own holdout "
            "is holdout_assignments; on demo data the two agree)",
            allowed=(0, 1),
        ),
        Column("retained", "INTEGER", "outcome: 1 bought, 0 left; NULL while unresolved", True, allowed=(0, 1)),
        Column("resolved_date", "DATE", "date the outcome became known; NULL while unresolved", True),
    ),
)

DAILY_USAGE = Table(
    "daily_usage",
    grain="one row per instance and calendar day of its evaluation",
    source="raw: product telemetry, aggregated per day",
    key=("instance", "usage_date"),
    columns=(
        Column("instance", "INTEGER", "site instance id", min=0),
        Column("usage_date", "DATE", "calendar day"),
        Column("day_index", "INTEGER", "days since eval_start_date (0 = first day)", min=0),
        *USAGE_COUNTS,
    ),
)

ENGAGEMENTS = Table(
    "engagements",
    grain="one row per marketing touch",
    source="raw: marketing automation, sales dialler, chat and push systems",
    key=("engagement_id",),
    columns=(
        Column("engagement_id", "BIGINT", "touch id", min=0),
        Column("instance", "INTEGER", "site instance id", min=0),
        Column("sent_at", "TIMESTAMP", "when the touch was sent or the call placed"),
        Column("channel", "VARCHAR", "engagement channel", allowed=CHANNELS),
        Column("content_id", "VARCHAR", "content item sent (see content)"),
        Column("delivered", "INTEGER", "1 = reached the evaluator", allowed=(0, 1)),
        Column("opened", "INTEGER", "1 = opened / answered", allowed=(0, 1)),
        Column("responded", "INTEGER", "1 = clicked, replied or booked", allowed=(0, 1)),
    ),
)

CONTENT = Table(
    "content",
    grain="one row per content item",
    source="raw: content catalogue",
    key=("content_id",),
    columns=(
        Column("content_id", "VARCHAR", "content item id"),
        Column("title", "VARCHAR", "title shown to evaluators"),
        Column("channel", "VARCHAR", "channel the item is made for", allowed=CHANNELS),
        Column("topic", "VARCHAR", "topic (onboarding, collaboration, agile, ...)"),
    ),
)

DEMO_TRUTH = Table(
    "demo_truth",
    grain="one row per demo evaluator",
    source="demo generator only; read by no feature query",
    key=("instance",),
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("engagement_propensity", "DOUBLE", "hidden propensity that drives usage"),
        Column("true_retention_prob", "DOUBLE", "probability of retaining given usage and touches received"),
        *(Column(f"effect_{c}", "DOUBLE", f"true uplift in retention probability from {c}") for c in CHANNELS),
    ),
)

DEMO_PLAYS = Table(
    "demo_plays",
    grain="one row per demo play and evaluator it randomised",
    source="demo generator only (plays=True): the demo's contact plays with their known true effects",
    key=("play", "instance"),
    columns=(
        Column("play", "VARCHAR", "the demo play"),
        Column("instance", "INTEGER", "site instance id"),
        Column("arm", "VARCHAR", "treatment or holdout", allowed=("treatment", "holdout")),
        Column("assigned_date", "DATE", "the day the play's score set was read (the day before its touch)"),
        Column("as_of_day", "INTEGER", "day of trial of that score (usage days 0..as_of_day)"),
        Column("true_effect", "DOUBLE", "true uplift in retention probability of being assigned to treatment"),
    ),
)

RAW_TABLES: dict[str, Table] = {t.name: t for t in (EVALUATORS, DAILY_USAGE, ENGAGEMENTS, CONTENT)}

# The seed talk's training table: these 19 columns, names, order and types, always first.
SEED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("instance", "INTEGER"),
    ("eval_start_date", "VARCHAR"),
    ("retained", "INTEGER"),
    ("number_of_projects", "INTEGER"),
    ("number_of_issues", "INTEGER"),
    ("number_of_invites", "INTEGER"),
    ("w1_active_users", "INTEGER"),
    ("w1_agg_active_users", "INTEGER"),
    ("w1_max_active_users", "INTEGER"),
    ("watchers_added", "INTEGER"),
    ("issues_updated", "INTEGER"),
    ("issues_commented", "INTEGER"),
    ("issues_assigned", "INTEGER"),
    ("at_mentions", "INTEGER"),
    ("issues_viewed", "INTEGER"),
    ("issues_completed", "INTEGER"),
    ("mobile_usage", "INTEGER"),
    ("sprint_started", "INTEGER"),
    ("sprint_finished", "INTEGER"),
)
FEATURES: tuple[str, ...] = tuple(name for name, _ in SEED_COLUMNS[3:])


# How every page and reason writes a value the model did not get (NaN). XGBoost sends a missing value down
# each tree's learned default branch, which is not where 0 goes: so it is never written as 0.
NO_DATA = "no data"


@dataclass(frozen=True)
class FeatureText:
    """What a model input means, in one record: `doc` says what it counts (the schema's column doc), `label`
    names it in charts and tables (the plural noun unless given), and the sentence parts are how reasons
    write it: before + value + (one | many) [+ " by day d"]; a missing value reads "no data on <label>".
    `kind` says how the value is written (count: whole number, "no" for 0; ratio: two decimals; share:
    percent; money: whole number; category: its label)."""

    one: str
    many: str
    before: str = ""
    by_day: bool = True
    kind: str = "count"
    label: str = ""
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.many.strip())

    def text(self, value: Any) -> str:
        """A value as charts and tables write it next to the label (reasons write the same numbers)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return NO_DATA
        if self.kind == "category" or isinstance(value, str):
            return str(value).replace("_", " ")
        number = float(value)
        if self.kind == "share":
            return f"{number:.0%}"
        if self.kind == "money":
            return f"${number:,.0f}"
        if self.kind == "ratio":
            return f"{number:,.2f}".rstrip("0").rstrip(".")
        return f"{number:,.0f}"


def _counted(one: str, many: str, doc: str, before: str = "", label: str = "") -> FeatureText:
    return FeatureText(f" {one}", f" {many}", before, label=label, doc=doc)


def _attribute(one: str, before: str, label: str, kind: str = "category") -> FeatureText:
    """A fact about the evaluator rather than its usage: no "by day d"."""
    return FeatureText(one, one, before, by_day=False, kind=kind, label=label)


# Every input of the models: the seed's 16 usage counts, then the tuned model's others (churn_core.model.features).
FEATURE_TEXT: dict[str, FeatureText] = {
    "number_of_projects": _counted(
        "project created", "projects created", "projects created (sum of daily_usage.projects_created)"
    ),
    "number_of_issues": _counted("issue created", "issues created", "issues created (sum of issues_created)"),
    "number_of_invites": _counted("invitation sent", "invitations sent", "invitations sent (sum of invites_sent)"),
    "w1_active_users": _counted(
        "distinct active user",
        "distinct active users",
        "distinct users active so far (sum of new_active_users)",
        label="people active so far",
    ),
    "w1_agg_active_users": _counted(
        "user-day of activity", "user-days of activity", "user-days of activity (sum of active_users)"
    ),
    "w1_max_active_users": _counted(
        "user active on any one day",
        "users active on any one day",
        "most users active on one day (max of active_users)",
        before="at most ",
        label="most people active on one day",
    ),
    "watchers_added": _counted("watcher added", "watchers added", "watchers added (sum)"),
    "issues_updated": _counted("issue update", "issue updates", "issues updated (sum)"),
    "issues_commented": _counted("issue comment", "issue comments", "issue comments (sum)"),
    "issues_assigned": _counted("issue assigned", "issues assigned", "issues assigned (sum)"),
    "at_mentions": _counted("@-mention", "@-mentions", "@-mentions (sum)"),
    "issues_viewed": _counted("issue view", "issue views", "issue views (sum)"),
    "issues_completed": _counted("issue completed", "issues completed", "issues completed (sum)"),
    "mobile_usage": _counted("mobile session", "mobile sessions", "mobile sessions (sum of mobile_sessions)"),
    "sprint_started": _counted("sprint started", "sprints started", "sprints started (sum of sprints_started)"),
    "sprint_finished": _counted("sprint finished", "sprints finished", "sprints finished (sum of sprints_finished)"),
    "as_of_day": _attribute(" of the trial", "day ", "days of usage seen", kind="ratio"),
    "team_size": FeatureText(
        " seat declared at sign-up", " seats declared at sign-up", by_day=False, label="seats declared"
    ),
    "expected_annual_value": _attribute("", "expected annual value ", "expected annual value", kind="money"),
    "active_user_share": FeatureText(
        "% of the seats active", "% of the seats active", kind="share", label="share of seats active"
    ),
    "user_days_per_day": FeatureText(" active user a day on average", " active users a day on average", kind="ratio"),
    "issues_per_user": FeatureText(" issue per active user", " issues per active user", kind="ratio"),
    "updates_per_issue": FeatureText(" update per issue", " updates per issue", kind="ratio"),
    "product": _attribute(" product", "the ", "product"),
    "edition": _attribute(" edition", "the ", "edition"),
    "region": _attribute(" region", "the ", "region"),
    "company_size_band": _attribute(" employees", "a company of ", "company size"),
    "acquisition_source": _attribute("", "came through ", "acquisition source"),
}


def feature_text(feature: str) -> FeatureText:
    """The feature's record; an unknown feature reads "<name>: <value>" and is labelled by its name."""
    name = feature.replace("_", " ")
    return FEATURE_TEXT.get(feature) or FeatureText("", "", f"{name}: ", by_day=False, kind="ratio", label=name)


SEGMENT_COLUMNS: tuple[Column, ...] = (
    Column("product", "VARCHAR", "product evaluated"),
    Column("edition", "VARCHAR", "edition evaluated"),
    Column("team_size", "INTEGER", "seats declared at sign-up"),
    Column("company_size_band", "VARCHAR", "company size band"),
    Column("region", "VARCHAR", "sales region"),
    Column("acquisition_source", "VARCHAR", "acquisition source"),
    Column("expected_annual_value", "DOUBLE", "annual contract value if it converts"),
    Column(
        "control_group", "INTEGER", "1 = in the measurement holdout (holdout_assignments.held_out): never contacted"
    ),
)


def _feature_columns() -> tuple[Column, ...]:
    return tuple(Column(n, "INTEGER", FEATURE_TEXT[n].doc, nullable=True) for n in FEATURES)


FEATURE_SNAPSHOTS = Table(
    "feature_snapshots",
    grain="one row per instance and as-of day d = 1..7 that has been reached by the ETL's as-of date",
    source="sql/feature_snapshots.sql from evaluators and daily_usage (usage days 0..d only)",
    key=("instance", "as_of_day"),
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("as_of_day", "INTEGER", "day of trial d: features use usage days 0..d only"),
        *_feature_columns(),
    ),
)

INSTANCES_MODELING = Table(
    "instances_modeling",
    grain="one row per evaluator whose outcome resolved by the as-of date (features at day 7)",
    source="sql/instances_modeling.sql; the seed talk's training table, its 19 columns first",
    key=("instance",),
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("eval_start_date", "VARCHAR", "first day of the trial, ISO yyyy-mm-dd (the seed stores text)"),
        Column("retained", "INTEGER", "label: 1 bought, 0 left"),
        *_feature_columns(),
        Column("as_of_day", "INTEGER", "day of trial the features describe (7)"),
        *SEGMENT_COLUMNS,
    ),
)

INSTANCES_W1 = Table(
    "instances_w1",
    grain="one row per unresolved evaluator in days 1.. of its trial at the as-of date",
    source="sql/instances_w1.sql; features from usage days 0..min(day of trial, 7)",
    key=("instance",),
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("eval_start_date", "VARCHAR", "first day of the trial, ISO yyyy-mm-dd"),
        Column("retained", "INTEGER", "always NULL here: the outcome is not known yet", nullable=True),
        *_feature_columns(),
        Column("as_of_day", "INTEGER", "day of trial the features describe (1..7)"),
        *SEGMENT_COLUMNS,
        Column("as_of_date", "DATE", "the date the table was built for"),
        Column("day_of_trial", "INTEGER", "days since the trial started at as_of_date (may exceed 7)"),
    ),
)

ACTIVATION_DAILY = Table(
    "activation_daily",
    grain="one row per instance and day 0..7 of its trial reached by the as-of date",
    source="sql/activation_daily.sql; rule from settings activation_min_active_users / activation_min_sprints",
    key=("instance", "day_index"),
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("eval_start_date", "DATE", "first day of the trial"),
        Column("cohort_week", "DATE", "Monday of the week the trial started"),
        Column("day_index", "INTEGER", "day of trial 0..7"),
        Column("active_users_to_date", "INTEGER", "distinct users active over days 0..day_index"),
        Column("sprints_started_to_date", "INTEGER", "sprints started over days 0..day_index"),
        Column("activated", "INTEGER", "1 when the activation rule holds by the end of day_index"),
    ),
)

HOLDOUT_ASSIGNMENTS = Table(
    "holdout_assignments",
    grain="one row per evaluator, written once when its trial is first seen and never changed (append-only)",
    source="churn etl (churn_core.data.holdout): blocked randomisation within product x cohort week",
    key=("instance",),
    doc="The measurement holdout: held-out evaluators are never in a contact plan, a recommended action or a "
    "contact export, so that what contact achieves can be measured against them.",
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("stratum", "VARCHAR", "product and Monday of the trial's first week, e.g. Boards|2026-11-23"),
        Column("position", "INTEGER", "arrival order within the stratum (eval_start_date, then instance), from 0"),
        Column(
            "block", "INTEGER", "randomisation block: position // block size (the block size follows holdout_share)"
        ),
        Column("held_out", "INTEGER", "1 = in the holdout: never contacted", allowed=(0, 1)),
        Column(
            "origin",
            "VARCHAR",
            "random (drawn by the product) or recorded (outcome already known when first seen: the source's "
            "control_group)",
            allowed=("random", "recorded"),
        ),
        Column("assigned_date", "DATE", "as-of date of the `churn etl` run that assigned it"),
    ),
)

MODEL_TABLES: dict[str, Table] = {
    t.name: t for t in (FEATURE_SNAPSHOTS, INSTANCES_MODELING, INSTANCES_W1, ACTIVATION_DAILY)
}
ALL_TABLES: dict[str, Table] = {
    **RAW_TABLES,
    "demo_truth": DEMO_TRUTH,
    DEMO_PLAYS.name: DEMO_PLAYS,
    HOLDOUT_ASSIGNMENTS.name: HOLDOUT_ASSIGNMENTS,
    **MODEL_TABLES,
}

# --- written by the scoring job (`churn score`) -------------------------------------------------------
RISK_TIERS: tuple[str, ...] = ("high", "medium", "low")

EVALUATOR_SCORES = Table(
    "evaluator_scores",
    grain="one row per scored evaluator and score set (as_of_date); a bounded history of sets is kept",
    source="churn score: champion model, exact SHAP, targeting and channel uplift; one set per as_of_date",
    key=("as_of_date", "instance"),
    doc="Besides these columns, `shap_<feature>` (DOUBLE) holds the SHAP value (log-odds of churn) of every "
    "model feature, and `uplift_<channel>` (DOUBLE) the estimated retention uplift of each channel.",
    columns=(
        Column("instance", "INTEGER", "site instance id"),
        Column("as_of_date", "DATE", "date of the score set"),
        Column("day_of_trial", "INTEGER", "days since the trial started at as_of_date"),
        Column("as_of_day", "INTEGER", "day of trial the features describe (1..7)"),
        Column("eval_start_date", "DATE", "first day of the trial"),
        Column("cohort_week", "DATE", "Monday of the week the trial started"),
        Column("model_version", "VARCHAR", "registry version of the model that scored"),
        Column("churn_probability", "DOUBLE", "calibrated probability that the evaluator will not buy"),
        Column("churn_margin", "DOUBLE", "the model's raw log-odds of churn (sum of the SHAP values)"),
        Column(
            "risk_tier",
            "VARCHAR",
            "low = below the model's threshold (not flagged); medium = flagged; high = flagged and at least "
            "settings risk_tier_high",
            allowed=RISK_TIERS,
        ),
        Column(
            "predicted_churn",
            "INTEGER",
            "1 = flagged (predicted to leave): churn_probability >= the model's threshold",
            allowed=(0, 1),
        ),
        Column("risk_rank", "INTEGER", "1 = highest churn probability in the set"),
        Column("top_reason", "VARCHAR", "the strongest driver as a sentence for marketers"),
        Column("top_drivers", "VARCHAR", "JSON list of the top drivers: feature, value, shap, reason"),
        Column("shap_base", "DOUBLE", "SHAP base value (log-odds) shared by every row of the model"),
        Column("product", "VARCHAR", "product evaluated"),
        Column("edition", "VARCHAR", "edition evaluated"),
        Column("team_size", "INTEGER", "seats declared at sign-up"),
        Column("company_size_band", "VARCHAR", "company size band"),
        Column("region", "VARCHAR", "sales region"),
        Column("acquisition_source", "VARCHAR", "acquisition source"),
        Column("expected_annual_value", "DOUBLE", "annual contract value if it converts"),
        Column("control_group", "INTEGER", '1 = in the measurement holdout: never contacted (segment "held out")'),
        Column("channels_reached", "VARCHAR", "comma-separated channels whose touches were delivered so far", True),
        Column("activated", "INTEGER", "1 when the activation rule holds on the evaluator's current day"),
        Column("value_at_risk", "DOUBLE", "churn_probability x expected_annual_value"),
        Column(
            "recommended_channel",
            "VARCHAR",
            "the plan's channel when in today's plan, else the channel whose contact is worth most when that "
            "pays; NULL when none pays and for the holdout",
            True,
        ),
        Column("channel_uplift", "DOUBLE", "estimated retention uplift of the recommended channel", True),
        Column(
            "expected_value",
            "DOUBLE",
            "expected incremental retained value of contacting through the recommended (else the most valuable) "
            "channel: risk x value x save rate - channel cost; NULL for the holdout",
            True,
        ),
        Column("worth_saving", "INTEGER", "1 = in today's contact plan (churn_core.scoring.plan)", allowed=(0, 1)),
        Column(
            "plan_rank",
            "INTEGER",
            "position in today's list for the recommended channel, 1 = contact first; NULL when not in the plan",
            True,
        ),
        Column(
            "might_swing", "INTEGER", "1 = predicted to retain but near the threshold or rising risk", allowed=(0, 1)
        ),
        Column(
            "segment",
            "VARCHAR",
            "in today's plan / next in line / no contact pays / might swing / on track / held out",
        ),
        Column("previous_as_of_date", "DATE", "as_of_date of this evaluator's previous score", True),
        Column("previous_probability", "DOUBLE", "churn_probability in the previous score", True),
        Column("probability_change", "DOUBLE", "churn_probability - previous_probability", True),
    ),
)

# --- contact plays (churn_core.plays): named interventions with a randomised holdout of their own ---------
PLAY_ARMS: tuple[str, ...] = ("treatment", "holdout", "not_assigned")
PLAY_STATUSES: tuple[str, ...] = ("active", "paused", "ended")

PLAYS = Table(
    "plays",
    grain="one row per play, written once when it is created (append-only)",
    source="churn plays create --spec PLAY.toml, or the Plays page (managers and admins; audited)",
    key=("play",),
    columns=(
        Column("play", "VARCHAR", "the play's name, unique"),
        Column("owner", "VARCHAR", "who answers for it (e-mail or name)"),
        Column("channel", "VARCHAR", "channel every treatment contact goes through", allowed=CHANNELS),
        Column("content_id", "VARCHAR", "content item sent (see content)"),
        Column(
            "eligibility", "VARCHAR", "JSON rule over score-set columns: {column: [values]} or {column: {min, max}}"
        ),
        Column("daily_capacity", "INTEGER", "treatment contacts a day at most", min=1),
        Column("holdout_share", "DOUBLE", "share of the assigned left uncontacted to measure the play", min=0, max=1),
        Column("start_date", "DATE", "first day evaluators are assigned"),
        Column("end_date", "DATE", "last day evaluators are assigned"),
        Column("allow_overlap", "INTEGER", "1 = may take evaluators already in another active play", allowed=(0, 1)),
        Column("created_at", "TIMESTAMP", "when the play was created (UTC)"),
        Column("created_by", "VARCHAR", "who created it"),
    ),
)

PLAY_STATUS = Table(
    "play_status",
    grain="one row per change of a play's status (append-only); the newest row is its status",
    source="churn plays create / pause, or the Plays page (audited)",
    key=("play", "changed_at"),
    columns=(
        Column("play", "VARCHAR", "the play's name"),
        Column(
            "status", "VARCHAR", "active, paused or ended (a play past its end_date reads ended)", allowed=PLAY_STATUSES
        ),
        Column("changed_at", "TIMESTAMP", "when (UTC)"),
        Column("changed_by", "VARCHAR", "who"),
    ),
)

PLAY_ASSIGNMENTS = Table(
    "play_assignments",
    grain="one row per play, evaluator and day it was considered; treatment and holdout rows are final "
    "(append-only), a not_assigned evaluator may be considered again on a later day",
    source="the daily scoring run after the score set (churn_core.plays.assign): blocked randomisation within "
    "play x risk tier, keyed by holdout_salt; outside the signed score set",
    key=("play", "instance", "assigned_date"),
    columns=(
        Column("play", "VARCHAR", "the play's name"),
        Column("instance", "INTEGER", "site instance id"),
        Column(
            "arm",
            "VARCHAR",
            "treatment (contact), holdout (the play's own control: not contacted) or not_assigned (beyond the "
            "day's capacity)",
            allowed=PLAY_ARMS,
        ),
        Column("assigned_date", "DATE", "as_of_date of the score set it was assigned from"),
        Column("rank", "INTEGER", "position in the play's list that day by contact_value, 1 = first"),
        Column("stratum", "VARCHAR", "randomisation stratum: play|risk tier"),
        Column("position", "INTEGER", "arrival order within the stratum, from 0; NULL when not_assigned", True),
        Column("churn_probability", "DOUBLE", "churn probability at assignment: the covariate of the results"),
        Column("contact_value", "DOUBLE", "uplift of the play's channel x expected_annual_value - channel cost", True),
        Column("risk_tier", "VARCHAR", "risk tier at assignment", allowed=RISK_TIERS),
    ),
)

PLAY_TABLES: dict[str, Table] = {t.name: t for t in (PLAYS, PLAY_STATUS, PLAY_ASSIGNMENTS)}

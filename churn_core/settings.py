"""One typed settings object: environment `CHURN_*` over an optional TOML file over defaults.

Every field maps to the environment variable `CHURN_<FIELD>` (upper case). In the TOML file (path from
`CHURN_CONFIG`, else `churn.toml` in the working directory when present) fields may be written flat
(`backend = "athena"`) or in a section named after their prefix (`[athena] region = "eu-west-1"`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from churn_core.schema import CHANNELS

Backend = Literal["duckdb", "athena"]
# Settings that hold credentials: never printed (`churn settings` masks them) and redacted from logs and errors.
SECRET_SETTINGS: frozenset[str] = frozenset({"alert_webhook_url", "alert_command", "signing_key", "plays_webhook_url"})
MIN_SIGNING_KEY_CHARS = 16


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting and its source."""


@dataclass(frozen=True)
class Settings:
    # --- where things live -------------------------------------------------------------------------
    home: Path = Path(".churn")
    backend: Backend = "duckdb"
    # --- Athena (production warehouse); credentials come only from boto3's default chain ----------
    athena_region: str = "us-east-1"
    athena_workgroup: str = "primary"
    athena_database: str = "churn"
    athena_s3_staging_dir: str = ""
    athena_s3_data_prefix: str = ""
    athena_poll_seconds: float = 1.0
    athena_query_timeout_seconds: float = 600.0
    athena_result_reuse_minutes: int = 60
    # attempts of one AWS call (botocore's standard retry mode) and of a query Athena failed as retryable
    athena_max_attempts: int = 6
    # first wait before running again a query Athena failed as retryable; doubles per attempt, jittered
    athena_retry_base_seconds: float = 0.5
    # --- demo data ---------------------------------------------------------------------------------
    demo_evaluators: int = 57_700
    demo_days: int = 90
    demo_seed: int = 7
    # --- activation rule: an evaluator is activated on day d when, over days 0..d, it has had ------
    # at least `activation_min_active_users` distinct active users and started at least
    # `activation_min_sprints` sprints.
    activation_min_active_users: int = 2
    activation_min_sprints: int = 1
    # the week-1 activation rate managers aim for, drawn on the Activation page (0 = no target line)
    activation_target: float = 0.0
    # --- modelling ---------------------------------------------------------------------------------
    sparse_min_nonzero_rate: float = 0.01
    tuning_budget_seconds: float = 120.0
    promotion_tolerance: float = 0.005
    capacity_per_week: int = 500
    random_seed: int = 27
    tuning_folds: int = 3  # CV folds of the hyper-parameter search (grouped by evaluator, stratified)
    tuning_max_trials: int = 40  # configurations tried at most (patience usually stops the search first)
    tuning_patience: int = 5  # trials in a row without a gain of tuning_min_gain end the search
    tuning_max_rounds: int = 2000  # trees per trial at most; early stopping ends most trials far sooner
    tuning_max_rows: int = 100_000  # the search uses whole evaluators drawn up to this many rows
    early_stopping_rounds: int = 50
    tuning_min_gain: float = 0.001  # CV ROC AUC a later configuration must add to become the best
    calibration_method: str = "auto"  # platt, isotonic or auto (the better on held-out log-loss)
    threshold_rule: str = "f2"  # the card's decision cut-off: f2 (maximise F2) or capacity (fill capacity_per_week)
    bootstrap_samples: int = 200  # resamples for the confidence intervals of ROC AUC and PR AUC
    train_threads: int = 0  # XGBoost threads; 0 = all cores
    # --- scoring and targeting ---------------------------------------------------------------------
    risk_tier_high: float = 0.6
    risk_tier_medium: float = 0.3
    swing_margin: float = 0.1
    channel_cost_email: float = 1.0
    channel_cost_push: float = 0.5
    channel_cost_in_app: float = 0.5
    channel_cost_chat: float = 15.0
    channel_cost_phone: float = 40.0
    score_history_sets: int = 60
    # might swing also when churn probability rose by at least this since the previous score
    swing_min_rise: float = 0.05
    # share of would-be churners one campaign saves, used for a channel whose uplift history is too thin
    save_rate_email: float = 0.02
    save_rate_push: float = 0.02
    save_rate_in_app: float = 0.03
    save_rate_chat: float = 0.06
    save_rate_phone: float = 0.10
    # channel uplift models (churn_core.scoring.channels): learner, trees per model, and the fewest resolved
    # evaluators a channel (and the control group) needs before its uplift is estimated
    uplift_learner: Literal["t", "x"] = "x"
    uplift_trees: int = 40
    uplift_min_group: int = 200
    freshness_hours: float = 36.0
    # telemetry is late when its last day is more than this many days before today: a banner on every page,
    # and the daily job alerts
    stale_after_days: int = 2
    # --- the measurement holdout (churn_core.data.holdout): this share of evaluators is never contacted, so
    # what contact achieves can be measured; assigned once per evaluator, stratified by product x cohort week
    # with a hash keyed by holdout_salt (changing either moves only evaluators not assigned yet)
    holdout_share: float = 0.10
    holdout_salt: str = "churn-holdout"
    # --- today's contact plan (churn_core.scoring.plan): contacts each channel can make a day; 0 = no limit
    capacity_email: int = 0
    capacity_phone: int = 50
    capacity_chat: int = 200
    capacity_push: int = 0
    capacity_in_app: int = 0
    # --- contact plays (churn_core.plays): where each day's treatment lists are POSTed as JSON (a CRM or a
    # marketing tool; may embed a token: masked, redacted), attempts per batch and the first retry's wait
    plays_webhook_url: str = field(default="", repr=False)
    plays_webhook_attempts: int = 4
    plays_webhook_backoff_seconds: float = 2.0
    # --- scheduling and alerts ---------------------------------------------------------------------
    train_cron: str = "0 2 * * mon"
    score_cron: str = "0 6 * * *"
    timezone: str = "UTC"
    alert_webhook_url: str = field(default="", repr=False)  # may embed a token: masked, redacted
    alert_command: str = field(default="", repr=False)
    log_json: bool = False
    # retries of a job step that failed with a transient error (warehouse lock, throttling), with
    # exponential backoff from job_retry_backoff_seconds
    job_retries: int = 2
    job_retry_backoff_seconds: float = 5.0
    # a scheduled run that could not start on time (the scheduler was busy) still runs within this grace
    misfire_grace_seconds: int = 3600
    # --- sign-in and roles: comma-separated e-mail addresses or `group:<name>` entries per role ------
    role_marketer: str = ""
    role_manager: str = ""
    role_analyst: str = ""
    role_admin: str = ""
    open_mode_role: str = "admin"
    # --- integrity: the HMAC key score sets are signed with (churn_core.signing); unset, a random key is
    # created once in $CHURN_HOME/signing.key. Jobs and dashboard on different machines must share it.
    signing_key: str = field(default="", repr=False)
    # --- dashboard ---------------------------------------------------------------------------------
    page_size: int = 50
    cache_ttl_seconds: int = 300

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def registry_dir(self) -> Path:
        return self.home / "models"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def signing_key_file(self) -> Path:
        return self.home / "signing.key"

    @property
    def kernel_cache_dir(self) -> Path:
        """The compiled SHAP kernels (churn_core.scoring.treeshap_kernels.cache_in)."""
        return self.home / "kernels"

    def channel_cost(self, channel: str) -> float:
        return float(getattr(self, f"channel_cost_{channel}"))

    def channel_capacity(self, channel: str) -> int:
        """Contacts the channel can make a day (settings capacity_<channel>); 0 means no limit."""
        return int(getattr(self, f"capacity_{channel}"))

    def with_overrides(self, **values: Any) -> Settings:
        return dataclasses.replace(self, **values)


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def _coerce(name: str, raw: Any, kind: Any, source: str) -> Any:
    """Convert a TOML or environment value to the field's declared type."""
    try:
        if typing.get_origin(kind) is Literal:
            allowed = typing.get_args(kind)
            if raw not in allowed:
                raise ValueError(f"must be one of {', '.join(allowed)}")
            return raw
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError("must be true or false")
        if kind is Path:
            return Path(str(raw)).expanduser()
        return kind(raw) if isinstance(kind, type) else raw
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r} from {source}: {raw!r} {exc}") from None


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def load_settings(env: dict[str, str] | None = None, config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: defaults, then the TOML file, then `CHURN_*` variables, then overrides."""
    env = dict(os.environ if env is None else env)
    kinds = _field_types()
    values: dict[str, Any] = {}
    path = config or (Path(env["CHURN_CONFIG"]) if env.get("CHURN_CONFIG") else Path("churn.toml"))
    if path.is_file():
        try:
            data = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML ({exc})") from None
        for name, raw in data.items():
            if name not in kinds:
                raise SettingsError(f"{path}: unknown setting {name!r}")
            values[name] = _coerce(name, raw, kinds[name], str(path))
    for name, kind in kinds.items():
        var = f"CHURN_{name.upper()}"
        if var in env:
            values[name] = _coerce(name, env[var], kind, f"environment variable {var}")
    values.update(overrides)
    settings = Settings(**values)
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    if not 0 < s.risk_tier_medium < s.risk_tier_high < 1:
        raise SettingsError("risk tiers need 0 < risk_tier_medium < risk_tier_high < 1")
    if s.demo_evaluators < 1 or s.demo_days < 1:
        raise SettingsError("demo_evaluators and demo_days must be positive")
    if not 0 <= s.activation_target < 1:
        raise SettingsError("activation_target is a share: 0 (no target) up to below 1, e.g. 0.12 for 12%")
    if s.stale_after_days < 0:
        raise SettingsError("stale_after_days must not be negative")
    if s.athena_max_attempts < 1 or s.athena_retry_base_seconds < 0:
        raise SettingsError("athena_max_attempts must be at least 1 and athena_retry_base_seconds not negative")
    if not 0 < s.holdout_share < 1:
        raise SettingsError(f"holdout_share must be between 0 and 1 (a share of evaluators), not {s.holdout_share}")
    if not s.holdout_salt.strip():
        raise SettingsError("holdout_salt must not be empty: it keys the holdout's random assignment")
    negative = [f"capacity_{c}" for c in CHANNELS if s.channel_capacity(c) < 0]
    if negative:
        raise SettingsError(f"{', '.join(negative)} must be 0 (no limit) or a positive number of contacts a day")
    if s.plays_webhook_attempts < 1 or s.plays_webhook_backoff_seconds < 0:
        raise SettingsError("plays_webhook_attempts must be at least 1 and plays_webhook_backoff_seconds not negative")
    if s.signing_key and len(s.signing_key.strip()) < MIN_SIGNING_KEY_CHARS:  # never quote the value
        raise SettingsError(f"signing_key (CHURN_SIGNING_KEY) must be at least {MIN_SIGNING_KEY_CHARS} characters")


def shown_value(settings: Settings, name: str) -> str:
    """A setting's value as `churn settings` prints it: credentials masked, empty ones shown empty."""
    value = getattr(settings, name)
    if name in SECRET_SETTINGS:
        return "*** (set, hidden)" if value else ""
    return str(value)


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, type, default) for every setting, for `churn settings` and the README."""
    kinds = _field_types()
    return [
        (f"CHURN_{f.name.upper()}", str(kinds[f.name]).replace("typing.", ""), str(f.default))
        for f in dataclasses.fields(Settings)
    ]

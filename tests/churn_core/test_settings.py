"""Settings: environment over TOML over defaults, with clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from churn_core.settings import SettingsError, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env={}, config=tmp_path / "none.toml")
    assert s.home == Path(".churn") and s.backend == "duckdb"
    assert s.warehouse_path == Path(".churn/warehouse.duckdb")


def test_environment_overrides_toml_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "churn.toml"
    config.write_text('backend = "athena"\nrisk_tier_high = 0.7\n[athena]\nregion = "eu-west-1"\n')
    s = load_settings(env={"CHURN_CONFIG": str(config), "CHURN_RISK_TIER_HIGH": "0.8", "CHURN_LOG_JSON": "yes"})
    assert s.backend == "athena" and s.athena_region == "eu-west-1"
    assert s.risk_tier_high == 0.8 and s.log_json is True
    assert load_settings(env={"CHURN_HOME": "/data/churn"}, config=config).home == Path("/data/churn")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHURN_BACKEND": "oracle"}, "must be one of duckdb, athena"),
        ({"CHURN_PAGE_SIZE": "many"}, "CHURN_PAGE_SIZE"),
        ({"CHURN_RISK_TIER_MEDIUM": "0.9"}, "risk tiers"),
        ({"CHURN_LOG_JSON": "maybe"}, "true or false"),
        ({"CHURN_HOLDOUT_SHARE": "0"}, "holdout_share must be between 0 and 1"),
        ({"CHURN_HOLDOUT_SHARE": "1.5"}, "holdout_share must be between 0 and 1"),
        ({"CHURN_HOLDOUT_SALT": " "}, "holdout_salt must not be empty"),
        ({"CHURN_CAPACITY_PHONE": "-5"}, "capacity_phone must be 0"),
        ({"CHURN_CAPACITY_CHAT": "lots"}, "CHURN_CAPACITY_CHAT"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env, config=tmp_path / "none.toml")


def test_unknown_toml_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "churn.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load_settings(env={}, config=config)

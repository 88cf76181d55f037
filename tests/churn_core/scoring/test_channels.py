"""Channel uplift: the learners find who a channel helps, the effects' intervals, and the history query."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn_core.schema import CHANNELS, FEATURES
from churn_core.scoring import channels
from churn_core.scoring.targeting import channel_costs, expected_values
from churn_core.settings import load_settings
from churn_core.warehouse import open_warehouse
from tests.benchmarks.uplift_metrics import qini_coefficient, uplift_quality

SETTINGS = load_settings(env={})


def _population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame({f: rng.poisson(2.0, n).astype(np.int32) for f in FEATURES})
    frame["mobile_usage"] = np.where(rng.random(n) < 0.3, rng.poisson(4.0, n) + 1, 0).astype(np.int32)
    frame["team_size"] = rng.integers(1, 30, n).astype(np.int32)
    frame["expected_annual_value"] = np.exp(rng.normal(6.5, 1.0, n))
    for c, levels in {
        "product": ["Boards", "Docs"],
        "edition": ["standard", "premium"],
        "region": ["AMER", "EMEA"],
        "company_size_band": ["1-10", "11-50"],
        "acquisition_source": ["organic", "partner"],
    }.items():
        frame[c] = pd.Series(rng.choice(levels, n), dtype="str")
    return frame


def true_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """A known world: push helps mobile users only, phone high-value accounts, email a little everyone."""
    mobile = frame["mobile_usage"].to_numpy() > 0
    value = frame["expected_annual_value"].to_numpy()
    return pd.DataFrame(
        {
            "effect_email": np.full(len(frame), 0.03),
            "effect_phone": np.where(value > 1500, 0.25, -0.02),
            "effect_chat": np.full(len(frame), 0.01),
            "effect_push": np.where(mobile, 0.25, -0.02),
            "effect_in_app": np.where(frame["w1_active_users"].to_numpy() <= 1, 0.12, 0.0),
        }
    )


def _history(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = _population(rng, n)
    effects = true_effects(frame)
    control = rng.random(n) < 0.2
    primary = np.asarray(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), n)]
    base = 0.25 + 0.04 * np.minimum(frame["w1_active_users"].to_numpy(), 5)
    effect = np.select([primary == c for c in CHANNELS], [effects[f"effect_{c}"].to_numpy() for c in CHANNELS])
    p = np.clip(base + np.where(control, 0.0, effect), 0, 1)
    frame["retained"] = (rng.random(n) < p).astype(np.int32)
    frame["control_group"] = control.astype(np.int32)
    frame["primary_channel"] = pd.Series(np.where(control, None, primary), dtype="str")
    return frame, effects


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, channels.UpliftModel, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    history, _ = _history(rng, 20_000)
    model = channels.fit_uplift(history, SETTINGS)
    new = _population(rng, 5_000)
    return history, model, new, true_effects(new)


def _scores(model: channels.UpliftModel, frame: pd.DataFrame) -> pd.DataFrame:
    uplift, rate = channels.estimate_channels(model, frame, np.full(len(frame), 0.7), SETTINGS)
    ev = expected_values(
        np.full(len(frame), 0.7), frame["expected_annual_value"].to_numpy(), rate, channel_costs(SETTINGS)
    )
    out = pd.DataFrame(
        {
            "instance": np.arange(len(frame)),
            "expected_annual_value": frame["expected_annual_value"].to_numpy(),
            "recommended_channel": np.asarray(CHANNELS, dtype=object)[ev.argmax(axis=1)],
        }
    )
    for j, c in enumerate(CHANNELS):
        out[f"uplift_{c}"] = uplift[:, j]
    return out


def test_the_x_learner_finds_who_each_channel_helps(world) -> None:
    _, model, new, truth = world
    assert model.estimated.all()
    quality = uplift_quality(_scores(model, new), truth.assign(instance=np.arange(len(new))), SETTINGS)
    assert quality["qini_push"] > 0.5 and quality["qini_phone"] > 0.5 and quality["qini_in_app"] > 0.3
    assert quality["uplift_at_20_push"] > 2.0
    assert quality["share_truly_best"] > quality["share_best_single_channel"] + 0.1


def test_the_t_learner_works_too(world) -> None:
    history, _, new, truth = world
    model = channels.fit_uplift(history, SETTINGS.with_overrides(uplift_learner="t"))
    quality = uplift_quality(_scores(model, new), truth.assign(instance=np.arange(len(new))), SETTINGS)
    assert quality["qini_push"] > 0.4


def test_channel_effects_cover_the_true_average_effect(world) -> None:
    history, model, _, _ = world
    effects = channels.estimate_channel_effects(history, model, SETTINGS).set_index("channel")
    truth = true_effects(history)
    for c in CHANNELS:
        true_ate = truth[f"effect_{c}"].mean()
        row = effects.loc[c]
        assert row["ci_low"] < row["uplift"] < row["ci_high"]
        assert row["ci_low"] - 0.01 <= true_ate <= row["ci_high"] + 0.01, c
        assert row["ci_high"] - row["ci_low"] < 0.08
        assert row["n_control"] == int(history["control_group"].sum())
        assert row["cost"] == SETTINGS.channel_cost(c)


def test_thin_channels_fall_back_to_the_default_save_rate(world) -> None:
    history, _, new, _ = world
    thin = history[(history["primary_channel"] != "phone") | (np.arange(len(history)) % 50 == 0)]
    model = channels.fit_uplift(thin, SETTINGS.with_overrides(uplift_min_group=500))
    phone = CHANNELS.index("phone")
    assert not model.estimated[phone] and model.estimated.sum() == len(CHANNELS) - 1
    p = np.full(len(new), 0.8)
    uplift, rate = channels.estimate_channels(model, new, p, SETTINGS)
    assert np.all(rate[:, phone] == SETTINGS.save_rate_phone)
    np.testing.assert_allclose(uplift[:, phone], SETTINGS.save_rate_phone * 0.8)
    effects = channels.estimate_channel_effects(thin, model, SETTINGS).set_index("channel")
    assert effects.loc["phone", "estimated"] == 0 and np.isnan(effects.loc["phone", "uplift"])
    no_control = channels.fit_uplift(history[history["control_group"] == 0], SETTINGS)
    assert not no_control.estimated.any()


def test_qini_coefficient_bounds() -> None:
    rng = np.random.default_rng(0)
    effect = rng.normal(0.05, 0.05, 10_000)
    assert qini_coefficient(effect, effect) == pytest.approx(1.0)
    assert np.isnan(qini_coefficient(effect, np.full(10_000, 0.03)))  # nothing to rank
    assert qini_coefficient(-effect, effect) < -0.9
    assert abs(qini_coefficient(rng.random(10_000), effect)) < 0.1


def test_category_codes_map_unknown_and_missing_to_nan() -> None:
    codes = channels.category_codes(pd.Series(["b", None, "zz", "a"], dtype="str"), ["a", "b"])
    np.testing.assert_array_equal(codes, [1, np.nan, np.nan, 0])


def test_uplift_history_takes_the_channel_of_most_touches(etl_home, small_tables) -> None:
    warehouse = open_warehouse(etl_home)
    history = channels.uplift_history(warehouse)
    modeling = warehouse.query("SELECT instance FROM instances_modeling")
    assert len(history) == len(modeling)
    ev = small_tables["evaluators"].set_index("instance")
    touches = small_tables["engagements"].merge(ev["resolved_date"].reset_index(), on="instance")
    sent_date = pd.to_datetime(touches["sent_at"].astype("datetime64[us]")).dt.normalize()
    touches = touches[sent_date < pd.to_datetime(touches["resolved_date"].astype("datetime64[s]"))]
    counts = touches.groupby(["instance", "channel"]).size().rename("n").reset_index()
    counts = counts.sort_values(["instance", "n", "channel"], ascending=[True, False, True])
    expected = counts.drop_duplicates("instance").set_index("instance")["channel"]
    got = history.set_index("instance")["primary_channel"]
    control = history.set_index("instance")["control_group"] == 1
    assert got[control].isna().all()
    treated = got.dropna()
    assert len(treated) > 1000
    assert (treated == expected.reindex(treated.index)).all()


def test_a_channel_a_play_randomised_is_learned_from_its_arms(world) -> None:
    """Chat's observational history is confounded (only the least active get it, and it does nothing); a play
    randomised 20,000 evaluators on chat with a true effect of 8 points: the model learns chat from the arms."""
    rng = np.random.default_rng(11)
    history, _, new, _ = world
    history = history.assign(play_channel=None, play_arm=None)
    play = _population(rng, 20_000)
    treated = rng.random(20_000) < 0.5
    base = 0.25 + 0.04 * np.minimum(play["w1_active_users"].to_numpy(), 5)
    play["retained"] = (rng.random(20_000) < base + 0.08 * treated).astype(np.int32)
    play["control_group"] = 0
    play["primary_channel"] = "email"
    play["play_channel"] = "chat"
    play["play_arm"] = np.where(treated, "treatment", "holdout")
    both = pd.concat([history, play], ignore_index=True)
    for learner in ("x", "t"):
        settings = SETTINGS.with_overrides(uplift_learner=learner)
        model = channels.fit_uplift(both, settings)
        assert model.learned_from("chat") == "randomised" and model.learned_from("email") == "observational"
        uplift, _ = model.uplift(model.design(new))
        assert abs(np.nanmean(uplift[:, CHANNELS.index("chat")]) - 0.08) < 0.03, learner
    effects = channels.estimate_channel_effects(both, model, settings).set_index("channel")
    chat = effects.loc["chat"]
    assert chat["learned_from"] == "randomised" and chat["n_randomised"] == 20_000
    assert (
        chat["randomised_low"] < 0.08 < chat["randomised_high"]
        and chat["randomised_high"] - chat["randomised_low"] < 0.04
    )
    assert np.isnan(effects.loc["phone", "randomised_uplift"]) and effects.loc["phone", "n_randomised"] == 0

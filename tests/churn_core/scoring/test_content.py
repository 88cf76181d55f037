"""Content effects: the regression-adjusted lift undoes who was sent an item, where the raw difference cannot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from churn_core.scoring.content import estimate_content_effects


@dataclass
class _KnownBaseline:
    """Stands in for the uplift model: its control outcome model is the true retention without contact."""

    control: _KnownBaseline | None = None

    def design(self, history: pd.DataFrame) -> np.ndarray:
        return history[["p0"]].to_numpy()

    def inplace_predict(self, x: np.ndarray) -> np.ndarray:
        return x[:, 0]


def _history(n: int = 40_000, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Evaluators whose retention without contact p0 also decides who is sent item A (no effect); item B, which
    adds 5 points, goes to some of the others; a fifth are the no-contact control group."""
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(0.1, 0.9, n)
    control = rng.random(n) < 0.2
    gets_a = ~control & (rng.random(n) < p0 * 0.6)
    gets_b = ~control & ~gets_a & (rng.random(n) < 0.3)  # so B goes more to those who would leave
    retained = (rng.random(n) < p0 + 0.05 * gets_b).astype(int)
    history = pd.DataFrame(
        {"instance": np.arange(n), "retained": retained, "control_group": control.astype(int), "p0": p0}
    )
    sent = pd.concat(
        [
            pd.DataFrame({"instance": np.flatnonzero(gets_a), "content_id": "A"}),
            pd.DataFrame({"instance": np.flatnonzero(gets_b), "content_id": "B"}),
        ]
    )
    return history, sent, {"A": 0.0, "B": 0.05}


def test_the_adjusted_lift_finds_the_true_effects_the_raw_difference_misses():
    history, sent, truth = _history()
    model = _KnownBaseline()
    model.control = model
    effects = estimate_content_effects(history, sent, model).set_index("content_id")
    for item, effect in truth.items():
        row = effects.loc[item]
        assert row["ci_low"] <= effect <= row["ci_high"], item
        assert row["lift"] == pytest.approx(effect, abs=0.02)
    assert effects.loc["A", "raw_low"] > 0.05  # A went to those who would have stayed anyway
    assert effects.loc["B", "raw_high"] < 0.05  # B to those who would rather leave
    assert (effects["n_sent"] == sent.groupby("content_id").size()).all()
    assert (effects["estimated"] == 1).all()


def test_without_a_control_model_only_the_raw_difference_is_given():
    history, sent, _ = _history(2_000)
    effects = estimate_content_effects(history, sent, _KnownBaseline(control=None))
    assert effects["lift"].isna().all() and (effects["estimated"] == 0).all()
    assert effects["raw_lift"].notna().all()
    empty = estimate_content_effects(history.iloc[:0], sent.iloc[:0], _KnownBaseline())
    assert empty.empty and empty["n_sent"].dtype == np.int32 and empty["lift"].dtype == np.float64

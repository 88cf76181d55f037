"""Next-best channel: the uplift in retention each engagement channel brings, per evaluator.

History: evaluators whose outcome has resolved (uplift_history.sql). The treatment of an evaluator is its
primary channel, the channel of most of its touches before the outcome; the control is the no-contact
control group (evaluators held out of marketing on purpose). Touches count whether or not they were
delivered (intention to treat): delivery depends on engagement -- an in-app message only reaches someone
who logs in -- so "delivered" treatment groups are selected on the outcome's drivers. On the demo data,
counting only delivered touches got the truly best channel for 30% of evaluators instead of 50-55%.
Features are the week-1 features plus the segment attributes. Per channel an X-learner (or a T-learner,
setting uplift_learner) over small XGBoost models estimates the individual uplift
tau_c(x) = P(retain | channel c, x) - P(retain | no contact, x):

* T-learner: one classifier on the control group (mu_0) and one per channel (mu_c); tau_c = mu_c - mu_0.
* X-learner: the same outcome models, then a regression of the imputed effects (Y - mu_0(x) on the
  treated, mu_c(x) - Y on the controls) weighted by 1 - g and g, g = the treated share: one model per
  channel instead of the textbook two mixed by g, half the scoring cost; better than the T-learner when one
  group is much smaller (the control group is a tenth of the evaluators).

The models are fitted once per scoring run on a few tens of thousands of rows (seconds), and applied
to every scored evaluator in a handful of vectorised predictions. Each channel's average effect is
reported with a normal-approximation 95% interval from the augmented (doubly robust) estimator.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xgboost as xgb

from churn_core.intervals import Z95
from churn_core.schema import CHANNELS, FEATURES
from churn_core.scoring.targeting import channel_costs, default_save_rates, save_rates
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

CATEGORICAL: tuple[str, ...] = ("product", "edition", "company_size_band", "region", "acquisition_source")
NUMERIC: tuple[str, ...] = (*FEATURES, "team_size", "expected_annual_value")
EFFECT_COLUMNS: tuple[str, ...] = (
    "as_of_date",
    "channel",
    "uplift",
    "ci_low",
    "ci_high",
    "n_treated",
    "n_control",
    "cost",
    "estimated",
    "recommended",
)
PREDICT_THREADS = 2  # uplift models predicted at once, one thread each
# Count touches sent but not delivered too: the treatment is the campaign (see the module doc).
COUNT_UNDELIVERED = True

_OUTCOME_PARAMS = {
    "objective": "binary:logistic",
    "eta": 0.08,
    "max_depth": 3,
    "min_child_weight": 10.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 5.0,
    "tree_method": "hist",
    "max_bin": 64,
    "verbosity": 0,
}
_EFFECT_PARAMS = {
    "objective": "reg:squarederror",
    "eta": 0.05,
    "max_depth": 2,
    "min_child_weight": 40.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 10.0,
    "tree_method": "hist",
    "max_bin": 64,
    "verbosity": 0,
}


def uplift_history(warehouse: Warehouse) -> pd.DataFrame:
    """Resolved evaluators with outcome, features, segment, control_group and primary_channel."""
    if not warehouse.table_exists("instances_modeling"):
        return pd.DataFrame(columns=["retained", "control_group", "primary_channel", *NUMERIC, *CATEGORICAL])
    if not warehouse.table_exists("engagements"):
        return warehouse.run("uplift_history_no_touches")
    return warehouse.run("uplift_history", {"count_undelivered": int(COUNT_UNDELIVERED)})


@dataclass
class UpliftModel:
    """The fitted per-channel uplift models; `estimate` applies them to evaluators."""

    learner: str
    categories: dict[str, list[str]]
    channels: tuple[str, ...] = CHANNELS
    control: xgb.Booster | None = None
    outcome: dict[str, xgb.Booster] = field(default_factory=dict)
    effect: dict[str, xgb.Booster] = field(default_factory=dict)
    treated_share: dict[str, float] = field(default_factory=dict)
    n_treated: dict[str, int] = field(default_factory=dict)
    n_control: int = 0

    @property
    def estimated(self) -> np.ndarray:
        """Per channel: True when its uplift comes from a model rather than the default save rate."""
        return np.asarray([c in self.outcome for c in self.channels])

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """Model inputs: numeric columns as float32 (NaN kept), categories as codes (unknown -> NaN)."""
        cols = [frame[c].to_numpy(np.float32, na_value=np.nan) for c in NUMERIC]
        cols += [category_codes(frame[c], self.categories[c]) for c in CATEGORICAL]
        return np.column_stack(cols) if cols else np.empty((len(frame), 0), np.float32)

    def uplift(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uplift per row and channel, NaN where not estimated; retention without contact per row)."""
        n = len(x)
        out = np.full((n, len(self.channels)), np.nan)
        if self.control is None:
            return out, np.full(n, np.nan)
        models = {"": self.control} | {
            c: (self.effect if self.learner == "x" else self.outcome)[c] for c in self.channels if c in self.outcome
        }
        # single-threaded models side by side: no OpenMP threads spinning against each other
        with ThreadPoolExecutor(max_workers=PREDICT_THREADS) as pool:
            predicted = dict(zip(models, pool.map(lambda b: b.inplace_predict(x), models.values()), strict=True))
        mu0 = predicted.pop("").astype(np.float64)
        for c, values in predicted.items():
            j = self.channels.index(c)
            out[:, j] = values if self.learner == "x" else values - mu0
        return out, mu0


def category_codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Position of each value in `categories` as float32, NaN when unknown or missing; hashes the few
    distinct values once (Arrow dictionary encoding) instead of looking up a million strings."""
    encoded = pc.dictionary_encode(pa.array(values.astype("str"), pa.string(), from_pandas=True))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    lookup = pd.Index(categories).get_indexer(encoded.dictionary.to_pylist()).astype(np.float32)
    lookup[lookup < 0] = np.nan
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    codes = np.full(len(values), np.nan, np.float32)
    valid = ~np.asarray(encoded.indices.is_null())
    codes[valid] = lookup[indices[valid].astype(np.int64)]
    return codes


def _train(
    params: dict[str, object],
    x: np.ndarray,
    y: np.ndarray,
    rounds: int,
    seed: int,
    weight: np.ndarray | None = None,
) -> xgb.Booster:
    # One thread: these models are small, and threads only contend with the rest of the machine.
    data = xgb.DMatrix(x, label=y, weight=weight, nthread=1)
    booster = xgb.train({**params, "seed": seed, "nthread": 1}, data, num_boost_round=rounds)
    return booster


def fit_uplift(history: pd.DataFrame, settings: Settings) -> UpliftModel:
    """Fit the control and per-channel models on resolved history (channels with too few rows are skipped)."""
    categories = {c: sorted(history[c].dropna().astype(str).unique().tolist()) for c in CATEGORICAL}
    model = UpliftModel(settings.uplift_learner, categories)
    if history.empty:
        return model
    control = history["control_group"].to_numpy() == 1
    primary = history["primary_channel"].astype(object).where(~control, None).to_numpy()
    y = history["retained"].to_numpy(np.float32)
    x = model.design(history)
    model.n_control = int(control.sum())
    model.n_treated = {c: int((primary == c).sum()) for c in CHANNELS}
    if model.n_control < settings.uplift_min_group:
        return model
    rounds, seed = settings.uplift_trees, settings.random_seed
    model.control = _train(_OUTCOME_PARAMS, x[control], y[control], rounds, seed)
    mu0 = model.control.inplace_predict(x)
    for c in CHANNELS:
        treated = primary == c
        if model.n_treated[c] < settings.uplift_min_group:
            continue
        model.outcome[c] = _train(_OUTCOME_PARAMS, x[treated], y[treated], rounds, seed)
        model.treated_share[c] = model.n_treated[c] / (model.n_treated[c] + model.n_control)
        if settings.uplift_learner == "x":
            # One regression on both imputed effects, weighted like the X-learner's mix g tau_0 + (1-g) tau_1
            g = model.treated_share[c]
            group = treated | control
            imputed = np.where(treated, y - mu0, model.outcome[c].inplace_predict(x) - y)[group]
            weight = np.where(treated, 1.0 - g, g)[group]
            model.effect[c] = _train(_EFFECT_PARAMS, x[group], imputed, rounds, seed, weight)
    return model


def estimate_channels(
    model: UpliftModel, frame: pd.DataFrame, churn_probability: np.ndarray, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """(uplift, save rate) per evaluator and channel. Channels without a model fall back to the default
    save rate of settings, and their uplift to that save rate x the evaluator's churn probability."""
    uplift, mu0 = model.uplift(model.design(frame))
    rate = save_rates(uplift, mu0)
    default = default_save_rates(settings, model.channels)
    missing = ~model.estimated
    if missing.any():
        p = np.asarray(churn_probability, float)[:, None]
        rate[:, missing] = default[missing][None, :]
        uplift[:, missing] = default[missing][None, :] * p
    return uplift, rate


def estimate_channel_effects(history: pd.DataFrame, model: UpliftModel, settings: Settings) -> pd.DataFrame:
    """Each channel's average uplift over its treated and control evaluators, with a 95% interval.

    The augmented estimator mean(mu_c - mu_0 + T (Y - mu_c) / e - (1 - T)(Y - mu_0) / (1 - e)) with e the
    treated share corrects the outcome models by their residuals; its standard error gives the interval.
    """
    costs = channel_costs(settings, model.channels)
    rows = []
    control = history["control_group"].to_numpy() == 1 if len(history) else np.zeros(0, bool)
    primary = history["primary_channel"].astype(object).where(~control, None).to_numpy()
    x = model.design(history) if len(history) else np.empty((0, len(NUMERIC) + len(CATEGORICAL)), np.float32)
    y = history["retained"].to_numpy(np.float64) if len(history) else np.empty(0)
    mu0 = model.control.inplace_predict(x).astype(np.float64) if model.control is not None else None
    for j, c in enumerate(model.channels):
        uplift = low = high = np.nan
        if c in model.outcome and mu0 is not None:
            group = (primary == c) | control
            t = (primary[group] == c).astype(np.float64)
            e = model.treated_share[c]
            m1 = model.outcome[c].inplace_predict(x[group]).astype(np.float64)
            m0 = mu0[group]
            yy = y[group]
            psi = m1 - m0 + t * (yy - m1) / e - (1.0 - t) * (yy - m0) / (1.0 - e)
            uplift = float(psi.mean())
            half = Z95 * float(psi.std(ddof=1)) / np.sqrt(len(psi))
            low, high = uplift - half, uplift + half
        rows.append(
            (
                c,
                uplift,
                low,
                high,
                model.n_treated.get(c, 0),
                model.n_control,
                costs[j],
                int(c in model.outcome),
            )
        )
    out = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS[1:-1]))
    out["n_treated"] = out["n_treated"].astype(np.int32)
    out["n_control"] = out["n_control"].astype(np.int32)
    out["estimated"] = out["estimated"].astype(np.int32)
    return out

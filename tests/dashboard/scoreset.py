"""A stand-in score set for dashboard tests and benchmarks: schema-conforming, deterministic, fast.

`fabricate_scores` writes `evaluator_scores` (exactly schema.EVALUATOR_SCORES, then shap_<feature> and
uplift_<channel>), `score_sets`, `score_drift` and `channel_effects` from instances_w1 features computed
for each as-of date, with a fixed logistic model whose SHAP values are exact (a linear model's
contribution per feature). Used where the real pipeline (churn train + churn score) is unavailable or too
slow (the 1,000,000-evaluator benchmark).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from churn_core.schema import CHANNELS, EVALUATOR_SCORES, FEATURES
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, load_sql

MODEL_VERSION = "fabricated-1"
THRESHOLD = 0.5
WEIGHTS = {
    "number_of_projects": -0.25, "number_of_issues": -0.35, "number_of_invites": -0.30, "w1_active_users": -0.55,
    "w1_agg_active_users": -0.20, "w1_max_active_users": -0.15, "watchers_added": -0.05, "issues_updated": -0.10,
    "issues_commented": -0.20, "issues_assigned": -0.10, "at_mentions": -0.10, "issues_viewed": -0.05,
    "issues_completed": -0.15, "mobile_usage": -0.05, "sprint_started": -0.30, "sprint_finished": -0.10,
}
BASE = 0.1


def _unit_hash(values: np.ndarray, salt: int) -> np.ndarray:
    x = np.sin(values.astype(float) * 12.9898 + salt * 78.233) * 43758.5453
    return x - np.floor(x)


def _label(feature: str, value: float, shap: float) -> str:
    from churn_core.views import reason_text

    return reason_text(feature, None if np.isnan(value) else int(value), shap)


def score_frame(w1: pd.DataFrame, settings: Settings, as_of: dt.date, previous: pd.DataFrame | None,
                activation: pd.DataFrame, reached: pd.DataFrame) -> pd.DataFrame:
    """One fabricated score set for the evaluators of `w1` (instances_w1 as of `as_of`)."""
    n = len(w1)
    instance = w1["instance"].to_numpy(dtype=np.int64)
    z = {f: np.log1p(w1[f].astype(float).to_numpy()) for f in FEATURES}
    shap = {}
    for f in FEATURES:
        values = z[f]
        centred = values - np.nanmean(values) if np.isfinite(values).any() else np.zeros(n)
        shap[f] = np.nan_to_num(WEIGHTS[f] * centred, nan=0.0)
    margin = BASE + sum(shap.values())
    p = 1.0 / (1.0 + np.exp(-margin))
    value = w1["expected_annual_value"].astype(float).to_numpy()
    costs = np.array([settings.channel_cost(c) for c in CHANNELS])
    uplift = np.column_stack([0.01 + 0.07 * _unit_hash(instance, i + 1) for i in range(len(CHANNELS))])
    ev_all = p[:, None] * value[:, None] * uplift / 0.65 - costs[None, :]
    best = ev_all.argmax(axis=1)
    ev = ev_all[np.arange(n), best]
    prev = previous.set_index("instance") if previous is not None and len(previous) else None
    prev_p = prev["churn_probability"].reindex(instance).to_numpy() if prev is not None else np.full(n, np.nan)
    prev_d = prev["as_of_date"].reindex(instance) if prev is not None else pd.Series([None] * n)
    predicted = (p >= THRESHOLD).astype(int)
    change = p - prev_p
    worth = (predicted == 1) & (ev > 0)
    swing = (predicted == 0) & ((p >= THRESHOLD - settings.swing_margin) | (np.nan_to_num(change) >= 0.1))
    segment = np.select([worth, swing, predicted == 1], ["worth saving", "might swing", "at risk, low value"],
                        "on track")
    shap_matrix = np.column_stack([shap[f] for f in FEATURES])
    order = np.argsort(-np.abs(shap_matrix), axis=1)[:, :3]
    values = np.column_stack([w1[f].astype(float).to_numpy() for f in FEATURES])
    drivers = [[{"feature": FEATURES[j], "value": None if np.isnan(values[i, j]) else float(values[i, j]),
                 "shap": round(float(shap_matrix[i, j]), 4),
                 "reason": _label(FEATURES[j], values[i, j], shap_matrix[i, j])} for j in order[i]]
               for i in range(n)]
    start = pd.to_datetime(w1["eval_start_date"])
    act = activation.set_index(["instance", "day_index"])["activated"]
    day = np.minimum(w1["day_of_trial"].to_numpy(), 7)
    activated = act.reindex(pd.MultiIndex.from_arrays([instance, day])).fillna(0).astype(int).to_numpy()
    tiers = np.select([p >= settings.risk_tier_high, p >= settings.risk_tier_medium], ["high", "medium"], "low")
    out = pd.DataFrame({
        "instance": w1["instance"].astype("int32"),
        "as_of_date": pd.Series([as_of] * n, dtype="date32[pyarrow]"),
        "day_of_trial": w1["day_of_trial"].astype("int32"),
        "as_of_day": w1["as_of_day"].astype("int32"),
        "eval_start_date": pd.Series(start.dt.date, dtype="date32[pyarrow]"),
        "cohort_week": pd.Series((start - pd.to_timedelta(start.dt.day_of_week, unit="D")).dt.date,
                                 dtype="date32[pyarrow]"),
        "model_version": MODEL_VERSION,
        "churn_probability": p,
        "churn_margin": margin,
        "risk_tier": tiers,
        "predicted_churn": predicted.astype("int32"),
        "risk_rank": pd.Series(p).rank(ascending=False, method="first").astype("int32").to_numpy(),
        "top_reason": [d[0]["reason"] if d else None for d in drivers],
        "top_drivers": [json.dumps(d) for d in drivers],
        "shap_base": BASE,
        **{c: w1[c].to_numpy() for c in ("product", "edition", "team_size", "company_size_band", "region",
                                          "acquisition_source", "expected_annual_value", "control_group")},
        "channels_reached": reached.reindex(instance).to_numpy(),
        "activated": activated.astype("int32"),
        "value_at_risk": p * value,
        "recommended_channel": np.array(CHANNELS)[best],
        "channel_uplift": uplift[np.arange(n), best],
        "expected_value": ev,
        "worth_saving": worth.astype("int32"),
        "might_swing": swing.astype("int32"),
        "segment": segment,
        "previous_as_of_date": pd.Series(pd.to_datetime(prev_d.to_numpy()), dtype="datetime64[s]").dt.date.astype(
            "date32[pyarrow]"),
        "previous_probability": prev_p,
        "probability_change": change,
    })
    assert list(out.columns) == EVALUATOR_SCORES.names
    for f in FEATURES:
        out[f"shap_{f}"] = shap[f]
    for i, c in enumerate(CHANNELS):
        out[f"uplift_{c}"] = uplift[:, i]
    return out


def fabricate_scores(warehouse: Warehouse, settings: Settings, as_of_dates: list[dt.date]) -> None:
    """Write fabricated score sets (oldest first) and the scoring job's side tables."""
    activation = warehouse.query("SELECT instance, day_index, activated FROM activation_daily")
    touches = warehouse.query(
        "SELECT instance, channel, CAST(sent_at AS DATE) AS sent FROM engagements WHERE delivered = 1")
    previous = None
    sets, drift, effects = [], [], []
    for as_of in sorted(as_of_dates):
        w1 = warehouse.query(load_sql("instances_w1"), {"as_of": as_of})
        seen = touches[pd.to_datetime(touches["sent"]) <= pd.Timestamp(as_of)]
        reached = seen.drop_duplicates(["instance", "channel"]).assign(
            k=lambda d: d["channel"].map(CHANNELS.index)).sort_values(["instance", "k"]).groupby(
            "instance")["channel"].agg(",".join)
        frame = score_frame(w1, settings, as_of, previous, activation, reached)
        warehouse.write_partition("evaluator_scores", frame, "as_of_date", as_of, keep=settings.score_history_sets)
        previous = frame[["instance", "churn_probability", "as_of_date"]]
        sets.append({"as_of_date": as_of, "model_version": MODEL_VERSION, "rows": len(frame),
                     "created_at": dt.datetime.combine(as_of, dt.time(6, 0))})
        for i, f in enumerate((*FEATURES, "churn_probability")):
            psi = round(0.02 + 0.3 * _unit_hash(np.array([i + as_of.toordinal()]), 3)[0] ** 3, 4)
            drift.append({"as_of_date": as_of, "feature": f, "psi": psi,
                          "status": "alert" if psi >= 0.25 else "watch" if psi >= 0.1 else "ok"})
        for i, c in enumerate(CHANNELS):
            u = 0.01 + 0.01 * i
            effects.append({"as_of_date": as_of, "channel": c, "uplift": u, "ci_low": u - 0.02, "ci_high": u + 0.02,
                            "n_treated": 400 - 50 * i, "n_control": 300, "cost": settings.channel_cost(c)})
    warehouse.write_tables({"score_sets": pd.DataFrame(sets), "score_drift": pd.DataFrame(drift),
                            "channel_effects": pd.DataFrame(effects)})

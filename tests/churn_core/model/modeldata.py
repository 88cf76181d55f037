"""Small, learnable training data for the model tests: evaluator snapshots and a customer table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_core.model.datasets import Dataset
from churn_core.model.snapshots import evaluator_frame_dataset
from churn_core.schema import FEATURES

REAL_DATA = __import__("pathlib").Path(__file__).resolve().parents[4] / "shared" / "data" / "real"


def evaluator_snapshots(n: int = 400, seed: int = 0, start: str = "2026-01-05", days: int = 56) -> pd.DataFrame:
    """Rows shaped like training_snapshots: each evaluator on days 1..7; usage grows with a hidden propensity
    that also drives churn, so the features are informative and more so on later days."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    team = rng.integers(1, 30, size=n)
    edition = rng.choice(["standard", "premium", "enterprise"], size=n)
    region = rng.choice(["AMER", "EMEA", "APAC"], size=n)
    churn_p = 1 / (1 + np.exp(-(0.4 - 1.6 * z + 0.5 * (edition == "standard"))))
    churned = (rng.random(n) < churn_p).astype(int)
    starts = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, days, size=n)), unit="D")
    rows = []
    for d in range(1, 8):
        rate = np.exp(0.8 * z) * d
        row = {"instance": np.arange(n) + 1000, "as_of_day": d}
        for j, name in enumerate(FEATURES):
            row[name] = rng.poisson(rate * (1 + j % 3)).astype(float)
        row["watchers_added"] = (rng.random(n) < 0.004).astype(float)  # sparse: dropped by the rule
        row["w1_active_users"] = np.minimum(team, rng.poisson(np.exp(0.5 * z) * (1 + d / 3)))
        rows.append(pd.DataFrame(row))
    df = pd.concat(rows, ignore_index=True)
    idx = df["instance"].to_numpy() - 1000
    df["eval_start_date"] = starts[idx].strftime("%Y-%m-%d")
    df["churned"] = churned[idx]
    df["retained"] = 1 - df["churned"]
    df["product"] = "Boards"
    df["edition"] = edition[idx]
    df["team_size"] = team[idx]
    df["company_size_band"] = rng.choice(["1-10", "11-50"], size=n)[idx]
    df["region"] = region[idx]
    df["acquisition_source"] = "organic"
    df["expected_annual_value"] = team[idx] * 100.0
    df["control_group"] = 0
    df["true_churn_prob"] = churn_p[idx]
    return df.sort_values(["instance", "as_of_day"]).reset_index(drop=True)


def evaluator_data(n: int = 400, seed: int = 0, **kwargs: object) -> Dataset:
    df = evaluator_snapshots(n, seed, **kwargs)  # type: ignore[arg-type]
    return evaluator_frame_dataset(df.drop(columns="true_churn_prob"), truth=df["true_churn_prob"].to_numpy())


def customer_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A customer table with text categoricals, a numeric code, an id, a Yes/No label."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    tenure = rng.integers(0, 72, size=n)
    calls = rng.poisson(2, size=n)
    logit = 1.0 - 0.05 * tenure + 0.6 * calls + 1.0 * (plan == "basic")
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer": [f"C{i:05d}" for i in range(n)],
            "plan": plan,
            "tenure": tenure,
            "support calls": calls,
            "area": rng.choice([408, 415, 510], size=n),
            "monthly": np.round(rng.uniform(20, 120, size=n), 2),
            "Churn": np.where(churn, "Yes", "No"),
        }
    )


SPEC = """
name = "{name}"
id = "customer"
label = "Churn"
positive = "Yes"
target = "churn"
categorical = ["area"]
"""


def write_customer_files(
    tmp_path,
    n: int = 300,
    name: str = "small",
    seed: int = 0,
    table: pd.DataFrame | None = None,
    spec: str | None = None,
):  # type: ignore[no-untyped-def]
    data, spec_path = tmp_path / f"{name}.csv", tmp_path / f"{name}.toml"
    (customer_table(n, seed) if table is None else table).to_csv(data, index=False)
    spec_path.write_text(SPEC.format(name=name) if spec is None else spec)
    return data, spec_path

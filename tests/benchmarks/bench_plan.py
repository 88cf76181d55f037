"""Benchmark: the contact plan's TRUE incremental retained value on demo data, against ranking by risk alone
and by risk x value, at the same daily capacity per channel.

Run on demand: `python tests/benchmarks/bench_plan.py [--home DIR] [--capacity phone=50,chat=200,...]`.

The demo generator knows what one contact through each channel truly adds to each evaluator's retention
probability (demo_truth.effect_<channel>), so the revenue a contact list truly retains is known:
effect_<channel> x expected_annual_value for each contact, less the channel's cost for the net figure.

The three lists contact the same number of evaluators through each channel (the capacity), never the holdout:

* plan: churn_core.scoring.targeting.choose_targets -- the product's own decision, greedy over evaluator-channel
  pairs by expected incremental retained value (risk x save rate x value - cost), within the capacities;
* risk: evaluators by churn probability, highest first;
* risk x value: evaluators by churn probability x expected annual value (value at risk), highest first.

Both rankings give each evaluator, in turn, the channel the product's own uplift estimates value most among
those with capacity left: they differ from the plan only in whom they contact first, and in not weighing
one channel's capacity against another's. The estimates are the scoring job's (channel uplift models fitted
on the resolved history, the champion's churn probabilities of the newest score set).

The demo warehouse is built as `churn demo` builds it, unless --home points at one. Last line: key=value.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from churn_core.jobs.demo import run_demo  # noqa: E402
from churn_core.schema import CHANNELS  # noqa: E402
from churn_core.scoring import channels, targeting  # noqa: E402
from churn_core.settings import Settings, load_settings  # noqa: E402
from churn_core.warehouse import Warehouse, open_warehouse  # noqa: E402

DEFAULT_CAPACITY = "phone=50,chat=200,email=1000,push=500,in_app=500"


def capacities(text: str) -> dict[str, int]:
    given = dict(part.split("=") for part in text.split(",") if part)
    unknown = set(given) - set(CHANNELS)
    if unknown:
        raise SystemExit(f"unknown channel(s) {', '.join(sorted(unknown))}: use {', '.join(CHANNELS)}")
    return {c: int(given.get(c, 0)) for c in CHANNELS}


def estimates(warehouse: Warehouse, settings: Settings) -> tuple[pd.DataFrame, np.ndarray, float]:
    """The newest score set's evaluators (with the demo's truth), the expected value of contacting each through
    each channel as scoring estimates it, and the set's threshold."""
    as_of = warehouse.query("SELECT max(as_of_date) AS d FROM score_sets").iloc[0, 0]
    threshold = float(
        warehouse.query("SELECT threshold FROM score_sets WHERE as_of_date = :d", {"d": as_of}).iloc[0, 0]
    )
    scores = warehouse.query(
        "SELECT instance, churn_probability, expected_annual_value, control_group FROM evaluator_scores "
        "WHERE as_of_date = :d",
        {"d": as_of},
    )
    frame = warehouse.run("scoring_instances", {"as_of": as_of})
    frame = frame.merge(scores[["instance", "churn_probability"]], on="instance", validate="one_to_one")
    history = channels.uplift_history(warehouse)
    model = channels.fit_uplift(history, settings)
    p = frame["churn_probability"].to_numpy(np.float64)
    _, rate = channels.estimate_channels(model, frame, p, settings)
    value = frame["expected_annual_value"].to_numpy(np.float64, na_value=np.nan)
    ev = targeting.expected_values(p, value, rate, targeting.channel_costs(settings))
    truth = warehouse.query("SELECT * FROM demo_truth")
    rows = frame[["instance"]].merge(scores, on="instance").merge(truth, on="instance", validate="one_to_one")
    return rows, ev, threshold


def plan_channels(rows: pd.DataFrame, ev: np.ndarray, threshold: float, settings: Settings) -> np.ndarray:
    """The product's plan: each row's plan channel (index), -1 when not in it."""
    chosen = targeting.choose_targets(
        rows["churn_probability"].to_numpy(),
        threshold,
        ev,
        np.full(len(rows), np.nan),
        rows["control_group"].to_numpy(),
        rows["instance"].to_numpy(),
        settings,
    )
    return np.where(chosen.worth_saving == 1, chosen.recommended, -1)


def ranked_channels(order: np.ndarray, ev: np.ndarray, eligible: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Walk `order`: each eligible evaluator gets its most valuable channel (estimated) with capacity left."""
    left = capacity.astype(np.int64).copy()
    channel = np.full(len(ev), -1)
    preference = np.argsort(-np.nan_to_num(ev, nan=-np.inf), axis=1, kind="stable")
    for i in order:
        if not left.any():
            break
        if not eligible[i]:
            continue
        j = next((j for j in preference[i] if left[j] > 0), None)
        if j is not None:
            channel[i], left[j] = j, left[j] - 1
    return channel


def true_value(rows: pd.DataFrame, channel: np.ndarray, settings: Settings) -> tuple[float, float, int]:
    """(retained revenue truly added, the same net of the contacts' cost, contacts) of a list."""
    contacted = channel >= 0
    effect = rows[[f"effect_{c}" for c in CHANNELS]].to_numpy(np.float64)[np.flatnonzero(contacted), channel[contacted]]
    value = rows["expected_annual_value"].to_numpy(np.float64)[contacted]
    gross = float(np.sum(effect * value))
    cost = float(targeting.channel_costs(settings)[channel[contacted]].sum())
    return gross, gross - cost, int(contacted.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--home", type=Path, default=None, help="a CHURN_HOME holding a scored demo (built when missing)"
    )
    parser.add_argument(
        "--capacity", default=DEFAULT_CAPACITY, help="contacts a day per channel, e.g. phone=50,chat=200"
    )
    args = parser.parse_args()
    tmp = None if args.home else tempfile.TemporaryDirectory()
    home = args.home or Path(tmp.name)
    capacity = capacities(args.capacity)
    settings = load_settings(env={}, config=home / "absent.toml", home=home).with_overrides(
        **{f"capacity_{c}": n for c, n in capacity.items()}
    )
    if not settings.warehouse_path.exists():
        started = time.perf_counter()
        run_demo(settings)
        print(f"demo built and scored in {time.perf_counter() - started:.0f} s", flush=True)
    rows, ev, threshold = estimates(open_warehouse(settings, read_only=True), settings)
    ev[:, [capacity[c] == 0 for c in CHANNELS]] = np.nan  # a channel left out of --capacity is not used at all
    eligible = rows["control_group"].to_numpy() == 0
    p = rows["churn_probability"].to_numpy()
    at_risk = p * rows["expected_annual_value"].to_numpy()
    instance = rows["instance"].to_numpy()
    limits = np.asarray([capacity[c] for c in CHANNELS])
    lists = {
        "plan": plan_channels(rows, ev, threshold, settings),
        "risk": ranked_channels(np.lexsort((instance, -p)), ev, eligible, limits),
        "risk_value": ranked_channels(np.lexsort((instance, -at_risk)), ev, eligible, limits),
    }
    figures: dict[str, float] = {}
    print(f"{len(rows):,} evaluators in trial, {int((~eligible).sum()):,} held out; capacity a day: {capacity}")
    for name, channel in lists.items():
        gross, net, contacts = true_value(rows, channel, settings)
        per = {c: int((channel == j).sum()) for j, c in enumerate(CHANNELS)}
        print(f"{name:>10}: {contacts:,} contacts {per}; true retained revenue ${gross:,.0f}, net of cost ${net:,.0f}")
        figures |= {f"{name}_true_value": gross, f"{name}_true_net": net, f"{name}_contacts": contacts}
    wins = figures["plan_true_net"] > max(figures["risk_true_net"], figures["risk_value_true_net"])
    print(
        " ".join(f"{k}={v:.0f}" for k, v in figures.items())
        + f" plan_vs_risk={figures['plan_true_net'] / figures['risk_true_net']:.2f}"
        + f" plan_vs_risk_value={figures['plan_true_net'] / figures['risk_value_true_net']:.2f}"
        + f" plan_wins={int(wins)}"
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()

"""Benchmark: do a play's intervals cover its true effect, without bias, and does the covariate narrow them?
Does the always-valid interval keep false wins at 5% when it is looked at every day?

Run on demand: `python tests/benchmarks/bench_plays.py [--home DIR] [--runs 400] [--size 4000]`.

The demo is generated (57,700 evaluators), the model trained on the outcomes known 44 days before the data's
end, and the evaluators in trial scored on three days a week apart from then: each evaluator's first score is
its churn probability at assignment, fixed before any outcome the experiments draw (and from a model that never
saw it). The pool is the scored evaluators outside the measurement holdout whose outcome resolved by the end.

Each simulated experiment draws `size` evaluators from the pool, assigns them with the product's own
randomisation (churn_core.plays.assign.assign_play: blocked within risk tier, half held out, a new salt per
experiment) and draws every outcome from the generator's true probability plus, for the treated, the true
effect of one chat touch on that evaluator (demo_truth.effect_chat). The truth is the mean of those effects
over the experiment's evaluators. Printed per scenario, then the last line:

coverage: share of the adjusted (CUPED) 95% intervals that contain the truth; bias: mean estimate - truth, in
points; narrowing: 1 - mean width with the covariate / mean width without; false_wins: share of experiments with
no effect in which the always-valid interval, looked at after each of 30 days of arrivals, is above zero once;
narrowing_limit: the narrowing the generator's true probability would give as covariate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from churn_core.data import synthetic  # noqa: E402
from churn_core.data.etl import run_etl  # noqa: E402
from churn_core.data.ingest import load_raw  # noqa: E402
from churn_core.model.registry import Registry  # noqa: E402
from churn_core.model.train import train_candidate  # noqa: E402
from churn_core.plays import stats  # noqa: E402
from churn_core.plays.assign import assign_play  # noqa: E402
from churn_core.plays.spec import parse_play  # noqa: E402
from churn_core.scoring.score import score_evaluators  # noqa: E402
from churn_core.settings import Settings, load_settings  # noqa: E402
from churn_core.warehouse import Warehouse, open_warehouse  # noqa: E402

SCORE_DAYS = (44, 37, 30)  # days before the data's end the evaluators in trial are scored
LOOKS = 30
PLAY = parse_play(
    {
        "name": "bench",
        "owner": "bench",
        "channel": "chat",
        "content_id": "CH-01",
        "daily_capacity": 1_000_000,
        "holdout_share": 0.5,
        "start_date": dt.date(2000, 1, 1),
        "end_date": dt.date(2100, 1, 1),
    }
)


def build(settings: Settings) -> None:
    """The demo, a model trained 44 days before its end, and the score sets of SCORE_DAYS."""
    warehouse = open_warehouse(settings)
    tables = synthetic.generate(settings.demo_evaluators, seed=settings.demo_seed)
    load_raw(warehouse, {k: v for k, v in tables.items() if k != "demo_truth"}, {"demo_truth": tables["demo_truth"]})
    end = synthetic.DEFAULT_END_DATE
    run_etl(warehouse, settings, end - dt.timedelta(days=SCORE_DAYS[0]))
    registry = Registry(settings)
    registry.promote(train_candidate(warehouse, settings, "tuned").version, force=True)
    for days in SCORE_DAYS:
        day = end - dt.timedelta(days=days)
        run_etl(warehouse, settings, day)
        score_evaluators(warehouse, settings, registry.load("champion"), day)


def pool(warehouse: Warehouse) -> pd.DataFrame:
    """Each resolved evaluator outside the holdout at its first score, with its truth."""
    return warehouse.query(
        """
        SELECT s.*, e.retained, t.true_retention_prob, t.effect_chat
        FROM evaluator_scores AS s
        JOIN (SELECT instance, min(as_of_date) AS first FROM evaluator_scores GROUP BY instance) AS f
            ON f.instance = s.instance AND f.first = s.as_of_date
        JOIN evaluators AS e ON e.instance = s.instance
        JOIN demo_truth AS t ON t.instance = s.instance
        WHERE s.control_group = 0 AND e.retained IS NOT NULL
        ORDER BY s.eval_start_date, s.instance
        """
    )


def experiment(rows: pd.DataFrame, effect: np.ndarray, salt: str, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """One randomised experiment on `rows`: (outcome, treated, model covariate, true covariate) in arrival order."""
    arms = assign_play(PLAY, rows, dt.date(2026, 1, 1), Settings(holdout_salt=salt), set(), {})
    treated = rows["instance"].map(arms.set_index("instance")["arm"].eq("treatment")).to_numpy(bool)
    p = rows["true_retention_prob"].to_numpy() + treated * effect
    y = (rng.random(len(rows)) < np.clip(p, 0.0, 1.0)).astype(float)
    return y, treated, rows["churn_probability"].to_numpy(), rows["true_retention_prob"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=None, help="a CHURN_HOME built by an earlier run")
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--size", type=int, default=4_000, help="evaluators per experiment")
    args = parser.parse_args()
    tmp = None if args.home else tempfile.TemporaryDirectory()
    home = args.home or Path(tmp.name)
    settings = load_settings(env={}, config=home / "absent.toml", home=home, tuning_budget_seconds=20.0)
    started = time.perf_counter()
    if not open_warehouse(settings).table_exists("score_sets"):
        build(settings)
        print(f"demo built, trained and scored in {time.perf_counter() - started:.0f} s", flush=True)
    everyone = pool(open_warehouse(settings))
    corr = np.corrcoef(everyone["churn_probability"], everyone["retained"])[0, 1]
    true_corr = np.corrcoef(everyone["true_retention_prob"], everyone["retained"])[0, 1]
    print(
        f"pool: {len(everyone):,} evaluators; correlation with the outcome: model {corr:+.2f}, truth {true_corr:+.2f}"
    )
    rng = np.random.default_rng(2026)
    covered, errors, plain, adjusted, limit, wins, fixed_wins = [], [], [], [], [], [], []
    for r in range(args.runs):
        rows = everyone.iloc[np.sort(rng.choice(len(everyone), args.size, replace=False))].reset_index(drop=True)
        effect = rows["effect_chat"].to_numpy()
        y, treated, x, truth_x = experiment(rows, effect, f"bench-{r}", rng)
        truth = float(effect.mean())
        adj = stats.adjusted_difference(y, treated, x)
        covered.append(adj.low <= truth <= adj.high)
        errors.append(adj.estimate - truth)
        plain.append(stats.difference_in_means(y, treated).width)
        adjusted.append(adj.width)
        limit.append(stats.adjusted_difference(y, treated, truth_x).width)
        y0, treated0, x0, _ = experiment(rows, np.zeros(len(rows)), f"null-{r}", rng)
        ends = np.linspace(len(rows) / LOOKS, len(rows), LOOKS).astype(int)  # arrivals day by day
        wins.append(any(stats.confidence_sequence(y0[:e], treated0[:e], 0.5, x0[:e]).low > 0 for e in ends))
        fixed_wins.append(any(stats.difference_in_means(y0[:e], treated0[:e]).low > 0 for e in ends))
    narrowing = 1 - np.mean(adjusted) / np.mean(plain)
    print(
        f"{args.runs} experiments of {args.size:,} (chat, true effect {everyone['effect_chat'].mean():.2%} on "
        f"average): mean width {np.mean(plain) * 100:.2f} pts without the covariate, {np.mean(adjusted) * 100:.2f} "
        f"with it; a fixed 95% interval looked at daily declares a null play a win in {np.mean(fixed_wins):.1%}"
    )
    print(
        f"coverage={np.mean(covered):.3f} bias={np.mean(errors) * 100:+.3f} narrowing={narrowing:.3f} "
        f"false_wins={np.mean(wins):.3f} narrowing_limit={1 - np.mean(limit) / np.mean(plain):.3f}"
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()

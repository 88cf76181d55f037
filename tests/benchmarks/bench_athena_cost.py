"""Benchmark: Athena bytes scanned by one dashboard session, our layout against the seed's CSV layout.

Run on demand: `python tests/benchmarks/bench_athena_cost.py [evaluators]` (default 57,700, the seed's scale).
Target: our layout scans (and is billed for) at most 1/20 of the seed's CSV layout, at the seed's scale and at 100x
(one CSV per day is reported beside it, for the reader who would have partitioned the CSV).

How: the demo data (churn_core.data.synthetic) is loaded and the ETL run on DuckDB, and three score sets are
written the way `churn score` writes them (schema.EVALUATOR_SCORES plus shap_<feature> and uplift_<channel>,
from a fixed model rather than training, which is slow and beside the point here), with a daily job's history
rows. A dashboard session (every page once, default filters, one evaluator's profile) is replayed through
churn_core.views on a warehouse that records each query; each recorded query is rendered exactly as the Athena
adapter sends it and analysed with sqlglot: which tables it scans, which columns of each, whether it keeps to
one score set (`as_of_date = ...`, a partition), and how many times each scan runs: Trino inlines a WITH query
at every reference, so a CTE read from twelve places scans its tables twelve times. Then
- our layout: the bytes of exactly those Parquet column chunks (written by the adapter's own writer), times
  the number of partitions read; a query reading no column (count(*)) reads only metadata;
- the seed's layout: every scanned table is one CSV object, the score history one file of
  `score_history_sets` sets, and Athena reads all of it for any query;
- one CSV per day: the same CSV, but each score set a file (a partition) of its own, so a query on one set
  reads one day's file; the fairest CSV baseline.
Row-group statistics, which let Athena skip more of the Parquet files, are ignored (so ours is an upper
bound). Billed bytes: Athena rounds each query up to a whole MB, with a 10 MB minimum. 100x scales every
table linearly. Last line: key=value figures.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import sqlglot  # noqa: E402
from pyathena.formatter import DefaultParameterFormatter  # noqa: E402
from sqlglot import exp  # noqa: E402
from sqlglot.optimizer.qualify import qualify  # noqa: E402
from sqlglot.optimizer.scope import Scope, traverse_scope  # noqa: E402

from churn_core import views  # noqa: E402
from churn_core.data.etl import run_etl  # noqa: E402
from churn_core.data.freshness import last_telemetry_day  # noqa: E402
from churn_core.data.ingest import load_raw  # noqa: E402
from churn_core.data.synthetic import generate  # noqa: E402
from churn_core.jobs import history  # noqa: E402
from churn_core.schema import CHANNELS, EVALUATOR_SCORES, FEATURES  # noqa: E402
from churn_core.settings import load_settings  # noqa: E402
from churn_core.warehouse.athena_sql import bind, to_pyformat  # noqa: E402
from churn_core.warehouse.athena_types import declared_types, parquet_bytes, to_arrow  # noqa: E402
from churn_core.warehouse.duckdb import DuckDBWarehouse  # noqa: E402

MB = 1024 * 1024
PARTITIONED = {
    "evaluator_scores": "as_of_date",
    "score_sets": "as_of_date",
    "score_drift": "as_of_date",
    "channel_effects": "as_of_date",
    "content_effects": "as_of_date",
    "drift_reference": "model_version",
}


class RecordingWarehouse(DuckDBWarehouse):
    """DuckDB, remembering every query the dashboard code runs (as the Athena adapter would receive it)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.recorded: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, params: Any = None) -> pd.DataFrame:
        self.recorded.append((sql, dict(params or {})))
        return super().query(sql, params)


@dataclass
class TableBytes:
    """Bytes of one table (for a partitioned table: of one partition) in both layouts."""

    rows: int
    parquet_columns: dict[str, int]
    parquet_footer: int
    csv: int
    partitions: int = 1


@dataclass
class Scan:
    table: str
    columns: set[str] = field(default_factory=set)
    one_partition: bool = False
    reads: int = 1  # how many times Trino runs it: the references to the WITH query it sits in


@dataclass
class Cost:
    """Bytes one query scans in each layout."""

    query: str
    ours: float
    seed: float  # one CSV per table, all score sets in one file
    daily: float  # one CSV per table and score set
    latest: float  # one CSV per table, holding the newest score set only
    reads: int  # table scans, every re-read of a WITH query counted
    distinct: int  # table scans, each WITH query counted once


def fabricate_scores(
    warehouse: DuckDBWarehouse, settings: Any, as_of: dt.date, previous: pd.DataFrame | None
) -> pd.DataFrame:
    """One score set shaped exactly like `churn score`'s (schema.EVALUATOR_SCORES, then shap_<feature> and
    uplift_<channel>), from instances_w1 with a fixed logistic model: realistic sizes without training."""

    w1 = warehouse.query("SELECT * FROM instances_w1")
    n, rng = len(w1), np.random.default_rng(as_of.toordinal())
    x = np.column_stack([np.log1p(w1[f].astype("float64").to_numpy()) for f in FEATURES])
    shap = np.nan_to_num(-0.2 * (x - np.nanmean(x, axis=0)))
    margin = 0.1 + shap.sum(axis=1)
    p = 1 / (1 + np.exp(-margin))
    value = w1["expected_annual_value"].astype("float64").to_numpy()
    uplift = 0.01 + 0.07 * rng.random((n, len(CHANNELS)))
    gain = p[:, None] * value[:, None] * uplift * 0.3 - np.array([settings.channel_cost(c) for c in CHANNELS])
    best = gain.argmax(axis=1)
    top = np.argsort(-np.abs(shap), axis=1)[:, :3]
    drivers = [
        [
            {
                "feature": FEATURES[j],
                "value": float(np.expm1(x[i, j])) if np.isfinite(x[i, j]) else None,
                "shap": round(float(shap[i, j]), 4),
                "reason": f"{views.feature_label(FEATURES[j])}: fewer than similar evaluators",
            }
            for j in top[i]
        ]
        for i in range(n)
    ]
    start = pd.to_datetime(w1["eval_start_date"])
    prev = previous.set_index("instance")["churn_probability"] if previous is not None else pd.Series(dtype=float)
    prev_p = prev.reindex(w1["instance"]).to_numpy(dtype="float64")
    predicted = (p >= 0.5).astype("int32")
    worth = (predicted == 1) & (gain.max(axis=1) > 0)
    swing = (predicted == 0) & (p >= 0.5 - settings.swing_margin)
    frame = pd.DataFrame(
        {
            "instance": w1["instance"].astype("int32"),
            "as_of_date": as_of,
            "day_of_trial": w1["day_of_trial"].astype("int32"),
            "as_of_day": w1["as_of_day"].astype("int32"),
            "eval_start_date": start.dt.date,
            "cohort_week": (start - pd.to_timedelta(start.dt.day_of_week, "D")).dt.date,
            "model_version": "v0001",
            "churn_probability": p,
            "churn_margin": margin,
            "risk_tier": np.select(
                [p >= settings.risk_tier_high, p >= settings.risk_tier_medium], ["high", "medium"], "low"
            ),
            "predicted_churn": predicted,
            "risk_rank": pd.Series(-p).rank(method="first").astype("int32"),
            "top_reason": [d[0]["reason"] for d in drivers],
            "top_drivers": [json.dumps(d) for d in drivers],
            "shap_base": 0.1,
            **{
                c: w1[c]
                for c in (
                    "product",
                    "edition",
                    "team_size",
                    "company_size_band",
                    "region",
                    "acquisition_source",
                    "expected_annual_value",
                    "control_group",
                )
            },
            "channels_reached": rng.choice(["", "email", "email,push", "chat"], n),
            "activated": (rng.random(n) < 0.4).astype("int32"),
            "value_at_risk": p * value,
            "recommended_channel": np.array(CHANNELS)[best],
            "channel_uplift": uplift[np.arange(n), best],
            "expected_value": gain.max(axis=1),
            "worth_saving": worth.astype("int32"),
            "plan_rank": pd.Series(-gain.max(axis=1))
            .where(worth)
            .groupby(np.array(CHANNELS)[best])
            .rank(method="first")
            .astype("Int32"),
            "might_swing": swing.astype("int32"),
            "segment": np.select(
                [worth, swing, predicted == 1],
                ["in today's plan", "might swing", "no contact pays"],
                "on track",
            ),
            "previous_as_of_date": pd.Series(
                [previous["as_of_date"].iloc[0] if previous is not None else None] * n,
                dtype="date32[pyarrow]",
            ),
            "previous_probability": prev_p,
            "probability_change": p - prev_p,
        }
    )
    assert list(frame.columns) == EVALUATOR_SCORES.names
    for k, f in enumerate(FEATURES):
        frame[f"shap_{f}"] = shap[:, k]
    for k, c in enumerate(CHANNELS):
        frame[f"uplift_{c}"] = uplift[:, k]
    return frame


def build(evaluators: int, home: Path) -> tuple[RecordingWarehouse, Any, dt.date]:
    """The demo at `evaluators` on DuckDB, with three score sets (28 days before the data ends, the day before
    the end, the end) written with the scoring job's tables and partitioning."""

    settings = load_settings(env={}, config=home / "absent.toml", home=home, demo_evaluators=evaluators)
    warehouse = RecordingWarehouse(settings.warehouse_path)
    tables = generate(evaluators, days=settings.demo_days, seed=settings.demo_seed)
    truth = tables.pop("demo_truth")
    load_raw(warehouse, tables, {"demo_truth": truth})
    last = pd.Timestamp(warehouse.query("SELECT max(usage_date) AS d FROM daily_usage").iloc[0, 0]).date()
    previous = None
    for day in (last - dt.timedelta(days=28), last - dt.timedelta(days=1), last):
        run_etl(warehouse, settings, day)
        scores = fabricate_scores(warehouse, settings, day, previous)
        previous = scores[["instance", "churn_probability", "as_of_date"]]
        drift = pd.DataFrame(
            {
                "as_of_date": day,
                "feature": [*FEATURES, "churn_probability"],
                "psi": np.linspace(0.01, 0.3, len(FEATURES) + 1),
                "status": "ok",
            }
        )
        effects = pd.DataFrame(
            {
                "as_of_date": day,
                "channel": list(CHANNELS),
                "uplift": 0.02,
                "ci_low": 0.0,
                "ci_high": 0.04,
                "n_treated": 400,
                "n_control": 300,
                "cost": 1.0,
            }
        )
        items = warehouse.query("SELECT content_id FROM content")["content_id"]
        content = pd.DataFrame({"as_of_date": day, "content_id": items}).assign(
            **{c: 500 for c in ("n_sent", "retained_sent", "n_control", "retained_control", "estimated")},
            **{c: 0.02 for c in ("raw_lift", "raw_low", "raw_high", "lift", "ci_low", "ci_high")},
        )
        sets = pd.DataFrame(
            {
                "as_of_date": [day],
                "model_version": ["v0001"],
                "rows": [len(scores)],
                "created_at": [dt.datetime.combine(day, dt.time(6))],
            }
        )
        warehouse.write_partitions(
            {
                "evaluator_scores": scores,
                "score_drift": drift,
                "channel_effects": effects,
                "content_effects": content,
                "score_sets": sets,
            },
            "as_of_date",
            day,
            keep=settings.score_history_sets,
        )
        started = dt.datetime.combine(day, dt.time(6))
        history.record(
            warehouse,
            *(
                history.RunRecord(f"{day}-{step}", "daily", step, "scheduler", started, "succeeded", started)
                for step in ("etl", "score")
            ),
        )
    warehouse.recorded.clear()
    return warehouse, settings, last


def session(warehouse: RecordingWarehouse, settings: Any, as_of: dt.date) -> None:
    """Every page of the dashboard once, with default filters (any failure stops the benchmark)."""
    filters = views.Filters()
    views.score_sets(warehouse)
    views.freshness(warehouse)
    views.filter_options(warehouse, as_of)
    views.at_risk_summary(warehouse, as_of, filters)
    page = views.at_risk_page(warehouse, as_of, filters, "risk", 0, settings.page_size)
    views.activation_headline(views.activation_trend(warehouse))
    last_telemetry_day(warehouse)
    instance = int(page["instance"].iloc[0])
    views.evaluator_profile(warehouse, instance, as_of)
    views.daily_activity(warehouse, instance)
    views.evaluator_touches(warehouse, instance)
    views.cohort_medians(warehouse, min(int(page["day_of_trial"].iloc[0]), 7))
    views.feature_by_outcome(warehouse)
    views.activation_curves(warehouse)
    views.activation_by_segment(warehouse, "product", as_of - dt.timedelta(days=28))
    views.activation_trend(warehouse)
    views.early_actions(warehouse, as_of)
    views.channel_outcomes(warehouse)
    views.channel_uplift(warehouse, as_of)
    views.content_effects(warehouse, as_of)
    views.content_lift(warehouse)
    views.shap_importance(warehouse, as_of)
    views.shap_sample(warehouse, as_of)
    views.risk_histogram(warehouse, as_of)
    views.drift_history(warehouse)
    views.realised_performance(warehouse)
    views.data_quality(warehouse)
    views.job_history(warehouse, settings)


def table_bytes(warehouse: DuckDBWarehouse, name: str, history: int) -> TableBytes:
    df = warehouse.query(f"SELECT * FROM {name}")
    partitions = 1
    column = PARTITIONED.get(name)
    if column and column in df.columns and not df.empty:
        keys = df[column].astype(str)
        partitions = history if column == "as_of_date" else keys.nunique()
        df = df[keys == keys.max()]  # one partition: the newest set
    csv = len(df.to_csv(index=False).encode())
    data = df.drop(columns=[column]) if column and column in df.columns else df
    blob = parquet_bytes(to_arrow(data, name, declared_types(name)))
    meta = pq.ParquetFile(pd.io.common.BytesIO(blob)).metadata
    columns: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            columns[chunk.path_in_schema] = columns.get(chunk.path_in_schema, 0) + chunk.total_compressed_size
    footer = meta.serialized_size + 8
    return TableBytes(len(df), columns, footer, csv * partitions, partitions)


def scans(sql: str, params: dict[str, Any], schema: dict[str, dict[str, str]]) -> list[Scan]:
    """The table scans of a query as Athena receives it, with the columns each reads and how often it runs."""
    text, names = to_pyformat(sql)
    rendered = DefaultParameterFormatter().format(text, bind(names, params, "query"))
    tree = qualify(
        sqlglot.parse_one(rendered, read="trino"),
        schema=schema,
        dialect="trino",
        validate_qualify_columns=False,
        quote_identifiers=False,
    )
    limit = tree.args.get("limit")
    if limit is not None and limit.expression.name == "0":
        return []  # LIMIT 0 (a query for the columns only): Trino plans it to an empty result, no scan
    out = []
    scopes = list(traverse_scope(tree))
    runs = scope_runs(scopes)
    for scope in scopes:
        where = scope.expression.args.get("where") if isinstance(scope.expression, exp.Select) else None
        for alias, (_, source) in scope.selected_sources.items():
            if not isinstance(source, exp.Table):
                continue
            scan = Scan(source.name, {c.name for c in scope.columns if c.table == alias}, reads=runs[id(scope)])
            key = PARTITIONED.get(scan.table)
            if key and where is not None:
                scan.one_partition = any(
                    isinstance(eq.left, exp.Column)
                    and eq.left.name == key
                    and eq.left.table == alias
                    and not isinstance(eq.right, exp.Column)
                    for eq in where.find_all(exp.EQ)
                )
            out.append(scan)
    return out


def scope_runs(scopes: list[Scope]) -> dict[int, int]:
    """{id(scope): how many times Trino runs it}. Trino inlines a WITH query wherever it is referenced, so a
    CTE runs once per reference, times the runs of the scope that references it; other scopes run as often
    as the scope they sit in. `scopes` as traverse_scope gives them (root last); read from the root, every
    reference is counted before its CTE."""
    runs: dict[int, int] = {}
    references: dict[int, int] = {}
    for scope in reversed(scopes):
        if scope.is_cte:
            runs[id(scope)] = references.get(id(scope), 0)
        else:
            runs[id(scope)] = runs[id(scope.parent)] if scope.parent is not None else 1
        for _, source in scope.selected_sources.values():
            if isinstance(source, Scope) and source.is_cte:
                references[id(source)] = references.get(id(source), 0) + runs[id(scope)]
    return runs


def billed(scanned: float) -> float:
    return max(10 * MB, math.ceil(scanned / MB) * MB)


def costs(
    recorded: list[tuple[str, dict[str, Any]]], schema: dict[str, dict[str, str]], sizes: dict[str, TableBytes]
) -> list[Cost]:
    out = []
    for sql, params in recorded:
        found = scans(sql, params, schema)
        ours = seed = daily = latest = 0.0
        for scan in found:
            size = sizes[scan.table]
            parts = 1 if scan.one_partition else size.partitions
            columns = sum(size.parquet_columns.get(c, 0) for c in scan.columns)
            ours += (columns + size.parquet_footer) * parts * scan.reads
            seed += size.csv * scan.reads
            daily += size.csv / size.partitions * parts * scan.reads
            latest += size.csv / size.partitions * scan.reads
        out.append(Cost(views_name(sql), ours, seed, daily, latest, sum(s.reads for s in found), len(found)))
    return out


def main() -> None:
    evaluators = int(sys.argv[1]) if len(sys.argv) > 1 else 57_700
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        warehouse, settings, as_of = build(evaluators, Path(tmp) / "home")
        built = time.perf_counter() - started
        session(warehouse, settings, as_of)
        recorded = list(warehouse.recorded)
        schema = {
            t: dict(
                warehouse.query(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :t",
                    {"t": t},
                ).itertuples(index=False, name=None)
            )
            for t in warehouse.tables()
        }
        schema = {
            t: {c: ("VARCHAR" if "[" in k or "(" in k else k) for c, k in cols.items()} for t, cols in schema.items()
        }
        sizes = {t: table_bytes(warehouse, t, settings.score_history_sets) for t in schema}
    rows = costs(recorded, schema, sizes)
    print(f"{'query':30} {'scans':>5} {'ours MB':>9} {'CSV MB':>9} {'CSV/day MB':>10}")
    for r in rows:
        scans_text = f"{r.reads}" if r.reads == r.distinct else f"{r.reads}*"
        print(f"{r.query:30} {scans_text:>5} {r.ours / MB:9.2f} {r.seed / MB:9.1f} {r.daily / MB:10.1f}")
    print("* a WITH query read at several references: Trino scans its tables at each")
    reads, distinct = sum(r.reads for r in rows), sum(r.distinct for r in rows)
    figures: dict[str, float] = {
        "evaluators": evaluators,
        "queries": len(rows),
        "seed_csv_latest_set_only_scanned_mb": sum(r.latest for r in rows) / MB,
        "table_scans": reads,
        "cte_rereads": reads - distinct,
    }
    for scale, tag in ((1, "seed"), (100, "x100")):
        ours = sum(r.ours for r in rows) * scale
        ours_billed = sum(billed(r.ours * scale) for r in rows)
        for layout, key in (("seed", "csv"), ("daily", "csv_daily")):
            csv = sum(getattr(r, layout) for r in rows) * scale
            csv_billed = sum(billed(getattr(r, layout) * scale) for r in rows)
            ratio = "" if layout == "seed" else "daily_"
            figures |= {
                f"{tag}_{key}_scanned_mb": csv / MB,
                f"{tag}_{ratio}scanned_ratio": ours / csv,
                f"{tag}_{key}_billed_mb": csv_billed / MB,
                f"{tag}_{ratio}billed_ratio": ours_billed / csv_billed,
            }
            print(
                f"{tag}, against {'all sets in one CSV' if layout == 'seed' else 'one CSV per day'}: scanned "
                f"{ours / MB:,.1f} MB vs {csv / MB:,.1f} MB (1/{csv / ours:,.0f}); billed "
                f"{ours_billed / MB:,.0f} MB vs {csv_billed / MB:,.0f} MB (1/{csv_billed / ours_billed:,.0f})"
            )
        figures |= {f"{tag}_ours_scanned_mb": ours / MB, f"{tag}_ours_billed_mb": ours_billed / MB}
    sets = sizes["evaluator_scores"]
    print(
        f"one score set: {sets.rows:,} rows, Parquet {sum(sets.parquet_columns.values()) / MB:.1f} MB, "
        f"CSV {sets.csv / sets.partitions / MB:.1f} MB; {reads} table scans ({reads - distinct} re-reads of WITH "
        f"queries); build {built:.0f} s"
    )
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


def views_name(sql: str) -> str:
    first = sql.lstrip().splitlines()[0] if sql.strip() else ""
    return first[3:].split(":")[0] if first.startswith("-- ") else " ".join(sql.split())[:32]


if __name__ == "__main__":
    main()

"""Adversarial campaign: 1,200 generated broken raw files, each refused with a clear error, warehouse unchanged."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from churn_core.data.ingest import ingest_directory, load_raw
from churn_core.data.quality import DataQualityError
from churn_core.schema import RAW_TABLES
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings

CASES = 1_200
Mutation = Callable[[random.Random, dict[str, pd.DataFrame], Path], str]


def _small(small_tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    ev = small_tables["evaluators"].head(12)
    ids = set(ev["instance"])
    keep = lambda t: small_tables[t][small_tables[t]["instance"].isin(ids)]  # noqa: E731
    return {
        "evaluators": ev,
        "daily_usage": keep("daily_usage"),
        "engagements": keep("engagements"),
        "content": small_tables["content"],
    }


def _csv(frames: dict[str, pd.DataFrame], directory: Path) -> None:
    for name, frame in frames.items():
        frame.to_csv(directory / f"{name}.csv", index=False)


def _pick(rng: random.Random, frames: dict[str, pd.DataFrame]) -> tuple[str, pd.DataFrame]:
    name = rng.choice(sorted(frames))
    return name, frames[name].astype(object).copy()


def _column(rng: random.Random, name: str, kinds: tuple[str, ...]) -> str | None:
    options = [c.name for c in RAW_TABLES[name].columns if c.type in kinds]
    return rng.choice(options) if options else None


def wrong_type(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    column = _column(rng, name, ("INTEGER", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP"))
    if column is None:
        return missing_column(rng, frames, directory)
    df.loc[df.index[rng.randrange(len(df))], column] = rng.choice(["abc", "1,5", "12e", "--", "TRUE?", "2026-13-45"])
    _csv({**frames, name: df}, directory)
    return "wrong type"


def missing_column(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    _csv({**frames, name: df.drop(columns=[rng.choice(list(df.columns))])}, directory)
    return "missing column"


def extra_column(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    df[rng.choice(["extra", "notes", "Unnamed: 0", "instance_2", "x" * 40])] = 1
    _csv({**frames, name: df}, directory)
    return "extra column"


def duplicate_rows(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    dupes = df.sample(n=rng.randint(1, 3), random_state=rng.randrange(1000))
    _csv({**frames, name: pd.concat([df, dupes])}, directory)
    return "duplicates"


def huge_value(rng, frames, directory) -> str:
    name = rng.choice(["evaluators", "daily_usage", "engagements"])
    df = frames[name].astype(object).copy()
    column = _column(rng, name, ("INTEGER", "BIGINT", "DOUBLE"))
    df.loc[df.index[rng.randrange(len(df))], column] = rng.choice(
        ["1e400", "inf", "-inf", "99999999999999999999999", str(2**63), "-5"]
    )
    _csv({**frames, name: df}, directory)
    return "huge or negative value"


def bad_encoding(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    _csv(frames, directory)
    raw = (directory / f"{name}.csv").read_bytes()
    cut = rng.randrange(len(raw) // 2, len(raw))
    (directory / f"{name}.csv").write_bytes(
        raw[:cut] + rng.choice([b"\xff\xfe", b"\xc3\x28", b"\x80abc", b"\xe9t\xe9"]) + raw[cut:]
    )
    return "bad encoding"


def empty_file(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    _csv(frames, directory)
    (directory / f"{name}.csv").write_bytes(rng.choice([b"", b"\n", ",".join(df.columns).encode() + b"\n"]))
    return "empty file"


def garbage(rng, frames, directory) -> str:
    name = rng.choice(["evaluators", "daily_usage"])
    _csv(frames, directory)
    blob = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
    (directory / f"{name}.{rng.choice(['csv', 'parquet'])}").write_bytes(blob)
    if (directory / f"{name}.parquet").exists() and (directory / f"{name}.csv").exists():
        (directory / f"{name}.csv").unlink()
    return "garbage bytes"


def bad_label_or_date(rng, frames, directory) -> str:
    df = frames["evaluators"].astype(object).copy()
    row = df.index[rng.randrange(len(df))]
    column, value = rng.choice(
        [
            ("retained", rng.choice(["2", "-1", "yes", "0.5"])),
            ("eval_start_date", rng.choice(["1970-01-01", "3026-01-01", "01/02/2026", "yesterday"])),
            ("control_group", "7"),
            ("team_size", "0"),
            ("edition", "platinum"),
        ]
    )
    df.loc[row, column] = value
    _csv({**frames, "evaluators": df}, directory)
    return "bad label or date"


def ragged_rows(rng, frames, directory) -> str:
    name, df = _pick(rng, frames)
    _csv(frames, directory)
    lines = (directory / f"{name}.csv").read_text().splitlines()
    i = rng.randrange(1, len(lines))
    lines[i] = lines[i] + ",1,2,3" if rng.random() < 0.5 else ",".join(lines[i].split(",")[:2])
    (directory / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return "ragged rows"


MUTATIONS: tuple[Mutation, ...] = (
    wrong_type,
    missing_column,
    extra_column,
    duplicate_rows,
    huge_value,
    bad_encoding,
    empty_file,
    garbage,
    bad_label_or_date,
    ragged_rows,
)


def _fingerprint(settings) -> str:
    return hashlib.sha256(settings.warehouse_path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_broken_files_are_refused_clearly_and_change_nothing(tmp_path: Path, small_tables) -> None:
    settings = make_settings(tmp_path / "home")
    frames = _small(small_tables)
    load_raw(open_warehouse(settings), frames)
    before = _fingerprint(settings)
    rng = random.Random(2026)
    kinds: Counter[str] = Counter()
    for case in range(CASES):
        directory = tmp_path / f"case{case}"
        directory.mkdir()
        kind = rng.choice(MUTATIONS)(rng, frames, directory)
        with pytest.raises(DataQualityError) as info:
            ingest_directory(open_warehouse(settings), directory)
        message = str(info.value)
        assert "nothing was written" in message, (kind, message)
        assert message.split(":")[0].split(".")[0] in RAW_TABLES, (kind, message)
        kinds[kind] += 1
    assert _fingerprint(settings) == before
    assert sum(kinds.values()) == CASES and len(kinds) == len(MUTATIONS)
    print(f"\nbroken inputs refused: {CASES} ({dict(kinds)})")

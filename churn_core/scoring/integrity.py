"""Score-set integrity: every set is digested and signed when it is written, and checked before it is used.

A score set is the rows of one as_of_date in evaluator_scores, score_drift, channel_effects and content_effects, and its
score_sets row (the manifest). Each table's rows are digested by queries/score_set_integrity.sql: every row
becomes one canonical text of all its columns -- every column the table has, read from the table itself, so
shap_*, uplift_* and any column added later are in it; NULL cells are left out, so a column added for later
sets (NULL in older rows) changes nothing, and a value written into one does -- hashed with SHA-256; the
row hashes are sorted and hashed again (in 256 buckets, then over the buckets), which no order of the rows
changes and no edit, swap, deletion or insertion of a row can keep without a SHA-256 collision. `churn score`
digests the frames it is about to write (the same SQL, run by an in-memory DuckDB) and signs the digests, the
date and the model with HMAC-SHA256 and the product's key (churn_core.signing) into the manifest's
`fingerprint` and `signature`; the manifest's other columns are digested as its table's row. A reader
recomputes the digests in the warehouse with one aggregate query (no row leaves it), verifies the signature
and compares. No key reaches the warehouse: the digest needs none (SHA-256 makes it binding), only the
signature over it does, so Athena's query history holds nothing to forge with.

Canonical text is the same in DuckDB and Athena (Trino): doubles as the hex of their IEEE-754 bits (exact, no
decimal formatting), integers and dates as their usual text, strings prefixed with their length in characters,
timestamps to the microsecond, each cell `name=<kind letter><text>` joined by ';' in column-name order.

Sets written before this check, or signed with the earlier counts-and-sums fingerprint (which edits of equal
length or between equally weighted evaluators could fool), are refused as unsigned: accepting them would let
anyone with write access skip the check by blanking a manifest. The next `churn score` (the daily job) writes a
signed set; an older date is replaced with `churn score --as-of`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from churn_core import signing
from churn_core.errors import ChurnError
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, load_sql
from churn_core.warehouse.base import Rows, _ident

FINGERPRINT_VERSION = 2  # 1: counts and sums (refused)
SET_TABLES: tuple[str, ...] = ("evaluator_scores", "score_drift", "channel_effects", "content_effects", "score_sets")
# Not digested: the set's key (bound into the signed message instead; Athena may store it as a partition
# string) and the manifest's own signature fields.
SKIPPED: frozenset[str] = frozenset({"as_of_date", "fingerprint", "signature"})
# Type-name prefixes (DuckDB, Athena and Arrow spellings) -> kind. A column of Arrow's `null` type is all NULL,
# so contributes no cell whatever its kind.
_KINDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("varchar", "string", "large_string", "char", "text", "enum", "dictionary", "null"), "S"),
    (("double", "float", "real"), "D"),
    (("tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint", "usmallint", "uint", "ubigint"), "I"),
    (("boolean", "bool"), "B"),
    (("timestamp with", "timestamptz"), ""),  # an instant in a zone: no canonical text, refused
    (("timestamp",), "Z"),
    (("date",), "A"),
)


class ScoreSetIntegrityError(ChurnError):
    """A score set failed its integrity check: it is not to be shown or used."""

    def __init__(self, as_of: dt.date, problems: Sequence[str], *, unsigned: bool = False) -> None:
        self.as_of, self.problems, self.unsigned = as_of, tuple(problems), unsigned
        if unsigned:
            what = (
                f"score set {as_of} is unsigned (written before score sets were signed as they are now, or its "
                "fingerprint was removed), so it cannot be trusted and is not shown"
            )
        else:
            what = (
                f"score set {as_of} failed its integrity check: {'; '.join(problems)}. Its rows or its "
                "manifest no longer match what `churn score` signed, so it is not shown"
            )
        super().__init__(
            f"{what}. Re-run `churn score --as-of {as_of}` to replace it (after "
            f"`churn etl --as-of {as_of}` if the modelling tables were built for another date)."
        )


@dataclass(frozen=True)
class Digest:
    """One table's rows of a set: how many, and the digest of their full content."""

    rows: int
    digest: str


@dataclass(frozen=True)
class Verified:
    """A score set that passed: its evaluator rows."""

    as_of: dt.date
    rows: int


# --- the digest ----------------------------------------------------------------------------------------


def kind(type_name: str) -> str:
    """The canonical kind of a column type (DuckDB or Athena spelling); ChurnError for a type with none."""
    lowered = type_name.strip().lower()
    if "tz=" in lowered:  # Arrow's timestamp with a zone
        lowered = "timestamptz"
    for prefixes, letter in _KINDS:
        if lowered.startswith(prefixes) and letter:
            return letter
        if lowered.startswith(prefixes):
            break
    raise ChurnError(f"a score-set column of type {type_name} has no canonical form to digest; store it as text")


def cell(column: str, letter: str) -> str:
    """Trino SQL for one column's cell of the canonical row text: `name=<kind><text>`, NULL when the value is."""
    c = _ident(column)
    text = {
        "S": f"CAST(length(CAST({c} AS VARCHAR)) AS VARCHAR) || ':' || CAST({c} AS VARCHAR)",
        "D": f"to_hex(to_ieee754_64(CAST({c} AS DOUBLE)))",
        "I": f"CAST(CAST({c} AS BIGINT) AS VARCHAR)",
        "B": f"CAST({c} AS VARCHAR)",
        "A": f"CAST(CAST({c} AS DATE) AS VARCHAR)",
        "Z": f"date_format({c}, '%Y-%m-%d %H:%i:%s.%f')",
    }[letter]
    return f"'{c}={letter}' || {text}"


def digest_sql(columns: Mapping[str, Mapping[str, str]]) -> str:
    """One aggregate query digesting each table's rows of the set (:as_of) over `columns` (name -> type)."""
    template = load_sql("queries/score_set_integrity")
    parts = []
    for table, types in columns.items():
        names = sorted(c for c in types if c not in SKIPPED)
        cells = ",\n            ".join(cell(c, kind(types[c])) for c in names) or "'-'"
        part = template.replace("score_set_table", _ident(table)).replace("'-' /*cells*/", cells)
        parts.append(f"SELECT * FROM (\n{part}\n) AS {table}_digest")
    return "\nUNION ALL\n".join(parts)


def digests_of_frames(frames: Mapping[str, Rows]) -> dict[str, Digest]:
    """The digests of a set about to be written, computed from its frames (or, for the evaluator rows, a
    stream of them) by an in-memory DuckDB."""
    # Imported here: only the writer needs DuckDB, and a dashboard on Athena need not load it (0.1 s).
    from churn_core.warehouse.duckdb import frame_columns, query_frames

    sql = digest_sql({table: frame_columns(frame) for table, frame in frames.items()})
    return _digests(query_frames(sql, frames, {"as_of": _as_of(frames)}))


def recompute(warehouse: Warehouse, as_of: dt.date) -> dict[str, Digest]:
    """The digests of the stored set, over every column its tables have now, from one aggregate query."""
    found = warehouse.run("score_set_columns", {"schema": warehouse.schema})
    columns: dict[str, dict[str, str]] = {table: {} for table in SET_TABLES}
    for row in found.itertuples(index=False):
        columns[str(row.table_name)][str(row.column_name)] = str(row.data_type)
    present = {table: types for table, types in columns.items() if types}
    if not present:
        return {}
    return _digests(warehouse.query(digest_sql(present), {"as_of": as_of}))


def _digests(rows: pd.DataFrame) -> dict[str, Digest]:
    return {str(r.table_name): Digest(int(r.row_count), str(r.digest or "")) for r in rows.itertuples(index=False)}


def _as_of(frames: Mapping[str, Rows]) -> dt.date:
    return pd.Timestamp(frames["score_sets"]["as_of_date"].iloc[0]).date()


# --- writing ---------------------------------------------------------------------------------------------


def seal(settings: Settings, frames: Mapping[str, Rows], model_version: str) -> dict[str, str]:
    """The manifest's `fingerprint` (JSON) and `signature` (HMAC-SHA256 hex) for a set about to be written:
    `frames` holds each table of SET_TABLES, the manifest row without its fingerprint and signature."""
    return seal_digests(settings, _as_of(frames), model_version, digests_of_frames(frames))


def seal_digests(
    settings: Settings, as_of: dt.date, model_version: str, digests: Mapping[str, Digest]
) -> dict[str, str]:
    """The fingerprint and signature of a set whose tables have these `digests`."""
    text = json.dumps(
        {
            "version": FINGERPRINT_VERSION,
            "tables": {t: {"rows": d.rows, "digest": d.digest} for t, d in digests.items()},
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return {"fingerprint": text, "signature": signing.sign(settings, _message(as_of, model_version, text))}


# --- reading ---------------------------------------------------------------------------------------------


def check_score_set(warehouse: Warehouse, settings: Settings, as_of: dt.date) -> Verified:
    """Verify the score set of `as_of` against its signed digests; raise ScoreSetIntegrityError if it fails."""
    if not warehouse.table_exists("score_sets"):  # written by a release that kept no manifests
        raise ScoreSetIntegrityError(as_of, [], unsigned=True)
    manifest = _manifest(warehouse, as_of)
    if manifest is None:
        raise ScoreSetIntegrityError(as_of, ["it has no manifest row in score_sets"])
    text, signature = manifest.get("fingerprint"), manifest.get("signature")
    if not _present(text) or not _present(signature):
        raise ScoreSetIntegrityError(as_of, [], unsigned=True)
    version = str(manifest.get("model_version") or "")
    if not signing.verify(settings, _message(as_of, version, str(text)), str(signature)):
        raise ScoreSetIntegrityError(
            as_of,
            [
                "the signature of its manifest (score_sets) does not match: the manifest was edited, or the set was "
                "signed with another key (jobs and dashboard must share CHURN_SIGNING_KEY or $CHURN_HOME/signing.key)"
            ],
        )
    signed = json.loads(str(text))  # signed by us: trusted from here on
    if signed.get("version") != FINGERPRINT_VERSION:
        raise ScoreSetIntegrityError(as_of, [], unsigned=True)
    expected = {t: Digest(int(v["rows"]), str(v["digest"])) for t, v in signed["tables"].items()}
    problems = _differences(expected, recompute(warehouse, as_of))
    if problems:
        raise ScoreSetIntegrityError(as_of, problems)
    return Verified(as_of, expected["evaluator_scores"].rows)


def _differences(expected: Mapping[str, Digest], actual: Mapping[str, Digest]) -> list[str]:
    problems = []
    for table, signed in expected.items():
        found = actual.get(table)
        if found is None:
            problems.append(f"{table} is missing")
        elif found.rows != signed.rows:
            change = found.rows - signed.rows
            problems.append(
                f"{table} has {found.rows:,} rows where {signed.rows:,} were written "
                f"({abs(change):,} {'added' if change > 0 else 'removed'})"
            )
        elif found.digest != signed.digest:
            what = (
                "its manifest (score_sets) was edited" if table == "score_sets" else f"values were changed in {table}"
            )
            problems.append(what)
    return problems


def _manifest(warehouse: Warehouse, as_of: dt.date) -> dict[str, Any] | None:
    rows = warehouse.run("score_set_manifest", {"as_of": as_of})
    if len(rows) != 1:
        return None
    return dict(rows.iloc[0].items())


def _message(as_of: dt.date, model_version: str, fingerprint_text: str) -> str:
    """What is signed: the set's date and model, and its digests (so neither can be moved to another set)."""
    return f"churn score set\n{as_of.isoformat()}\n{model_version}\n{fingerprint_text}"


def _present(value: Any) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip() != ""

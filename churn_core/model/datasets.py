"""Training data as a Dataset, and any customer table described by a TOML spec (the evaluators' own
day-of-trial snapshots come from the warehouse: churn_core.model.snapshots).

A spec names the table's quirks once (`churn train --data FILE.csv --spec SPEC.toml`):

    name = "telco_ibm"              # registry namespace of its models (default: the file name)
    id = "customerID"               # optional: row id (never a feature; rows sharing it stay together)
    label = "Churn"                 # the outcome column
    positive = "Yes"                # the label value that means `target`
    target = "churn"                # "churn": positive means churned; "retain": positive means stayed
    negative = "No"                 # optional: the other label value (else the one other value found)
    date = "signup_date"            # optional: cohort date, for a split by time (train early, test late)
    categorical = ["area_code"]     # columns to treat as categories even if numeric (text columns always are)
    drop = ["phone number"]         # columns that must not be features
    na_values = [" "]               # extra strings that mean missing
    strip_headers = true            # trim spaces around column names ("churn " -> "churn")
    delimiter = ","                 # the field separator

    [sums]                          # optional derived features: the row sum of numeric columns
    "total charge" = ["total day charge", "total eve charge", "total night charge", "total intl charge"]

Every problem is a DatasetError that says what to fix; nothing is trained or registered before all
checks pass.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_core.model.features import ModelError

MIN_ROWS = 50
MIN_PER_CLASS = 10
NUMERIC_TEXT_SHARE = 0.95  # a text column whose non-blank values are this numeric is read as numbers
SPEC_KEYS = frozenset(
    {
        "name",
        "description",
        "id",
        "label",
        "positive",
        "negative",
        "target",
        "date",
        "categorical",
        "drop",
        "na_values",
        "strip_headers",
        "delimiter",
        "source",
        "sums",
    }
)
SPECS_DIR = Path(__file__).parent / "specs"


class DatasetError(ModelError):
    """The training data cannot be used as given; the message says what to change."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    positive: str
    target: str = "churn"
    id: str | None = None
    negative: str | None = None
    date: str | None = None
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    na_values: tuple[str, ...] = ()
    strip_headers: bool = False
    delimiter: str = ","
    description: str = ""
    sums: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}
        out["sums"] = {name: list(cols) for name, cols in self.sums}
        return out


@dataclass
class Dataset:
    """Rows to learn from: model inputs, labels (1 = churned) and what splits and reports need."""

    name: str
    frame: pd.DataFrame  # raw input columns; the feature pipeline picks its own
    y: np.ndarray  # int8, 1 = churned
    groups: np.ndarray  # rows sharing a group (an instance, a customer id) stay on one side of every split
    dates: np.ndarray | None = None  # datetime64[D] cohort date per row, for the split by time
    day: np.ndarray | None = None  # day of trial per row (evaluator snapshots only)
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    ratios: list[tuple[str, str, str]] = field(default_factory=list)
    sums: list[tuple[str, list[str]]] = field(default_factory=list)
    categorical_mode: str = "codes"
    truth: np.ndarray | None = None  # demo data only: the generator's true churn probability (never a feature)
    source: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def subset(self, rows: np.ndarray) -> Dataset:
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return Dataset(
            self.name,
            self.frame.iloc[rows].reset_index(drop=True),
            self.y[rows],
            self.groups[rows],
            pick(self.dates),
            pick(self.day),
            self.numeric,
            self.categorical,
            self.ratios,
            self.sums,
            self.categorical_mode,
            pick(self.truth),
            self.source,
            self.notes,
        )


def check_labels(y: np.ndarray, what: str) -> None:
    """Refuse data a model cannot honestly be trained and tested on."""
    n, churned = len(y), int(np.sum(y))
    if n < MIN_ROWS:
        raise DatasetError(
            f"{what} has only {n} labelled row(s): need at least {MIN_ROWS} to train and hold some out. Add more rows."
        )
    if churned == 0 or churned == n:
        only = "churned" if churned else "retained"
        raise DatasetError(
            f"every row of {what} is {only}: a model needs both churned and retained examples. "
            "Check the label column and the `positive` value of the spec."
        )
    if min(churned, n - churned) < MIN_PER_CLASS:
        raise DatasetError(
            f"{what} has only {min(churned, n - churned)} row(s) of its rarer class: need at "
            f"least {MIN_PER_CLASS} churned and {MIN_PER_CLASS} retained rows."
        )


def load_spec(path: Path | str) -> DatasetSpec:
    """Read and check a dataset spec (TOML); a name without a path is looked up in churn_core/model/specs/."""
    path = Path(path)
    if not path.exists() and not path.suffix and (SPECS_DIR / f"{path}.toml").exists():
        path = SPECS_DIR / f"{path}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"no spec file {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        raise DatasetError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SPEC_KEYS))}")
    for key in ("label", "positive"):
        if key not in raw or str(raw[key]).strip() == "":
            raise DatasetError(f"{path}: `{key}` is required (the outcome column and its value meaning `target`)")
    target = str(raw.get("target", "churn"))
    if target not in ("churn", "retain"):
        raise DatasetError(f'{path}: target must be "churn" or "retain", not {target!r}')
    lists = {}
    for key in ("categorical", "drop", "na_values"):
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise DatasetError(f"{path}: `{key}` must be a list of strings")
        lists[key] = tuple(str(v) for v in value)
    sums = raw.get("sums", {})
    if not isinstance(sums, dict) or not all(isinstance(v, list) and v for v in sums.values()):
        raise DatasetError(f"{path}: `[sums]` must map each new feature name to a list of columns to add up")
    name = str(raw.get("name") or path.stem)
    if not name.replace("_", "").replace("-", "").isalnum():
        raise DatasetError(f"{path}: name {name!r} may hold only letters, digits, '_' and '-'")
    return DatasetSpec(
        name=name,
        label=str(raw["label"]),
        positive=str(raw["positive"]),
        target=target,
        id=raw.get("id") or None,
        negative=None if raw.get("negative") is None else str(raw["negative"]),
        date=raw.get("date") or None,
        strip_headers=bool(raw.get("strip_headers", False)),
        delimiter=str(raw.get("delimiter", ",")),
        description=str(raw.get("description", "")),
        sums=tuple((str(k), tuple(str(c) for c in v)) for k, v in sums.items()),
        **lists,
    )


def read_table(path: Path | str, spec: DatasetSpec) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no data file {path}")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, sep=spec.delimiter, na_values=list(spec.na_values) or None, low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if spec.strip_headers:
        df.columns = [str(c).strip() for c in df.columns]
    if df.columns.duplicated().any():
        raise DatasetError(f"{path}: duplicate column name(s) {sorted(set(df.columns[df.columns.duplicated()]))}")
    return df


def load_dataset(path: Path | str, spec: DatasetSpec) -> Dataset:
    """A customer table as a Dataset: labels from the spec, text columns as categories, ids never features."""
    df = read_table(path, spec)
    named = [
        spec.label,
        *(c for c in (spec.id, spec.date) if c),
        *spec.categorical,
        *spec.drop,
        *(c for _, cols in spec.sums for c in cols),
    ]
    missing = [c for c in dict.fromkeys(named) if c not in df.columns]
    if missing:
        hint = (
            " (trailing spaces in the header? set strip_headers = true)"
            if any(c.strip() in [str(x).strip() for x in df.columns] for c in missing)
            else ""
        )
        raise DatasetError(
            f"the spec names column(s) not in {Path(path).name}: "
            f"{', '.join(repr(c) for c in missing)}{hint}. Columns are: "
            f"{', '.join(repr(str(c)) for c in df.columns)}"
        )
    clash = [name for name, _ in spec.sums if name in df.columns]
    if clash:
        raise DatasetError(
            f"[sums] feature name(s) {', '.join(map(repr, clash))} are already columns of "
            f"{Path(path).name}: choose other names"
        )
    y = _labels(df[spec.label], spec)
    notes: list[str] = []
    dates = None
    if spec.date:
        dates = _dates(df[spec.date], spec.date)
    groups = df[spec.id].astype(str).to_numpy() if spec.id else np.arange(len(df))
    frame = df.drop(columns=list(dict.fromkeys(c for c in (spec.label, spec.id, spec.date, *spec.drop) if c)))
    numeric, categorical = [], []
    for col in frame.columns:
        series = frame[col]
        if col in spec.categorical:
            categorical.append(col)
        elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            numeric.append(col)
        elif _mostly_numeric(series):
            frame[col] = pd.to_numeric(series.astype("string").str.strip(), errors="coerce")
            blanks = int(frame[col].isna().sum() - series.isna().sum())
            notes.append(
                f"{col}: text read as numbers" + (f" ({blanks} non-numeric value(s) are missing)" if blanks else "")
            )
            numeric.append(col)
        else:
            categorical.append(col)
    if not numeric and not categorical:
        raise DatasetError(
            f"{Path(path).name} has no feature columns left after removing the label, id, date and dropped columns"
        )
    check_labels(y, Path(path).name)
    summed = [c for _, cols in spec.sums for c in cols if c not in numeric]
    if summed:
        raise DatasetError(f"[sums] may add only numeric columns; not numeric: {', '.join(map(repr, summed))}")
    return Dataset(
        spec.name,
        frame.reset_index(drop=True),
        y,
        groups,
        dates,
        None,
        numeric,
        categorical,
        [],
        [(name, list(cols)) for name, cols in spec.sums],
        "native",
        None,
        {
            "kind": "file",
            "path": str(Path(path).resolve()),
            "sha256": _sha256(path),
            "rows": len(df),
            "spec": spec.to_dict(),
        },
        notes,
    )


def _labels(series: pd.Series, spec: DatasetSpec) -> np.ndarray:
    text = series.astype("string").str.strip()
    empty = int((text.isna() | (text == "")).sum())
    if empty:
        raise DatasetError(
            f"label column {spec.label!r} is empty in {empty} row(s): fill them or remove those "
            "rows (unresolved customers cannot be learned from)"
        )
    key = text.str.lower()
    positive = spec.positive.strip().lower()
    values = sorted(key.unique().tolist())
    shown = ", ".join(repr(v) for v in sorted(text.unique().tolist())[:8])
    if spec.negative is not None:
        allowed = {positive, spec.negative.strip().lower()}
        other = sorted(set(values) - allowed)
        if other:
            raise DatasetError(
                f"label column {spec.label!r} has value(s) other than {spec.positive!r} and "
                f"{spec.negative!r}: {', '.join(repr(v) for v in other[:8])}. Fix the data or the "
                "spec's positive/negative values."
            )
    elif len(values) > 2:
        raise DatasetError(
            f"label column {spec.label!r} has {len(values)} distinct values ({shown}); it must "
            f"have two: {spec.positive!r} and the other outcome"
        )
    if positive not in values:
        if len(values) == 1:
            raise DatasetError(
                f"every row of label column {spec.label!r} is {shown}: a model needs both churned and retained examples"
            )
        raise DatasetError(
            f"positive value {spec.positive!r} is not a value of label column {spec.label!r} "
            f"(values: {shown}): fix `positive` in the spec"
        )
    hit = (key == positive).to_numpy(dtype=bool)
    return (hit if spec.target == "churn" else ~hit).astype(np.int8)


def _dates(series: pd.Series, name: str) -> np.ndarray:
    parsed = pd.to_datetime(series, errors="coerce", format="mixed")
    bad = parsed.isna() & series.notna()
    if bad.any():
        examples = ", ".join(repr(str(v)) for v in series[bad].astype(str).unique()[:3])
        raise DatasetError(
            f"date column {name!r} has {int(bad.sum())} value(s) that are not dates, e.g. "
            f"{examples}: write dates as yyyy-mm-dd or remove `date` from the spec"
        )
    if parsed.isna().any():
        raise DatasetError(
            f"date column {name!r} is empty in {int(parsed.isna().sum())} row(s): fill them or "
            "remove `date` from the spec"
        )
    return parsed.to_numpy(dtype="datetime64[D]")


def _mostly_numeric(series: pd.Series) -> bool:
    text = series.astype("string").str.strip()
    text = text[text.notna() & (text != "")]
    if text.empty:
        return False
    return float(pd.to_numeric(text, errors="coerce").notna().mean()) >= NUMERIC_TEXT_SHARE


def _sha256(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def frame_fingerprint(frame: pd.DataFrame, y: np.ndarray) -> str:
    """sha256 of the training rows (values and column names), to tell whether two models saw the same data."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(np.asarray(y, np.int8).tobytes())
    return h.hexdigest()

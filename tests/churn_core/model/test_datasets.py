"""Any churn table through a TOML spec: the shipped specs on the real data sets, and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_core.model.datasets import DatasetError, load_dataset, load_spec
from churn_core.model.features import ModelError
from churn_core.model.registry import Registry
from churn_core.model.train import train_candidate
from churn_core.settings import Settings
from tests.churn_core.model.modeldata import REAL_DATA, SPEC, customer_table, write_customer_files
from tests.conftest import make_settings

FAST = {
    "tuning_folds": 2,
    "tuning_max_trials": 2,
    "tuning_budget_seconds": 30.0,
    "tuning_max_rounds": 100,
    "bootstrap_samples": 10,
    "train_threads": 1,
    "early_stopping_rounds": 10,
}
TELCO = REAL_DATA / "telco_ibm" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
BIGML = REAL_DATA / "telecom_bigml" / "telecom_churn_bigml_3333.csv"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", **FAST)


@pytest.mark.skipif(not TELCO.exists(), reason="real data not present")
def test_telco_spec_reads_the_blank_total_charges_as_missing() -> None:
    data = load_dataset(TELCO, load_spec("telco_ibm"))
    assert len(data.y) == 7043 and data.y.sum() == 1869
    assert "customerID" not in data.frame and "Churn" not in data.frame
    assert data.frame["TotalCharges"].isna().sum() == 11 and "TotalCharges" in data.numeric
    assert "Contract" in data.categorical and "SeniorCitizen" in data.numeric
    assert data.categorical_mode == "native" and len(set(data.groups)) == 7043


@pytest.mark.skipif(not BIGML.exists(), reason="real data not present")
def test_bigml_spec_strips_the_label_header_and_drops_the_phone_number() -> None:
    data = load_dataset(BIGML, load_spec("telecom_bigml"))
    assert len(data.y) == 3333 and data.y.sum() == 483
    assert "phone number" not in data.frame and "churn" not in data.frame
    assert data.categorical == ["state", "international plan", "voice mail plan"]
    assert data.sums == [
        ("total charge", ["total day charge", "total eve charge", "total night charge", "total intl charge"])
    ]


def test_spec_driven_training_with_native_categoricals(tmp_path: Path, settings: Settings) -> None:
    csv, spec = write_customer_files(tmp_path, 400)
    model = train_candidate(None, settings, "tuned", data=load_dataset(csv, load_spec(spec)))
    registry = Registry(settings, "small")
    assert registry.versions() == [model.version] and not Registry(settings).versions()
    card = registry.model_card(model.version)
    types = dict(zip(card.features, card.feature_types, strict=True))
    assert types["plan"] == "c" and types["area"] == "c" and types["tenure"] == "q"
    assert "customer" not in card.features and card.metrics_by_day == {}
    assert card.metrics["roc_auc"] > 0.7 and card.split["primary"] == "random"
    registry.promote(model.version)
    loaded = registry.load("champion")
    new = customer_table(5, seed=9).assign(plan=["basic", "enterprise", None, "pro", "plus"])
    p = loaded.predict_proba(new)
    assert p.shape == (5,) and np.all((p > 0) & (p < 1))  # an unseen plan scores as missing, not as an error


def test_target_retain_flips_the_label(tmp_path: Path) -> None:
    csv, spec = write_customer_files(tmp_path, 200, spec=SPEC.format(name="r").replace('"churn"', '"retain"'))
    churn_csv, churn_spec = write_customer_files(tmp_path, 200, name="c")
    assert (load_dataset(csv, load_spec(spec)).y == 1 - load_dataset(churn_csv, load_spec(churn_spec)).y).all()


def _bad_table(kind: str) -> tuple[pd.DataFrame, str]:
    table, spec = customer_table(300), SPEC.format(name="bad")
    if kind == "too few rows":
        table = table.head(20)
    elif kind == "one class":
        table["Churn"] = "No"
    elif kind == "third label value":
        table.loc[:4, "Churn"] = "Maybe"
    elif kind == "missing column":
        spec = spec.replace('categorical = ["area"]', 'categorical = ["area", "plan type"]')
    elif kind == "all-missing features":
        table = table[["customer", "Churn"]].assign(plan=None, tenure=np.nan, area=np.nan)
    elif kind == "bad date":
        table["signup"] = "2026-01-05"
        table.loc[3, "signup"] = "the fifth"
        spec += 'date = "signup"\n'
    elif kind == "wrong positive":
        spec = spec.replace('positive = "Yes"', 'positive = "Y"')
    elif kind == "unknown key":
        spec += 'lable = "Churn"\n'
    return table, spec


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("too few rows", "has only 20 labelled row"),
        ("one class", "every row of label column 'Churn' is 'No'"),
        ("third label value", "has 3 distinct values"),
        ("missing column", "the spec names column.* not in bad.csv: 'plan type'"),
        ("all-missing features", "no usable features"),
        ("bad date", "date column 'signup' has 1 value.* not dates, e.g. 'the fifth'"),
        ("wrong positive", "positive value 'Y' is not a value of label column 'Churn'"),
        ("unknown key", "unknown key.* lable"),
    ],
)
def test_bad_input_says_what_to_fix_and_changes_nothing(
    kind: str, message: str, tmp_path: Path, settings: Settings
) -> None:
    table, spec_text = _bad_table(kind)
    csv, spec = write_customer_files(tmp_path, name="bad", table=table, spec=spec_text)
    with pytest.raises(ModelError, match=message) as info:
        train_candidate(None, settings, data=load_dataset(csv, load_spec(spec)))
    assert isinstance(info.value, DatasetError) or kind == "all-missing features"
    assert Registry(settings, "bad").versions() == [] and not (settings.registry_dir / "datasets").exists()


def test_missing_files_and_strip_headers_hint(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no spec file"):
        load_spec(tmp_path / "nope.toml")
    table = customer_table(100).rename(columns={"Churn": "Churn "})
    csv, spec = write_customer_files(tmp_path, table=table)
    with pytest.raises(DatasetError, match="set strip_headers = true"):
        load_dataset(csv, load_spec(spec))
    spec.write_text(spec.read_text() + "strip_headers = true\n")
    assert len(load_dataset(csv, load_spec(spec)).y) == 100
    with pytest.raises(DatasetError, match="no data file"):
        load_dataset(tmp_path / "absent.csv", load_spec(spec))

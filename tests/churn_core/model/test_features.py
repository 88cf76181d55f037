"""The feature pipeline: fitted once, stored as JSON, applied with only its stored state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churn_core.model.features import (
    EVALUATOR_CATEGORICAL,
    EVALUATOR_NUMERIC,
    FeaturePipeline,
    MissingColumnsError,
    ModelError,
)
from churn_core.schema import FEATURES
from tests.churn_core.model.modeldata import evaluator_snapshots


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return evaluator_snapshots(300, seed=1)


def test_evaluator_features_are_the_seed_16_day_segments_and_ratios(frame: pd.DataFrame) -> None:
    pipe = FeaturePipeline().fit(frame)
    assert set(FEATURES) - {"watchers_added"} <= set(pipe.features_)
    assert {
        "as_of_day",
        "team_size",
        "expected_annual_value",
        "edition",
        "region",
        "active_user_share",
    } <= set(pipe.features_)
    assert "control_group" not in pipe.features_ and "instance" not in pipe.features_
    x = pipe.transform(frame)
    assert list(x.columns) == pipe.features_ and (x.dtypes == np.float32).all()
    assert len(pipe.feature_types_) == len(pipe.features_) and set(pipe.feature_types_) == {"q"}


def test_sparse_constant_and_missing_features_are_dropped_with_a_reason(frame: pd.DataFrame) -> None:
    df = frame.assign(issues_viewed=np.nan, mobile_usage=0.0)
    df.loc[:1, "mobile_usage"] = 3.0  # 2 of 2,100 rows non-zero: below 1%
    pipe = FeaturePipeline(sparse_min_nonzero_rate=0.01).fit(df)
    assert pipe.dropped_["watchers_added"].startswith("sparse: non-zero in 0.")
    assert "below sparse_min_nonzero_rate 1.00%" in pipe.dropped_["mobile_usage"]
    assert pipe.dropped_["issues_viewed"] == "all missing"
    assert pipe.dropped_["product"].startswith("constant")
    assert not {"watchers_added", "mobile_usage", "issues_viewed", "product"} & set(pipe.features_)
    kept = FeaturePipeline(sparse_min_nonzero_rate=0.0).fit(df)
    assert "watchers_added" in kept.features_ and "mobile_usage" in kept.features_


def test_transform_uses_only_the_stored_state(frame: pd.DataFrame) -> None:
    pipe = FeaturePipeline().fit(frame)
    stored = json.loads(json.dumps(pipe.to_dict()))
    reloaded = FeaturePipeline.from_dict(stored)
    shifted = frame.assign(number_of_issues=frame["number_of_issues"] * 1000, edition="premium")
    shifted.loc[0, "region"] = "MARS"  # a category never seen in training
    whole = reloaded.transform(shifted)
    one_by_one = pd.concat([reloaded.transform(shifted.iloc[[i]]) for i in range(5)])
    pd.testing.assert_frame_equal(whole.iloc[:5], one_by_one)  # no statistic of the scoring batch is used
    pd.testing.assert_frame_equal(whole, pipe.transform(shifted))
    assert np.isnan(whole.loc[0, "region"])
    assert (whole["edition"] == pipe.categories_["edition"].index("premium")).all()
    assert (whole["number_of_issues"] == shifted["number_of_issues"].astype(np.float32)).all()  # no scaling
    assert reloaded.to_dict() == pipe.to_dict()


def test_missing_values_stay_missing(frame: pd.DataFrame) -> None:
    df = frame.copy()
    df.loc[:9, "issues_commented"] = np.nan
    x = FeaturePipeline().fit(df).transform(df)
    assert x["issues_commented"].isna().sum() == 10  # no imputation: XGBoost routes missing values


def test_ratios_are_derived_at_transform(frame: pd.DataFrame) -> None:
    x = FeaturePipeline().fit(frame).transform(frame)
    expected = (frame["w1_active_users"] / frame["team_size"]).astype(np.float32)
    assert np.allclose(x["active_user_share"], expected)
    zero = frame.assign(team_size=0)
    assert FeaturePipeline().fit(frame).transform(zero)["active_user_share"].isna().all()


def test_scoring_frame_missing_a_column_says_which(frame: pd.DataFrame) -> None:
    pipe = FeaturePipeline().fit(frame)
    with pytest.raises(MissingColumnsError, match="number_of_projects") as info:
        pipe.transform(frame.drop(columns=["number_of_projects"]))
    assert isinstance(info.value, KeyError)
    with pytest.raises(ModelError, match="not fitted"):
        FeaturePipeline().transform(frame)


def test_no_usable_feature_is_an_error(frame: pd.DataFrame) -> None:
    empty = frame.assign(**{c: np.nan for c in [*EVALUATOR_NUMERIC]}, **{c: None for c in EVALUATOR_CATEGORICAL})
    with pytest.raises(ModelError, match="no usable features"):
        FeaturePipeline().fit(empty)


def test_native_categoricals_and_identifier_like_columns() -> None:
    df = pd.DataFrame(
        {
            "plan": ["a", "b", "c"] * 40,
            "code": [f"id{i}" for i in range(120)],
            "n": np.arange(120.0),
            "flag": [True, False] * 60,
        }
    )
    pipe = FeaturePipeline(["n", "flag"], ["plan", "code"], (), categorical_mode="native").fit(df)
    assert pipe.features_ == ["n", "flag", "plan"] and pipe.feature_types_ == ["q", "q", "c"]
    assert pipe.dropped_["code"].startswith("identifier-like")
    assert pipe.transform(df)["flag"].tolist()[:2] == [1.0, 0.0]

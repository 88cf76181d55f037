"""The model registry on S3 (churn_core.model.registry_storage.S3Storage) against moto in server mode.

Same layout and the same integrity checks as the local folder: versions appear only when complete, a claim
stops two trainings from taking one version name, and a changed object fails its checksum on load.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn_core.model.calibration import Calibrator
from churn_core.model.card import DataSummary, ModelCard
from churn_core.model.features import FeaturePipeline
from churn_core.model.registry import Registry, RegistryError
from churn_core.model.registry_storage import S3Storage
from churn_core.warehouse import WarehouseError
from tests.churn_core.aws_fakes import BUCKET, KILL, AwsFake

ROOT = "warehouse/models"


def tiny_model(seed: int = 0) -> SimpleNamespace:
    """A real (small) booster, pipeline and calibrator, shaped like train.TrainedModel."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    churned = (df["a"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    pipeline = FeaturePipeline(numeric=["a", "b"], categorical=[], ratios=[]).fit(df)
    x = pipeline.transform(df)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "seed": seed},
        xgb.DMatrix(x, label=churned),
        num_boost_round=5,
    )
    calibrator = Calibrator("platt").fit(booster.predict(xgb.DMatrix(x), output_margin=True), churned.to_numpy())
    card = ModelCard(
        threshold=0.5,
        pipeline=pipeline.to_dict(),
        calibrator=calibrator.to_dict(),
        training=DataSummary(rows=300),
    )
    return SimpleNamespace(booster=booster, card=card, holdout=df.assign(__churned=churned))


def keys(aws: AwsFake, prefix: str = ROOT) -> list[str]:
    return sorted(o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_athena_backend_keeps_the_registry_on_s3_with_the_local_layout(aws) -> None:
    registry = Registry(aws.settings())
    assert isinstance(registry.storage, S3Storage)
    model = tiny_model()
    assert registry.register(model) == "v0001"
    registry.promote("v0001")
    assert registry.versions() == ["v0001"] and registry.champion_version() == "v0001"
    assert keys(aws) == [
        f"{ROOT}/.published/v0001",
        f"{ROOT}/champion.json",
        f"{ROOT}/v0001/card.json",
        f"{ROOT}/v0001/holdout.parquet",
        f"{ROOT}/v0001/manifest.json",
        f"{ROOT}/v0001/model.ubj",
    ]
    loaded = Registry(aws.settings()).load("champion")
    x = model.holdout[["a", "b"]]
    assert np.allclose(loaded.predict_margin(x), model.booster.predict(xgb.DMatrix(x), output_margin=True))
    assert registry.holdout("v0001")["__churned"].tolist() == model.holdout["__churned"].tolist()
    assert [v.status for v in registry.listing()] == ["ok"]


def test_a_changed_object_fails_its_checksum(aws) -> None:
    registry = Registry(aws.settings())
    registry.register(tiny_model())
    s3 = aws.client("s3")
    booster = s3.get_object(Bucket=BUCKET, Key=f"{ROOT}/v0001/model.ubj")["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=f"{ROOT}/v0001/model.ubj", Body=booster[:-8] + b"tampered")
    with pytest.raises(RegistryError, match="model.ubj of model version v0001 does not match its checksum"):
        registry.load("v0001")
    s3.delete_object(Bucket=BUCKET, Key=f"{ROOT}/v0001/manifest.json")
    with pytest.raises(RegistryError, match="incomplete"):
        registry.load("v0001")


def test_a_killed_publish_leaves_no_version_and_frees_the_name(aws) -> None:
    registry = Registry(aws.settings())
    aws.proxy.rules.append(lambda r: KILL if r.method == "PUT" and r.path.endswith("/holdout.parquet") else None)
    with pytest.raises(WarehouseError, match="holdout.parquet"):
        registry.register(tiny_model())
    assert registry.versions() == [] and keys(aws) == []  # nothing half-written, the claim released
    aws.proxy.rules.clear()
    assert registry.register(tiny_model()) == "v0001"


def test_two_trainings_never_share_a_version_name(aws) -> None:
    storage = S3Storage.for_registry(aws.settings())
    storage.publish("v0001", {"a.txt": b"first"})
    with pytest.raises(FileExistsError):
        storage.publish("v0001", {"a.txt": b"second"})
    aws.client("s3").put_object(Bucket=BUCKET, Key=f"{ROOT}/.staging/v0002.claim", Body=b"{}")
    with pytest.raises(FileExistsError):  # another writer is publishing v0002 right now
        storage.publish("v0002", {"a.txt": b"x"})
    registry = Registry(aws.settings(), storage=storage)
    assert storage.read_bytes("v0001/a.txt") == b"first" and storage.list() == ["v0001"]
    assert registry.versions() == ["v0001"]


def test_a_stale_claim_is_taken_over(aws, monkeypatch) -> None:
    storage = S3Storage.for_registry(aws.settings())
    aws.client("s3").put_object(Bucket=BUCKET, Key=f"{ROOT}/.staging/v0001.claim", Body=b"{}")
    aws.client("s3").put_object(Bucket=BUCKET, Key=f"{ROOT}/v0001/partial.bin", Body=b"left by a dead training")
    monkeypatch.setattr("churn_core.model.registry_storage.STALE_STAGING_SECONDS", -1)
    storage.publish("v0001", {"a.txt": b"fresh"})
    assert storage.list("v0001") == ["a.txt"] and storage.list() == ["v0001"]


def test_single_objects_and_missing_keys(aws) -> None:
    storage = S3Storage.for_registry(aws.settings())
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("champion.json")
    assert not storage.exists("champion.json")
    storage.write_bytes("champion.json", json.dumps({"version": "v0001"}).encode())
    assert storage.exists("champion.json") and json.loads(storage.read_bytes("champion.json"))["version"] == "v0001"
    with pytest.raises(RegistryError, match="invalid registry key"):
        storage.read_bytes("../outside")
    with pytest.raises(RegistryError, match="invalid registry key"):
        storage.write_bytes(".published/v0009", b"")


def test_access_denied_on_s3_is_explained(aws) -> None:
    aws.proxy.rules.append(
        lambda r: (
            (
                403,
                {"Content-Type": "application/xml"},
                b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            )
            if r.method == "GET" and "/models/" in r.path
            else None
        )
    )
    storage = S3Storage.for_registry(aws.settings())
    with pytest.raises(WarehouseError, match="access denied.*retrying will not help"):
        storage.read_bytes("champion.json")
    assert len([r for r in aws.proxy.requests if r.method == "GET" and "/models/" in r.path]) == 1

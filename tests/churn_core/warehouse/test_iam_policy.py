"""churn_core/warehouse/athena-iam-policy.json allows every AWS call churn makes, on the resources it makes it on.

Two views: the operations churn_core's source names (so a new call cannot slip past unnoticed), and every
request a full round of the Athena backend sends through the proxy (writes, partitions, appends and their
compaction, a read and a query stopped past its timeout, builds in a workgroup that enforces its result
location and the removal of a build's leftovers, the model registry), each checked as IAM would: its action
on its resource ARN, and the s3:prefix of a listing.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn_core.errors import TransientError
from churn_core.model.registry_storage import S3Storage
from churn_core.warehouse import QueryError
from churn_core.warehouse.athena import AthenaWarehouse
from churn_core.warehouse.athena_builds import POLICY_FILE
from tests.churn_core.aws_fakes import ACCOUNT, BUCKET, KILL, REGION, AwsFake, FakeEngine, Request

ROOT = Path(__file__).resolve().parents[3]
WORKGROUP = "churn"
PLACES = {
    "REGION": REGION,
    "ACCOUNT_ID": ACCOUNT,
    "WORKGROUP": WORKGROUP,
    "DATABASE": "churn",
    "DATA_BUCKET": BUCKET,
    "DATA_PREFIX": "warehouse",
    "RESULTS_BUCKET": BUCKET,
    "RESULTS_PREFIX": "athena-results",
}
# Operations of pyathena's own (starting, polling and reading queries), seen in the round below.
PYATHENA = {("athena", "start_query_execution"), ("athena", "get_query_execution"), ("athena", "get_query_results")}
# The IAM action behind each S3 operation (the others are <service>:<OperationName>).
S3_ACTIONS = {
    "get_object": ["s3:GetObject"],
    "head_object": ["s3:GetObject"],
    "put_object": ["s3:PutObject"],
    "copy_object": ["s3:GetObject", "s3:PutObject"],
    "delete_objects": ["s3:DeleteObject"],
    "list_objects_v2": ["s3:ListBucket"],
}
_NAMED = (
    (re.compile(r'\.(?:call|pages)\(\s*"(\w+)",\s*"(\w+)"'), None),  # aws.call("glue", "get_table", ...)
    (re.compile(r'\.client\("(\w+)"\)\.(\w+)\('), None),  # aws.client("athena").get_work_group(...)
    (re.compile(r'\._glue\(\s*"(\w+)"'), "glue"),  # GlueCatalog._glue("update_table", ...)
    (re.compile(r'\._s3\(\s*"(\w+)"'), "s3"),  # S3Storage._s3("put_object", ...)
)


@dataclass(frozen=True)
class Call:
    """One IAM authorisation: an action on a resource, with the condition keys IAM would see."""

    action: str
    resource: str
    prefix: str | None = None  # s3:prefix, for s3:ListBucket


@cache
def policy() -> dict[str, Any]:
    text = (ROOT / POLICY_FILE).read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\b[A-Z][A-Z_]+[A-Z]\b", text))
    assert placeholders <= set(PLACES), f"undocumented placeholders {placeholders - set(PLACES)}"
    return json.loads(re.sub(r"\b[A-Z][A-Z_]+[A-Z]\b", lambda m: PLACES[m.group()], text))


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allowed(call: Call, *, any_resource: bool = False) -> bool:
    return any(_grants(statement, call, any_resource) for statement in policy()["Statement"])


def _grants(statement: dict[str, Any], call: Call, any_resource: bool) -> bool:
    if statement["Effect"] != "Allow":
        return False
    if not any(fnmatchcase(call.action.lower(), a.lower()) for a in _listed(statement["Action"])):
        return False
    if any_resource:
        return True
    if not any(fnmatchcase(call.resource, r) for r in _listed(statement["Resource"])):
        return False
    for operator, conditions in statement.get("Condition", {}).items():
        assert operator == "StringLike" and set(conditions) == {"s3:prefix"}, "a condition this test cannot read"
        if call.prefix is None or not any(fnmatchcase(call.prefix, p) for p in conditions["s3:prefix"]):
            return False
    return True


def iam_actions(service: str, operation: str) -> list[str]:
    if service == "s3":
        return S3_ACTIONS[operation]  # a new S3 operation needs its action named here
    return [f"{service}:{''.join(part.title() for part in operation.split('_'))}"]


def operations_in_source() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in (ROOT / "churn_core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern, service in _NAMED:
            found |= {(service, m) if service else m for m in pattern.findall(text)}
    return found


def calls_of(request: Request) -> list[Call]:
    """The authorisations IAM checks for one request, as the proxy saw it."""
    if request.target.startswith("AmazonAthena."):
        workgroup = request.json.get("WorkGroup", WORKGROUP)
        arn = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{workgroup}"
        return [Call(f"athena:{request.target.split('.')[1]}", arn)]
    if request.target.startswith("AWSGlue."):
        return _glue_calls(request.target.split(".")[1], request.json)
    assert not request.target, f"a service the policy does not cover: {request.target}"
    return _s3_calls(request)


def _glue_calls(operation: str, body: dict[str, Any]) -> list[Call]:
    base = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    database = body.get("DatabaseName") or body.get("DatabaseInput", {}).get("Name") or body["Name"]
    table = body.get("TableName") or body.get("TableInput", {}).get("Name")
    if operation in ("GetTable", "DeleteTable"):
        table = body["Name"]
    if operation == "GetTables":
        table = "*"
    arns = [f"{base}:catalog", f"{base}:database/{database}"] + ([f"{base}:table/{database}/{table}"] if table else [])
    return [Call(f"glue:{operation}", arn) for arn in arns]


def _s3_calls(request: Request) -> list[Call]:
    url = urllib.parse.urlsplit(request.path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    bucket, _, key = urllib.parse.unquote(url.path).lstrip("/").partition("/")
    bucket_arn, object_arn = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{key}"
    method = request.method
    if not key:
        if method == "POST" and "delete" in query:
            keys = re.findall(r"<Key>(.*?)</Key>", request.body.decode())
            return [Call("s3:DeleteObject", f"{bucket_arn}/{html.unescape(k)}") for k in keys]
        if "location" in query:
            return [Call("s3:GetBucketLocation", bucket_arn)]
        if "uploads" in query:
            return [Call("s3:ListBucketMultipartUploads", bucket_arn)]
        if method == "GET":
            return [Call("s3:ListBucket", bucket_arn, query.get("prefix", [""])[0])]
    elif "uploadId" in query:
        action = {"DELETE": "s3:AbortMultipartUpload", "GET": "s3:ListMultipartUploadParts"}.get(method, "s3:PutObject")
        return [Call(action, object_arn)]
    elif method in ("GET", "HEAD"):
        return [Call("s3:GetObject", object_arn)]
    elif method in ("PUT", "POST"):
        source = request.headers.get("x-amz-copy-source")
        copied = [Call("s3:GetObject", f"arn:aws:s3:::{urllib.parse.unquote(source).lstrip('/')}")] if source else []
        return [Call("s3:PutObject", object_arn), *copied]
    elif method == "DELETE":
        return [Call("s3:DeleteObject", object_arn)]
    raise AssertionError(f"an S3 request this test cannot map: {method} {request.path}")


# --- the policy document -------------------------------------------------------------------------------


def test_the_policy_grants_what_awss_example_grants_for_result_buckets() -> None:
    results = f"arn:aws:s3:::{BUCKET}"
    for action in ("s3:GetBucketLocation", "s3:ListBucketMultipartUploads"):
        assert allowed(Call(action, results)), action
    for action in ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert allowed(Call(action, f"{results}/athena-results/0b1c.csv")), action
    assert allowed(Call("s3:ListBucket", results, "athena-results/tables/"))
    # and nothing beyond our places
    assert not allowed(Call("s3:GetObject", f"{results}/elsewhere/secret.csv"))
    assert not allowed(Call("s3:ListBucket", results, "elsewhere/"))
    assert not allowed(Call("glue:GetTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/other_db/evaluators"))


def test_every_operation_churn_core_names_is_in_the_policy() -> None:
    named = operations_in_source()
    # the scan finds the calls made through each helper (a pattern that stopped matching would pass vacuously)
    assert {("glue", "update_table"), ("s3", "put_object"), ("athena", "get_work_group")} <= named
    assert {("athena", "stop_query_execution"), ("glue", "batch_delete_partition"), ("s3", "copy_object")} <= named
    missing = [
        action
        for service, operation in sorted(named | PYATHENA)
        for action in iam_actions(service, operation)
        if not allowed(Call(action, "*"), any_resource=True)
    ]
    assert missing == []


# --- every request of a full round ---------------------------------------------------------------------


def test_every_request_of_a_full_round_is_allowed_on_its_resource(aws: AwsFake, monkeypatch) -> None:
    aws.client("athena").create_work_group(
        Name=WORKGROUP,
        Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/athena-results/"},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    settings = aws.settings(athena_workgroup=WORKGROUP)
    warehouse = AthenaWarehouse(settings)
    monkeypatch.setattr(AthenaWarehouse, "compact_after", 2)
    _writes(warehouse)
    _queries(aws, warehouse)
    _builds(aws, warehouse)
    _registry(settings)
    requests = list(aws.proxy.requests)
    refused = [
        f"{c.action} on {c.resource} ({r.method} {r.path})" for r in requests for c in calls_of(r) if not allowed(c)
    ]
    assert refused == []
    seen = {c.action for r in requests for c in calls_of(r)}
    assert {"athena:GetWorkGroup", "athena:StopQueryExecution", "glue:BatchDeletePartition", "s3:DeleteObject"} <= seen


def _writes(warehouse: AthenaWarehouse) -> None:
    for title in ("one", "two", "three"):  # the third prunes the first
        content = pd.DataFrame({"content_id": ["c1"], "title": [title], "channel": ["email"], "topic": ["x"]})
        warehouse.write_tables({"content": content})
    for day in pd.date_range("2026-11-24", periods=3).date:  # keep=1 drops older partitions
        scores = pd.DataFrame({"instance": pd.array([1], dtype="Int32"), "churn_probability": [0.4]})
        warehouse.write_partitions({"evaluator_scores": scores}, "as_of_date", day, keep=1)
    warehouse.write_partition(
        "evaluator_scores", pd.DataFrame({"instance": pd.array([2], dtype="Int32")}), "as_of_date", day
    )
    for i in range(3):  # the third is compacted
        warehouse.append("audit_log", pd.DataFrame({"action": [f"export {i}"], "row_count": pd.array([i], "Int32")}))


def _queries(aws: AwsFake, warehouse: AthenaWarehouse) -> None:
    aws.seed(([("n", "bigint")], [[1]]))
    warehouse.query("SELECT count(*) AS n FROM content")
    impatient = AthenaWarehouse(aws.settings(athena_workgroup=WORKGROUP, athena_query_timeout_seconds=0.2))
    transition = {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 10**6}}
    aws.moto_api("/moto-api/state-manager/set-transition", transition)
    with pytest.raises(QueryError, match="did not finish"):
        impatient.query("SELECT count(*) FROM content")
    aws.moto_api("/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})


def _builds(aws: AwsFake, warehouse: AthenaWarehouse) -> None:
    engine = FakeEngine(aws, enforced_location=f"s3://{BUCKET}/athena-results/", deferred=True)
    aws.proxy.rules.append(lambda r: KILL if r.target.endswith(".GetQueryExecution") else None)
    with pytest.raises(TransientError, match="could not reach AWS"):
        warehouse.build_table("instances_w1", {"as_of": pd.Timestamp("2026-11-26").date()})
    aws.proxy.rules.clear()
    engine.finish()
    engine.deferred = False
    aws.seed(([("rows", "bigint")], []), ([("rows", "bigint")], []), ([("n", "bigint")], [[2]]))
    warehouse.build_table("instances_w1", {"as_of": pd.Timestamp("2026-11-26").date()})


def _registry(settings: Any) -> None:
    storage = S3Storage.for_registry(settings)
    storage.publish("v0001", {"model.ubj": b"model", "card.json": b"{}"})
    storage.write_bytes("champion.json", b'{"version": "v0001"}')
    assert storage.list() and storage.read_bytes("v0001/model.ubj") == b"model"

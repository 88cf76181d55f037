"""A real AWS-compatible server for the Athena/S3/Glue tests: moto in server mode behind a small proxy.

moto serves S3, Glue and Athena over HTTP on 127.0.0.1; it runs no SQL but returns query results the test
seeds. The proxy in front of it records every request and can answer chosen ones itself (throttling, access
denied, a dropped connection) or change moto's answer (a FAILED query, bytes scanned), so the adapter is
tested through its real clients, retries and error handling. `FakeEngine` plays Athena's part for the
statements that write tables (CTAS, INSERT INTO). Both boto3 and pyathena reach the proxy through
the standard AWS_ENDPOINT_URL variable.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import re
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import botocore
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from churn_core.warehouse.athena import AthenaWarehouse
from tests.conftest import make_settings

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "churn-data"
KILL = "kill"  # a rule's answer: drop the connection without a response
MAX_ATTEMPTS = 3  # attempts of each AWS call and Athena query in these tests


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def target(self) -> str:
        """The JSON-protocol operation, e.g. 'AmazonAthena.StartQueryExecution' ('' for S3)."""
        return self.headers.get("x-amz-target", "")

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body or b"{}")


Answer = tuple[int, dict[str, str], bytes]
Rule = Callable[[Request], "Answer | str | None"]
Rewrite = Callable[[Request, dict[str, Any]], dict[str, Any]]


@dataclass
class Proxy:
    """Forwards to moto; `rules` may answer a request first, `rewrites` may change moto's JSON answer."""

    upstream: tuple[str, int]
    rules: list[Rule] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    on_request: list[Callable[[Request], None]] = field(default_factory=list)

    def calls(self, operation: str) -> list[Request]:
        return [r for r in self.requests if r.target.endswith(f".{operation}")]

    def clear(self) -> None:
        self.rules.clear()
        self.rewrites.clear()
        self.requests.clear()
        self.on_request.clear()


class ProxyHandler(BaseHTTPRequestHandler):
    """One request to the proxy: answered by a rule, or forwarded to moto (and its answer maybe rewritten)."""

    protocol_version = "HTTP/1.1"
    proxy: Proxy  # set on the subclass `handler` makes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self._body())
        self.proxy.requests.append(request)
        for hook in list(self.proxy.on_request):
            hook(request)
        for rule in list(self.proxy.rules):
            answer = rule(request)
            if answer == KILL:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if answer is not None:
                self._reply(*answer)
                return
        status, headers, body = self._forward(request)
        if self.proxy.rewrites and request.target and body:
            data = json.loads(body)
            for rewrite in list(self.proxy.rewrites):
                data = rewrite(request, data)
            body = json.dumps(data).encode()
        self._reply(status, headers, body)

    def _forward(self, request: Request) -> Answer:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        headers["Content-Length"] = str(len(request.body))
        conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=request.body, headers=headers)
            response = conn.getresponse()
            body = response.read()
            drop = ("transfer-encoding", "connection") + (() if self.command == "HEAD" else ("content-length",))
            return response.status, {k: v for k, v in response.getheaders() if k.lower() not in drop}, body
        finally:
            conn.close()

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve


def handler(proxy: Proxy) -> type[ProxyHandler]:
    """The request handler class of an HTTP server in front of moto, for `proxy`."""
    return type("Handler", (ProxyHandler,), {"proxy": proxy})


def json_error(code: str, message: str, status: int = 400) -> Answer:
    """An AWS JSON-protocol error answer (Athena, Glue)."""
    return (
        status,
        {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code},
        json.dumps({"__type": code, "Message": message}).encode(),
    )


def first(n: int, operation: str, answer: Answer | str) -> Rule:
    """A rule answering the first `n` calls of a JSON operation with `answer`, then letting them through."""
    left = [n]

    def rule(request: Request) -> Answer | str | None:
        if request.target.endswith(f".{operation}") and left[0] > 0:
            left[0] -= 1
            return answer
        return None

    return rule


ROWS = pa.table({"instance": pa.array([1, 2], pa.int32()), "retained": pa.array([1, 0], pa.int32())})
_CTAS = re.compile(r'CREATE TABLE "(\w+)"\."(\w+)"\nWITH \(([^)]*)\)\nAS\n')
_INSERT = re.compile(r'INSERT INTO "(\w+)"\."(\w+)"\n')
# What the fake says when a CTAS names a location in a workgroup that enforces its own (AWS: "Athena issues
# an error and fails a query that specifies an external_location in this case").
ENFORCED_REFUSAL = "external_location may not be specified: the workgroup enforces its query results location"


@dataclass
class FakeEngine:
    """Athena's part for CTAS and INSERT INTO (moto runs no SQL), from the statements as they reach the proxy.

    A CTAS writes a Parquet file of ROWS and registers the table it creates (under the workgroup's location when
    it names none; no file WITH NO DATA); an INSERT INTO writes a file where its table points; in a workgroup
    that enforces its result location a CTAS naming an external_location fails, as AWS documents."""

    aws: AwsFake
    fail: str = ""  # end every CTAS FAILED with this reason (after leaving a partial file behind)
    enforced_location: str = ""  # the workgroup's enforced result location
    deferred: bool = False  # statements take effect only on finish(): Athena runs on after the client left
    created: list[str] = field(default_factory=list)
    pending: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.aws.proxy.on_request.append(self._on_request)
        self.aws.proxy.rewrites.append(self._outcome)

    def finish(self) -> None:
        for action in self.pending:
            action()
        self.pending.clear()

    def _on_request(self, request: Request) -> None:
        if not request.target.endswith(".StartQueryExecution"):
            return
        sql = request.json["QueryString"]
        if ctas := _CTAS.match(sql):
            action = partial(self._ctas, *ctas.groups(), sql.rstrip().endswith("WITH NO DATA"))
        elif insert := _INSERT.match(sql):
            action = partial(self._insert, *insert.groups())
        else:
            return
        if self.deferred:
            self.pending.append(action)
        else:
            action()

    def _ctas(self, database: str, table: str, properties: str, no_data: bool) -> None:
        named = re.search(r"external_location = '([^']+)'", properties)
        if named and self.enforced_location:
            return  # refused (see _outcome)
        location = named.group(1) if named else f"{self.enforced_location}tables/{uuid.uuid4()}/"
        if not no_data:
            self._write(location)
        if self.fail:
            return
        storage = {
            "Location": location,
            "Columns": [{"Name": "instance", "Type": "int"}, {"Name": "retained", "Type": "int"}],
        }
        self.aws.client("glue").create_table(
            DatabaseName=database,
            TableInput={"Name": table, "TableType": "EXTERNAL_TABLE", "StorageDescriptor": storage},
        )
        self.created.append(table)

    def _insert(self, database: str, table: str) -> None:
        self._write(
            self.aws.client("glue").get_table(DatabaseName=database, Name=table)["Table"]["StorageDescriptor"][
                "Location"
            ]
        )

    def _write(self, location: str) -> None:
        bucket, key = location[5:].split("/", 1)
        body = io.BytesIO()
        pq.write_table(ROWS, body)
        name = f"{key}20261126_060000_{uuid.uuid4().hex[:5]}_x"
        self.aws.client("s3").put_object(Bucket=bucket, Key=name, Body=body.getvalue())

    def _outcome(self, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        """A CTAS ends FAILED where `fail` says so, or where it names a location the workgroup enforces."""
        if not request.target.endswith(".GetQueryExecution"):
            return data
        query = data["QueryExecution"]["Query"]
        reason = ""
        if query.startswith("CREATE TABLE"):
            if self.fail:
                reason = self.fail
            elif self.enforced_location and "external_location" in query:
                reason = ENFORCED_REFUSAL
        if reason:
            data["QueryExecution"]["Status"].update(State="FAILED", StateChangeReason=reason)
        return data


_CLIENTS: dict[tuple[str, str], Any] = {}


@dataclass
class AwsFake:
    """Handles for a test: the proxy, clients straight to moto (for checking), and Athena settings."""

    moto_url: str
    proxy: Proxy
    home: Path
    _warehouses: dict[tuple[tuple[str, Any], ...], Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        key = (self.moto_url, service)
        if key not in _CLIENTS:
            _CLIENTS[key] = boto3.client(
                service,
                region_name=REGION,
                endpoint_url=self.moto_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return _CLIENTS[key]

    def settings(self, **overrides: Any) -> Any:
        values = dict(
            backend="athena",
            athena_region=REGION,
            athena_workgroup="primary",
            athena_database="churn",
            athena_s3_staging_dir=f"s3://{BUCKET}/athena-results/",
            athena_s3_data_prefix=f"s3://{BUCKET}/warehouse",
            athena_poll_seconds=0.01,
            athena_query_timeout_seconds=30.0,
            athena_max_attempts=MAX_ATTEMPTS,
            athena_retry_base_seconds=0.01,
        )
        values.update(overrides)
        return make_settings(self.home, **values)

    def warehouse(self, **overrides: Any) -> Any:
        """An AthenaWarehouse on these settings, shared by the session's tests (clients are slow to make)."""
        key = tuple(sorted(overrides.items()))
        if key not in self._warehouses:
            self._warehouses[key] = AthenaWarehouse(self.settings(**overrides))
        return self._warehouses[key]

    def moto_api(self, path: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.moto_url}{path}",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def seed(self, *results: tuple[list[tuple[str, str]], list[list[Any]]]) -> None:
        """Queue query results, one per future query, as (columns [(name, athena type)], rows)."""
        payload = []
        for columns, rows in results:
            info = [
                {
                    "CatalogName": "hive",
                    "SchemaName": "",
                    "TableName": "",
                    "Name": n,
                    "Label": n,
                    "Type": t,
                    "Precision": 0,
                    "Scale": 0,
                    "Nullable": "UNKNOWN",
                    "CaseSensitive": False,
                }
                for n, t in columns
            ]
            data = [{"Data": [{"VarCharValue": n} for n, _ in columns]}]
            data += [{"Data": [{} if v is None else {"VarCharValue": _text(v)} for v in row]} for row in rows]
            payload.append({"rows": data, "column_info": info})
        self.moto_api(
            "/moto-api/static/athena/query-results",
            {"account_id": ACCOUNT, "region": REGION, "results": payload},
        )

    def queries(self) -> list[dict[str, Any]]:
        """Every query execution moto has seen, oldest first, as Athena describes it."""
        athena = self.client("athena")
        ids = [r.json.get("QueryExecutionId") for r in self.proxy.calls("GetQueryExecution")]
        seen = list(dict.fromkeys(i for i in ids if i))
        return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in seen]


def glue_table(aws: AwsFake, name: str) -> dict[str, Any]:
    return aws.client("glue").get_table(DatabaseName="churn", Name=name)["Table"]


def read_location(aws: AwsFake, location: str) -> pa.Table:
    """Every Parquet file directly under an s3:// location, as Athena would read it."""
    bucket, prefix = location[5:].split("/", 1)
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert keys, f"nothing at {location}"
    return pa.concat_tables(
        [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in sorted(keys)],
        promote_options="default",
    )


def keys_under(aws: AwsFake, prefix: str) -> list[str]:
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value)


def protocol_mismatch(moto_url: str) -> str | None:
    """None when moto answers Athena in the wire protocol this botocore speaks, else what to do about it.

    botocore switches a service's protocol now and then (Athena went from `json` to `rest-json` in 1.44.18);
    moto may not follow at once, and every Athena test would then fail with moto's bare 404.
    """
    client = boto3.client(
        "athena",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        client.list_work_groups()
    except ClientError as exc:
        return (
            f"moto {version('moto')} does not serve Athena in the {client.meta.service_model.protocol!r} "
            f"protocol of botocore {botocore.__version__} (it answers HTTP "
            f"{exc.response['ResponseMetadata'].get('HTTPStatusCode')}). Install the versions in constraints.txt "
            "(pip install -c constraints.txt -e '.[test]'), or refresh the lock to a pair that agrees: "
            "bash .ci/refresh-lock 'botocore<X' (README, Reproducible install)."
        )
    return None

"""The AWS fixtures of every test that needs S3, Glue or Athena: one moto server and one proxy per session.

`aws` hands a test an empty moto (one bucket) behind a proxy without rules; tests/churn_core/aws_fakes.py has
the proxy and the helpers that seed results and inject failures.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from botocore.retries.standard import ExponentialBackoff

from churn_core.warehouse import athena_builds
from churn_core.warehouse.athena import AthenaWarehouse
from tests.churn_core.aws_fakes import BUCKET, REGION, AwsFake, Proxy, handler, protocol_mismatch


@pytest.fixture(scope="session")
def moto_server() -> Iterator[tuple[str, int]]:
    """moto in server mode on a free port, checked to speak the Athena protocol of the installed botocore."""
    from moto.server import ThreadedMotoServer  # here, not above: tests without AWS never load moto (0.3 s)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        problem = protocol_mismatch(f"http://{host}:{port}")
        if problem:
            pytest.fail(problem, pytrace=False)
        yield host, port
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws_session(moto_server: tuple[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsFake]:
    """The proxy in front of moto, and the environment pointing boto3 at it, for the whole session."""
    proxy = Proxy(upstream=moto_server)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(proxy))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path_factory.mktemp("aws") / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path_factory.mktemp("aws") / "none"),
    }
    drop = [k for k in os.environ if re.match(r"AWS_(PROFILE|ENDPOINT_URL_|SESSION_TOKEN|ATHENA_)", k)]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in drop:
            patch.delenv(name)
        # botocore's backoff (a 1 s base for throttling) has no setting: here a throttled call retries in ms.
        patch.setattr(
            ExponentialBackoff,
            "_DEFAULT_BACKOFF_CONFIG",
            {"throttling_base_scale": 0.01, "non_throttling_base_scale": 0.001},
        )
        try:
            yield AwsFake(f"http://{moto_server[0]}:{moto_server[1]}", proxy, tmp_path_factory.mktemp("athena_home"))
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture()
def aws(aws_session: AwsFake, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsFake]:
    """A fresh moto (empty S3, Glue and Athena, one bucket) behind a proxy with no rules."""
    aws_session.moto_api("/moto-api/reset", {})
    aws_session.proxy.clear()
    aws_session.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setattr(AthenaWarehouse, "bytes_scanned_total", 0)
    monkeypatch.setattr(athena_builds, "_ENFORCED", {})  # read once per process: once per fresh moto here
    yield aws_session
    aws_session.proxy.clear()
    aws_session.moto_api("/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})

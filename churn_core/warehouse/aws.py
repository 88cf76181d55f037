"""AWS plumbing shared by the Athena adapter and the S3 model store: clients, their retries, clear errors.

Credentials come only from boto3's default chain (environment, shared profile, instance or task role); nothing
here reads, stores, prints or logs them. `AWS_ENDPOINT_URL` (boto3's standard variable) points every client
at another endpoint, such as a local test server.

Retries are botocore's own, in its standard mode, on every client (pyathena's too): throttling, 5xx answers and
dropped connections are tried again with exponential backoff and jitter, `athena_max_attempts` attempts in all;
access denied, bad requests and SQL errors are not. Listings use boto3's paginators. What still fails comes back
as a WarehouseError that says what failed and what to do, and a failure that passes (throttling, a service
briefly unavailable or unreachable) as a TransientWarehouseError, which the job runner may retry later.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.loaders import create_loader

from churn_core.settings import Settings
from churn_core.warehouse.base import TransientWarehouseError, WarehouseError

log = logging.getLogger("churn_core.warehouse.athena")

# Error codes of failures that pass: throttling, transient server-side failures, and Glue's lost race of two
# writers (which botocore does not retry; the job runner may run the step again).
TRANSIENT_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ConcurrentModificationException",
    }
)
DENIED_CODES: frozenset[str] = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidToken",
    }
)
NOT_FOUND_CODES = frozenset({"EntityNotFoundException", "NoSuchKey", "NotFound", "NoSuchEntity"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "AlreadyExistsException"})
_CONNECTION_ERRORS = (HTTPClientError, BotoConnectionError)  # refused, dropped or timed-out connections
DELETE_BATCH = 1000  # keys per S3 DeleteObjects request, S3's limit

CREDENTIALS_HINT = (
    "The AWS identity churn runs as comes from boto3's default chain (AWS_PROFILE, "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the instance/task role)"
)


class NotFound(WarehouseError):
    """The object, table, partition or database does not exist."""


class Conflict(WarehouseError):
    """A conditional write lost: the object already exists or changed meanwhile."""


def client_config(max_attempts: int) -> Config:
    """One botocore config for every client: the standard retry mode, sane timeouts."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=120,
        user_agent_extra="churn-prediction-unleashed",
    )


@cache
def _loader() -> Any:
    return create_loader()


class AwsClients:
    """A boto3 session in one region and its clients, all retrying alike; calls whose failures read plainly."""

    def __init__(self, region: str, max_attempts: int) -> None:
        self.region = region
        self.max_attempts = max_attempts
        self.config = client_config(max_attempts)
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> AwsClients:
        return cls(settings.athena_region, settings.athena_max_attempts)

    @property
    def session(self) -> boto3.Session:
        with self._lock:
            return self._new_session() if self._session is None else self._session

    def _new_session(self) -> boto3.Session:
        # Sessions share one loader of the (static) AWS service models, which halves the cost of a new client.
        core = botocore.session.get_session()
        core.register_component("data_loader", _loader())
        try:
            core.get_scoped_config()  # a missing AWS_PROFILE fails here, not deep inside the first client
            self._session = boto3.Session(region_name=self.region or None, botocore_session=core)
        except ProfileNotFound as exc:
            raise WarehouseError(
                f"{exc}: AWS_PROFILE names no profile in ~/.aws/config or ~/.aws/credentials; set it to one that "
                "exists, or unset it to use the default credentials"
            ) from None
        return self._session

    def client(self, service: str) -> Any:
        session = self.session
        with self._lock:
            if service not in self._clients:
                self._clients[service] = session.client(service, config=self.config)
            return self._clients[service]

    def call(self, service: str, action: str, what: str, **kwargs: Any) -> Any:
        """`<service>.<action>(**kwargs)`; a failure as a clear error (`NotFound` and `Conflict` for the
        answers callers expect and handle)."""
        try:
            return getattr(self.client(service), action)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._call_failure(exc, what) from None

    def pages(self, service: str, operation: str, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every page of a listing, through boto3's paginator."""
        try:
            yield from self.client(service).get_paginator(operation).paginate(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._call_failure(exc, what) from None

    def listing(self, bucket: str, prefix: str, *, folders: bool = False) -> tuple[list[str], list[str]]:
        """(object keys, sub-prefixes) under `prefix`; with `folders`, only those directly under it."""
        keys: list[str] = []
        prefixes: list[str] = []
        extra = {"Delimiter": "/"} if folders else {}
        for page in self.pages(
            "s3", "list_objects_v2", f"listing s3://{bucket}/{prefix}", Bucket=bucket, Prefix=prefix, **extra
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return keys, prefixes

    def delete_keys(self, bucket: str, keys: Sequence[str], what: str) -> None:
        """Delete objects, best effort: a failure is logged, not raised (what is left is only clutter)."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start : start + DELETE_BATCH]]
            try:
                self.call("s3", "delete_objects", what, Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except WarehouseError as exc:
                log.warning("%s", exc)

    def failure(self, exc: BaseException, what: str, error: type[WarehouseError] = WarehouseError) -> WarehouseError:
        """The clear error for a failed call about `what`."""
        return translate(exc, what, error, _attempts(exc, self.max_attempts))

    def _call_failure(self, exc: BaseException, what: str) -> WarehouseError:
        """`failure`, or `NotFound` and `Conflict` for the answers callers expect and handle."""
        code, status = error_code(exc), _status(exc)
        if code in NOT_FOUND_CODES or status == 404:
            return NotFound(f"{what}: {_message(exc)}")
        if code in CONFLICT_CODES or status == 412:
            return Conflict(f"{what}: {_message(exc)}")
        return self.failure(exc, what)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it wraps (pyathena wraps botocore's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _client_error(exc: BaseException) -> ClientError | None:
    return next((err for err in _chain(exc) if isinstance(err, ClientError)), None)


def error_code(exc: BaseException) -> str:
    """The AWS error code of `exc` or of the botocore error it wraps ('' when there is none)."""
    err = _client_error(exc)
    return str(err.response.get("Error", {}).get("Code", "")) if err else ""


def _status(exc: BaseException) -> int:
    err = _client_error(exc)
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0) if err else 0


def _attempts(exc: BaseException, configured: int) -> int:
    """How many attempts botocore made: it counts them on an answer; a lost connection used them all."""
    err = _client_error(exc)
    retries = err.response.get("ResponseMetadata", {}).get("RetryAttempts") if err else None
    return configured if retries is None else int(retries) + 1


def _message(exc: BaseException) -> str:
    err = _client_error(exc)
    if err is not None:
        error = err.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def is_connection_error(exc: BaseException) -> bool:
    """The request never got an answer (connection refused, dropped or timed out)."""
    return any(isinstance(err, _CONNECTION_ERRORS) for err in _chain(exc))


def is_denied(exc: BaseException) -> bool:
    if any(isinstance(err, NoCredentialsError | PartialCredentialsError) for err in _chain(exc)):
        return True
    return _client_error(exc) is not None and (error_code(exc) in DENIED_CODES or _status(exc) == 403)


def is_transient(exc: BaseException) -> bool:
    """Throttling, a transient server-side failure, or no answer at all: likely to pass if tried later."""
    if is_connection_error(exc):
        return True
    status = _status(exc)
    return not is_denied(exc) and (error_code(exc) in TRANSIENT_CODES or status >= 500 or status == 429)


def translate(
    exc: BaseException, what: str, error: type[WarehouseError] = WarehouseError, attempts: int = 1
) -> WarehouseError:
    """A clear, actionable error for a failed AWS call about `what` (never includes credentials)."""
    detail = _message(exc)
    if any(isinstance(e, NoCredentialsError | PartialCredentialsError) for e in _chain(exc)):
        return error(f"{what}: no AWS credentials found. {CREDENTIALS_HINT}; set one of them up and retry.")
    if is_denied(exc):
        return error(
            f"{what}: access denied ({detail}). {CREDENTIALS_HINT}; it needs permission for this "
            "action on the configured workgroup, Glue database and S3 locations. Ask an AWS admin "
            "to grant it; retrying will not help."
        )
    if is_connection_error(exc):
        return TransientWarehouseError(
            f"{what}: could not reach AWS ({detail}); gave up after {attempts} attempts. Check the network "
            "connection and the region, and AWS_ENDPOINT_URL if you set one."
        )
    if is_transient(exc):
        return TransientWarehouseError(
            f"{what}: AWS is throttling or briefly unavailable ({detail}); gave up after {attempts} "
            "attempts. Try again in a few minutes, or ask for a higher service quota."
        )
    return error(f"{what}: {detail}")


def split_s3(url: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') of an s3:// URL."""
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", url.strip())
    if not match:
        raise WarehouseError(f"{url!r} is not an s3://bucket/prefix location; check the athena_s3_* settings")
    return match.group(1), match.group(2)

"""AWS plumbing shared by the Athena adapter and the S3 model store: clients, retries, clear errors.

Credentials come only from boto3's default chain (environment, shared profile, instance or task role); nothing
here reads, stores, prints or logs them. `AWS_ENDPOINT_URL` (boto3's standard variable) points every client
at another endpoint, such as a local test server. Botocore's own retries are switched off so that each call
has one retry layer with exponential backoff (`call` here for S3 and Glue; pyathena's, set from the same
`Backoff`, for Athena's API), for throttling and transient failures only: access denied, bad requests and
SQL errors are never retried.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.loaders import create_loader

from churn_core.warehouse.base import WarehouseError

log = logging.getLogger("churn_core.warehouse.athena")
T = TypeVar("T")

# Error codes worth another attempt: throttling, and transient server-side failures.
RETRYABLE_CODES: tuple[str, ...] = (
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
RATE_WORDS = re.compile(r"rate exceeded|slow ?down|throttl|too many requests", re.IGNORECASE)
DENIED_WORDS = re.compile(r"access denied|not authorized|insufficient (lake formation )?permissions", re.IGNORECASE)
_TRANSIENT_EXCEPTIONS = (HTTPClientError, BotoConnectionError)  # dropped connections, timeouts

CREDENTIALS_HINT = (
    "The AWS identity churn runs as comes from boto3's default chain (AWS_PROFILE, "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the instance/task role)"
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt k waits about base * 2**(k-1) seconds, at most cap."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def client_config() -> Config:
    """One botocore config for every client: no botocore retries (ours are in `call`), sane timeouts."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=120,
        user_agent_extra="churn-prediction-unleashed",
    )


@cache
def _loader() -> Any:
    return create_loader()


def new_session(region: str) -> boto3.Session:
    """A boto3 session on the default credential chain, in the configured region.

    Sessions share one loader of the (static) AWS service models, which halves the cost of a new client.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader())
    return boto3.Session(region_name=region or None, botocore_session=core)


class NotFound(WarehouseError):
    """The object, table, partition or database does not exist."""


class Conflict(WarehouseError):
    """A conditional write lost: the object already exists or changed meanwhile."""


NOT_FOUND_CODES = frozenset({"EntityNotFoundException", "NoSuchKey", "NotFound", "NoSuchEntity"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "AlreadyExistsException"})


def _status(exc: BaseException) -> int:
    for err in _chain(exc):
        if isinstance(err, ClientError):
            return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def error_code(exc: BaseException) -> str:
    """The AWS error code of `exc` or of the botocore error it wraps ('' when there is none)."""
    for err in _chain(exc):
        if isinstance(err, ClientError):
            return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _message(exc: BaseException) -> str:
    for err in _chain(exc):
        if isinstance(err, ClientError):
            error = err.response.get("Error", {})
            return f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """Throttling, transient 5xx and dropped connections: worth another attempt after a pause."""
    for err in _chain(exc):
        if isinstance(err, ClientError):
            code = error_code(err)
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in DENIED_CODES:
                return False
            return (
                code in RETRYABLE_CODES
                or status >= 500
                or status == 429
                or bool(RATE_WORDS.search(str(err.response.get("Error", {}).get("Message", ""))))
            )
        if isinstance(err, _TRANSIENT_EXCEPTIONS):
            return True
    return False


def is_connection_error(exc: BaseException) -> bool:
    """The request never got an answer (connection refused, dropped or timed out)."""
    return any(isinstance(err, _TRANSIENT_EXCEPTIONS) for err in _chain(exc))


def is_denied(exc: BaseException) -> bool:
    for err in _chain(exc):
        if isinstance(err, NoCredentialsError | PartialCredentialsError):
            return True
        if isinstance(err, ClientError):
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            return error_code(err) in DENIED_CODES or status == 403
    return False


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
        return error(
            f"{what}: could not reach AWS ({detail}); gave up after {attempts} attempts. Check the network "
            "connection and the region, and AWS_ENDPOINT_URL if you set one."
        )
    if is_retryable(exc):
        return error(
            f"{what}: AWS is throttling or briefly unavailable ({detail}); gave up after {attempts} "
            "attempts. Try again in a few minutes, or ask for a higher service quota."
        )
    return error(f"{what}: {detail}")


def call(
    fn: Callable[..., T],
    what: str,
    backoff: Backoff,
    error: type[WarehouseError] = WarehouseError,
    **kwargs: Any,
) -> T:
    """`fn(**kwargs)`, retried with backoff while AWS throttles or fails transiently; else a clear error
    (`NotFound` and `Conflict` for the answers callers expect and handle)."""
    for attempt in range(1, backoff.attempts + 1):
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc)
            if code in NOT_FOUND_CODES or _status(exc) == 404:
                raise NotFound(f"{what}: {_message(exc)}") from None
            if code in CONFLICT_CODES or _status(exc) == 412:
                raise Conflict(f"{what}: {_message(exc)}") from None
            if not is_retryable(exc) or attempt == backoff.attempts:
                raise translate(exc, what, error, attempt) from None
            pause = backoff.delay(attempt)
            log.warning("%s: %s; retry %d of %d in %.2f s", what, _message(exc), attempt, backoff.attempts - 1, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def split_s3(url: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') of an s3:// URL."""
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", url.strip())
    if not match:
        raise WarehouseError(f"{url!r} is not an s3://bucket/prefix location; check the athena_s3_* settings")
    return match.group(1), match.group(2)

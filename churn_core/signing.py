"""The product's signing key and HMAC-SHA256 signatures: how a reader tells data the product wrote from data
edited in the warehouse afterwards (churn_core.scoring.integrity signs every score set's fingerprint with it).

The key is the setting `signing_key` (CHURN_SIGNING_KEY). Where jobs and dashboard run on different machines
(Athena in production), set it on every one of them from a secret store. Unset, a random key is created once as
$CHURN_HOME/signing.key, readable by its owner only. The key is never logged or printed: churn_core.secrets
redacts it and `churn settings` masks it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from churn_core.errors import ChurnError
from churn_core.settings import Settings


class SigningKeyError(ChurnError):
    """The signing key file cannot be used; the message says which file and what to do."""


def signing_key(settings: Settings, *, create: bool = True) -> bytes | None:
    """The key: the setting, else the key file in CHURN_HOME (created when missing and `create`)."""
    if settings.signing_key:
        return settings.signing_key.strip().encode("utf-8")
    path = settings.signing_key_file
    if not path.exists():
        if not create:
            return None
        _create_key_file(path)
    return _read_key_file(path)


def sign(settings: Settings, message: str) -> str:
    """HMAC-SHA256 of `message` with the product's key, as hex."""
    key = signing_key(settings)
    assert key is not None
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(settings: Settings, message: str, signature: str) -> bool:
    """True when `signature` is this product's signature of `message` (compared in constant time)."""
    return hmac.compare_digest(sign(settings, message), str(signature).strip().lower())


def _create_key_file(path: Path) -> None:
    """Write a new random key with mode 0600, atomically: two processes starting at once agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)  # fails if another process published its key first: theirs is used
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def _read_key_file(path: Path) -> bytes:
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise SigningKeyError(
            f"the signing key {path} is readable by other users: run `chmod 600 {path}` (or set "
            "CHURN_SIGNING_KEY from a secret store)"
        )
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise SigningKeyError(
            f"the signing key {path} is empty or too short: restore it from a backup, or delete it and re-run "
            "`churn score` (sets signed with the old key will then be refused until re-scored)"
        )
    return key.encode("utf-8")

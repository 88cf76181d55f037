"""Every credential the product can hold, and the one way to keep them out of what it writes out.

The CLI, the dashboard, the job logs, job history and alerts all pass text that might quote a credential (an
exception naming a webhook URL with its token, say) through `redact` with `secret_values`, or through
`redacted`. The sign-in secrets live in Streamlit's secrets.toml files, found and read here the way Streamlit
reads them (`read_secrets`) for churn_core.access, which decides from them whether the dashboard may start.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from churn_core import signing
from churn_core.errors import ChurnError
from churn_core.settings import Settings

# Credentials that can reach the product without being a setting: boto3's environment variables, and the
# OIDC secrets Streamlit reads from secrets.toml.
AWS_SECRET_VARIABLES: tuple[str, ...] = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
)
AUTH_SECRET_KEYS: frozenset[str] = frozenset({"client_secret", "cookie_secret"})
APP_ROOT = Path(__file__).resolve().parents[1]  # where `churn dashboard` runs the app (its .streamlit/)

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?i)\b((?:aws_)?(?:secret|token|password|passwd|api[_-]?key|access[_-]?key|signature|sig)"
        r"[\w-]*\s*[=:]\s*)[^\s&'\",;]+"
    ),
    re.compile(r"(?<=://)[^/\s@]+(?=@)"),  # userinfo in URLs: user:password@, or a token alone (TOKEN@)
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
)


class SecretsFileError(ChurnError):
    """A secrets file Streamlit would read cannot be read or parsed; the message names it (never its content)."""


def secrets_files(app_root: Path) -> list[Path]:
    """Where Streamlit looks for secrets.toml by default when `churn dashboard` serves the app from `app_root`:
    the user's ~/.streamlit, the working directory's .streamlit, then the app script's (later ones win)."""
    candidates = [Path.home(), app_root, app_root / "dashboard"]
    return list(dict.fromkeys(folder / ".streamlit" / "secrets.toml" for folder in candidates))


def read_secrets(files: Iterable[Path]) -> dict[str, Any]:
    """The secrets Streamlit reads from `files` (its `secrets.files` option), merged as Streamlit merges them:
    each file's top-level keys replace the earlier files' (a whole [auth] table, not key by key). An absent
    .toml file is skipped; any file that cannot be read or parsed raises SecretsFileError, because Streamlit
    then has no secrets at all, and guessing what it would have meant is how a dashboard ends up open."""
    merged: dict[str, Any] = {}
    for path in map(Path, files):
        merged.update(_secrets_in(path))
    return merged


def _secrets_in(path: Path) -> dict[str, Any]:
    """One entry of secrets.files as Streamlit reads it: a .toml file, or a folder of Kubernetes-style secrets."""
    if path.name.endswith(".toml"):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError:
            raise SecretsFileError(f"the secrets file {path} is not UTF-8 text") from None
        except OSError as exc:
            raise SecretsFileError(f"the secrets file {path} cannot be read ({exc.strerror or exc})") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SecretsFileError(f"the secrets file {path} is not valid TOML ({exc})") from None
    if path.is_dir():
        return _secrets_folder(path)
    raise SecretsFileError(f"the secrets path {path} is neither a .toml file nor a folder")


def _secrets_folder(path: Path) -> dict[str, Any]:
    """Kubernetes-style secrets: each sub-folder is a key, its files the values (one file: the value itself)."""
    secrets: dict[str, Any] = {}
    try:
        for folder in sorted(path.iterdir()):
            if not folder.is_dir():
                raise SecretsFileError(f"the secrets folder {path} holds {folder.name}, which is not a folder")
            values = {f.name: f.read_text(encoding="utf-8").strip() for f in sorted(folder.iterdir()) if f.is_file()}
            secrets[folder.name] = next(iter(values.values())) if len(values) == 1 else values
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsFileError(f"the secrets folder {path} cannot be read ({exc})") from None
    return secrets


def auth_section(path: Path) -> dict[str, Any]:
    """The [auth] section of one secrets file, for redaction only: empty when absent, unreadable or not a table
    (whether sign-in works is decided from every file at once by churn_core.access.roles.sign_in)."""
    try:
        auth = read_secrets([path]).get("auth", {})
    except SecretsFileError:
        return {}
    return auth if isinstance(auth, dict) else {}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secret values and anything that looks like a credential replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


def secret_values(settings: Settings, app_roots: Iterable[Path] | None = None) -> list[str]:
    """Every credential the product can hold, never to be written out: the alert hooks and the plays webhook (a
    URL or command may embed a token), the signing key, AWS credentials in the environment, and the sign-in secrets of
    .streamlit/secrets.toml (in ~, the app's folder and the working directory, or `app_roots`)."""
    values = [settings.alert_webhook_url, settings.alert_command, settings.signing_key, settings.plays_webhook_url]
    # A webhook's path (Slack, Teams, a CRM's hook) is itself the secret; keep only scheme and host visible.
    for url in (settings.alert_webhook_url, settings.plays_webhook_url):
        if "://" in url:
            scheme_host = "/".join(url.split("/", 3)[:3])
            values.append(url[len(scheme_host) :])
            userinfo = scheme_host.split("://", 1)[1].rpartition("@")[0]  # a token may stand there alone
            values += [userinfo, *userinfo.split(":")]
    values += _command_arguments(settings.alert_command)
    try:
        key = signing.signing_key(settings, create=False)
    except (ChurnError, OSError):
        key = None  # an unusable key file: whoever uses it says so
    values.append(key.decode("utf-8") if key else "")
    values += [os.environ.get(name, "") for name in AWS_SECRET_VARIABLES]
    roots = app_roots if app_roots is not None else (APP_ROOT, Path.cwd())
    for path in dict.fromkeys(path for root in roots for path in secrets_files(Path(root))):
        values += _auth_secrets(auth_section(path))
    return [v for v in dict.fromkeys(values) if v and v.strip() not in ("/", "")]


def redacted(text: str, settings: Settings) -> str:
    """`text` with every credential of `settings` (see secret_values) and anything that looks like one hidden."""
    return redact(text, secret_values(settings))


def _command_arguments(command: str) -> list[str]:
    """The alert command's arguments that may be a token on their own (an error may quote one alone)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    return [w for w in words[1:] if len(w) >= 8 and not w.startswith("-")]


def _auth_secrets(auth: dict[str, Any]) -> list[str]:
    """The OIDC secrets of an [auth] section and its per-provider sub-sections."""
    sections = [auth, *(v for v in auth.values() if isinstance(v, dict))]
    return [v for section in sections for k, v in section.items() if k in AUTH_SECRET_KEYS and isinstance(v, str)]

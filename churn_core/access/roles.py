"""Who may do what: roles from settings, permissions per role, checks the dashboard and the functions share.

Roles map to permissions: marketer (browse), manager (browse, activation, plays: create and pause contact
plays), analyst (browse, export, and export_holdout: the measurement holdout as its own, labelled list), admin
(everything: also model promotion and the audit log). A user's role comes from the settings `role_<name>`
lists -- verified e-mail addresses, `group:<name>` for groups the identity provider sends, `sub:<subject>` for
its subject identifiers -- and only from claims the provider vouches for (`Identity`); the strongest role wins.
Without a sign-in provider the dashboard runs open on loopback only, for one person on their own machine, with
`open_mode_role`; a sign-in configuration that cannot work serves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from churn_core.errors import ChurnError
from churn_core.secrets import SecretsFileError, read_secrets
from churn_core.settings import Settings

ROLES: tuple[str, ...] = ("marketer", "manager", "analyst", "admin")  # weakest first
PERMISSIONS: dict[str, frozenset[str]] = {
    "marketer": frozenset({"browse"}),
    "manager": frozenset({"browse", "activation", "plays"}),
    "analyst": frozenset({"browse", "export", "export_holdout"}),
    "admin": frozenset({"browse", "activation", "plays", "export", "export_holdout", "promote", "audit"}),
}
AUTH_KEYS: tuple[str, ...] = ("redirect_uri", "cookie_secret")  # what st.login needs in [auth] itself
PROVIDER_KEYS: tuple[str, ...] = ("client_id", "client_secret", "server_metadata_url")  # ... and of its provider


class AccessDenied(ChurnError):
    """The signed-in user's role does not allow this action."""


@dataclass(frozen=True)
class User:
    email: str
    name: str = ""
    groups: tuple[str, ...] = ()
    role: str | None = None
    signed_in: bool = True

    def can(self, permission: str) -> bool:
        return self.role is not None and permission in PERMISSIONS[self.role]

    @property
    def label(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class RoleMap:
    """Members of each role, parsed once from settings."""

    members: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> RoleMap:
        members = {}
        for role in ROLES:
            raw = getattr(settings, f"role_{role}")
            entries = (e.strip() for e in raw.split(",") if e.strip())
            # e-mail addresses and group names match in any case; subjects are the provider's exact ids
            members[role] = frozenset(e if e.startswith("sub:") else e.lower() for e in entries)
        return cls(members)

    def role_for(self, keys: set[str]) -> str | None:
        """The strongest role any of an identity's keys (Identity.keys) is a member of."""
        matched = [role for role in ROLES if self.members.get(role, frozenset()) & keys]
        return matched[-1] if matched else None


@dataclass(frozen=True)
class Identity:
    """What an OIDC identity (st.user claims) proves, only from claims the identity provider vouches for: its
    e-mail when `email_verified` is the boolean true (not "true": a provider that sends a string is not
    trusted to have checked), its subject and its groups. `preferred_username`, `upn` and the like are chosen
    by the user at many providers, so they are never read."""

    email: str = ""
    subject: str = ""
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, claims: Mapping[str, object]) -> Identity:
        email = claims.get("email")
        verified = claims.get("email_verified") is True and isinstance(email, str) and "@" in email
        subject = claims.get("sub")
        raw_groups = claims.get("groups") or ()
        groups = raw_groups if isinstance(raw_groups, list | tuple) else (raw_groups,)
        return cls(
            email=email.strip().lower() if verified and isinstance(email, str) else "",
            subject=subject.strip() if isinstance(subject, str) else "",
            groups=tuple(sorted({str(g).strip().lower() for g in groups if str(g).strip()})),
        )

    @property
    def keys(self) -> set[str]:
        """The role-setting entries it matches: the e-mail, `sub:<subject>`, `group:<name>` for each group
        (subjects and groups count only where the operator names them in a role setting)."""
        keys = {f"group:{g}" for g in self.groups}
        return keys | ({self.email} if self.email else set()) | ({f"sub:{self.subject}"} if self.subject else set())


def signed_in_user(settings: Settings, claims: Mapping[str, object]) -> User:
    """The user behind an OIDC identity, with the role its verified identity gives it; named (in the sidebar
    and the audit log) by its verified e-mail, else by `sub:<subject>`."""
    identity = Identity.of(claims)
    return User(
        email=identity.email or (f"sub:{identity.subject}" if identity.subject else ""),
        name=str(claims.get("name") or ""),
        groups=identity.groups,
        role=RoleMap.from_settings(settings).role_for(identity.keys),
    )


def open_mode_user(settings: Settings) -> User:
    """The single local user when no sign-in provider is configured."""
    role = settings.open_mode_role if settings.open_mode_role in ROLES else None
    return User(email="local", name="local user (no sign-in configured)", role=role, signed_in=False)


class SignIn(Enum):
    """What the secrets files Streamlit reads configure for st.login (an OIDC provider)."""

    OFF = "off"  # no `auth` in any secrets file: the dashboard runs open, for one person on loopback only
    READY = "ready"  # an [auth] section st.login() can sign in with
    MISCONFIGURED = "misconfigured"  # a file that cannot be read or parsed, or an `auth` st.login cannot use

    @property
    def required(self) -> bool:
        """Visitors must sign in (and, when misconfigured, cannot: nothing is served)."""
        return self is not SignIn.OFF


@dataclass(frozen=True)
class SignInState:
    """The sign-in mode, and for MISCONFIGURED what is wrong and where."""

    mode: SignIn
    problem: str = ""


def sign_in(files: Iterable[Path]) -> SignInState:
    """The one decision of how the dashboard signs people in, from every secrets file Streamlit reads (its
    `secrets.files` option, in its order and merged its way). Open mode only when no file configures `auth`
    and every file could be read; any error, whatever its kind, is MISCONFIGURED (the dashboard shows only an
    error and refuses to start), never "no sign-in", whose open mode has the admin role."""
    try:
        auth = read_secrets(files).get("auth")
    except SecretsFileError as exc:
        return SignInState(SignIn.MISCONFIGURED, str(exc))
    if auth is None:
        return SignInState(SignIn.OFF)
    problem = auth_problem(auth)
    return SignInState(SignIn.MISCONFIGURED, problem) if problem else SignInState(SignIn.READY)


def auth_problem(auth: object) -> str:
    """Why st.login() (the default provider, which the dashboard's button uses) cannot sign in with this `auth`;
    empty when it can. Mirrors Streamlit's own checks, which it makes only when someone presses the button."""
    if not isinstance(auth, Mapping):
        return f"`auth` must be a table ([auth]), not {type(auth).__name__}"
    provider = auth.get("default", auth)
    if not isinstance(provider, Mapping):
        return "[auth.default] must be a table"
    missing = [key for key in AUTH_KEYS if not _text(auth.get(key))]
    missing += [key for key in PROVIDER_KEYS if not _text(provider.get(key))]
    if missing:
        where = "[auth.default]" if provider is not auth else "[auth]"
        return f"{where} lacks {', '.join(missing)} (each a non-empty string; see README, Sign-in)"
    if not str(auth["redirect_uri"]).endswith("/oauth2callback"):
        return "[auth] redirect_uri must end with /oauth2callback"
    return ""


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def is_loopback(host: str | None) -> bool:
    """True for an address only this machine can reach. None or "" (Streamlit's default) listens on every
    interface, and a name other than localhost may resolve to anything: neither is loopback."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str | None, files: Iterable[Path]) -> None:
    """Refuse to serve the dashboard with misconfigured sign-in (on any address), or open beyond loopback."""
    state = sign_in(files)
    if state.mode is SignIn.MISCONFIGURED:
        raise AccessDenied(
            f"sign-in is misconfigured, so the dashboard will not start on any address: {state.problem}. Fix the "
            "file (README, Sign-in), or remove every `auth` section to run open on 127.0.0.1."
        )
    if state.mode is SignIn.OFF and not is_loopback(host):
        raise AccessDenied(
            f"refusing to listen on {host or 'every address'}: no sign-in is configured, so the dashboard may "
            "only run on 127.0.0.1. Add an [auth] section to .streamlit/secrets.toml (see README, Sign-in) first."
        )


def require(user: User, permission: str) -> None:
    """Raise AccessDenied unless the user's role grants the permission."""
    if not user.can(permission):
        role = user.role or "no role"
        raise AccessDenied(f"{user.label} ({role}) may not {permission}; ask an admin for a role that allows it")

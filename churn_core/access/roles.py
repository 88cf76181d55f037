"""Who may do what: roles from settings, permissions per role, checks the dashboard and the functions share.

Roles map to permissions: marketer (browse), manager (browse, activation), analyst (browse, export),
admin (everything: also model promotion and the audit log). A user's role comes from the settings
`role_<name>` lists (e-mail addresses, or `group:<name>` for groups the identity provider sends); the
strongest role wins. Without a sign-in provider the dashboard runs open on 127.0.0.1 only, for one
person on their own machine, with `open_mode_role`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from churn_core.errors import ChurnError
from churn_core.secrets import auth_section, secrets_files
from churn_core.settings import Settings

ROLES: tuple[str, ...] = ("marketer", "manager", "analyst", "admin")  # weakest first
PERMISSIONS: dict[str, frozenset[str]] = {
    "marketer": frozenset({"browse"}),
    "manager": frozenset({"browse", "activation"}),
    "analyst": frozenset({"browse", "export"}),
    "admin": frozenset({"browse", "activation", "export", "promote", "audit"}),
}
LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})


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
            members[role] = frozenset(e.strip().lower() for e in raw.split(",") if e.strip())
        return cls(members)

    def role_for(self, email: str, groups: tuple[str, ...] = ()) -> str | None:
        keys = {email.strip().lower()} | {f"group:{g.strip().lower()}" for g in groups}
        matched = [role for role in ROLES if self.members.get(role, frozenset()) & keys]
        return matched[-1] if matched else None


def signed_in_user(settings: Settings, claims: dict[str, object]) -> User:
    """The user behind an OIDC identity (st.user claims), with the role the settings give them."""
    email = str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "")
    raw_groups = claims.get("groups") or ()
    groups = tuple(str(g) for g in raw_groups) if isinstance(raw_groups, list | tuple) else (str(raw_groups),)
    return User(
        email=email,
        name=str(claims.get("name") or ""),
        groups=groups,
        role=RoleMap.from_settings(settings).role_for(email, groups),
    )


def open_mode_user(settings: Settings) -> User:
    """The single local user when no sign-in provider is configured."""
    role = settings.open_mode_role if settings.open_mode_role in ROLES else None
    return User(email="local", name="local user (no sign-in configured)", role=role, signed_in=False)


class SignIn(Enum):
    """What the [auth] section of secrets.toml configures for st.login (an OIDC provider)."""

    OFF = "off"  # no [auth] section: the dashboard runs open, for one person on 127.0.0.1
    INCOMPLETE = "incomplete"  # a section naming no provider: sign-in is asked for but cannot work
    READY = "ready"  # a provider: server_metadata_url in [auth], or a provider's own [auth.<name>] section

    @property
    def required(self) -> bool:
        """The dashboard asks visitors to sign in (whenever an [auth] section exists)."""
        return self is not SignIn.OFF


def sign_in(auth: object) -> SignIn:
    """The sign-in an [auth] section configures (`auth` as parsed from secrets.toml; None when absent)."""
    if auth is None:
        return SignIn.OFF
    if isinstance(auth, Mapping) and (
        auth.get("server_metadata_url") or any(isinstance(v, Mapping) for v in auth.values())
    ):
        return SignIn.READY
    return SignIn.INCOMPLETE


def auth_configured(app_root: Path) -> bool:
    """True when a secrets.toml Streamlit reads for the app configures a provider st.login can use."""
    for path in secrets_files(app_root):
        if sign_in(auth_section(path)) is SignIn.READY:
            return True
    return False


def check_exposure(host: str, app_root: Path) -> None:
    """Refuse to serve the dashboard beyond this machine unless sign-in is configured."""
    if host not in LOOPBACK_HOSTS and not auth_configured(app_root):
        raise AccessDenied(
            f"refusing to listen on {host}: no sign-in provider is configured, so the dashboard may only run on "
            "127.0.0.1. Add an [auth] section to .streamlit/secrets.toml (see README, Sign-in) first."
        )


def require(user: User, permission: str) -> None:
    """Raise AccessDenied unless the user's role grants the permission."""
    if not user.can(permission):
        role = user.role or "no role"
        raise AccessDenied(f"{user.label} ({role}) may not {permission}; ask an admin for a role that allows it")

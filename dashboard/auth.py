"""Sign-in for the dashboard: st.login against the OIDC provider of the secrets Streamlit reads, roles from settings.

Every run of a page first asks churn_core.access.roles.check_exposure about the files Streamlit reads and the
address its server listens on: a sign-in configuration that cannot work shows only an error (no data, no
admin), and so does open mode (no [auth] anywhere) on a server that listens beyond loopback.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from churn_core.access.roles import (
    AccessDenied,
    SignIn,
    User,
    check_exposure,
    open_mode_user,
    sign_in,
    signed_in_user,
)
from churn_core.settings import Settings


def _secrets_files() -> list[Path]:
    return [Path(p) for p in st.get_option("secrets.files")]


def exposure_problem() -> str | None:
    """Why this app must not serve anything now (misconfigured sign-in, or open mode beyond loopback), if so."""
    try:
        check_exposure(st.get_option("server.address"), _secrets_files())
    except AccessDenied as exc:
        return str(exc)
    return None


def current_user(settings: Settings) -> User | None:
    """The user of this session: the local user in open mode, None when sign-in is needed."""
    if sign_in(_secrets_files()).mode is SignIn.OFF:
        return open_mode_user(settings)
    if not st.user.is_logged_in:
        return None
    return signed_in_user(settings, st.user.to_dict())


def refused_page(product: str, problem: str) -> None:
    st.title(product)
    st.error(problem, icon=":material/lock:")


def sign_in_page(product: str) -> None:
    st.title(product)
    st.markdown("This dashboard shows company data for the marketing team. Sign in to continue.")
    st.button("Sign in", icon=":material/login:", type="primary", on_click=st.login, key="sign_in")


def no_role_page(user: User) -> None:
    st.title("No access yet")
    st.warning(
        f"You are signed in as **{user.email}**, but no role is assigned to you. Ask an admin to add "
        "you to one of the role settings (CHURN_ROLE_MARKETER, _MANAGER, _ANALYST, _ADMIN)."
    )
    st.button("Sign out", on_click=st.logout, key="sign_out_no_role")


def sidebar_identity(user: User) -> None:
    if user.signed_in:
        st.caption(f":material/account_circle: {user.label} · **{user.role}**")
        st.button("Sign out", on_click=st.logout, key="sign_out", type="tertiary")
    else:
        st.caption(
            f":material/lock_open: No sign-in is configured, so this app runs open on "
            f"{st.get_option('server.address')} (this machine only) for you alone. Configure an identity "
            "provider in .streamlit/secrets.toml before sharing it."
        )

"""Sign-in for the dashboard: st.login against the OIDC provider in .streamlit/secrets.toml, roles from settings.

Without an [auth] section the app runs open for one local user (`churn dashboard` refuses any address but
127.0.0.1 then), and the sidebar says so.
"""

from __future__ import annotations

import streamlit as st

from churn_core.access.roles import SignIn, User, open_mode_user, sign_in, signed_in_user
from churn_core.settings import Settings


def configured_sign_in() -> SignIn:
    """The sign-in the secrets Streamlit read (and st.login uses) configure."""
    try:
        return sign_in(st.secrets.get("auth"))
    except Exception:  # no secrets file at all, or one that does not parse: run open, on loopback only
        return SignIn.OFF


def current_user(settings: Settings) -> User | None:
    """The user of this session: the local user in open mode, None when sign-in is needed."""
    if not configured_sign_in().required:
        return open_mode_user(settings)
    if not st.user.is_logged_in:
        return None
    return signed_in_user(settings, st.user.to_dict())


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
            ":material/lock_open: No sign-in is configured, so this app runs open on 127.0.0.1 for you "
            "alone. Configure an identity provider in .streamlit/secrets.toml before sharing it."
        )

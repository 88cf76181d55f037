"""Roles and permissions, and the audit log behind exports and promotions."""

from __future__ import annotations

import pytest

from churn_core.access import audit
from churn_core.access.roles import (
    AccessDenied,
    SignIn,
    User,
    auth_configured,
    check_exposure,
    open_mode_user,
    require,
    sign_in,
    signed_in_user,
)
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings


@pytest.fixture()
def settings(tmp_path):
    return make_settings(
        tmp_path,
        role_marketer="mia@example.com",
        role_manager="group:managers",
        role_analyst="ann@example.com, group:analysts",
        role_admin="root@example.com",
    )


@pytest.mark.parametrize(
    ("claims", "role", "allowed", "refused"),
    [
        ({"email": "mia@example.com"}, "marketer", {"browse"}, {"export", "activation", "promote", "audit"}),
        (
            {"email": "max@example.com", "groups": ["Managers"]},
            "manager",
            {"browse", "activation"},
            {"export", "promote"},
        ),
        ({"email": "ANN@example.com"}, "analyst", {"browse", "export"}, {"activation", "promote"}),
        ({"email": "root@example.com", "groups": ["analysts"]}, "admin", {"export", "promote", "audit"}, set()),
        ({"email": "stranger@example.com"}, None, set(), {"browse"}),
    ],
)
def test_roles_grant_exactly_their_permissions(settings, claims, role, allowed, refused) -> None:
    user = signed_in_user(settings, claims)
    assert user.role == role
    for permission in allowed:
        require(user, permission)
    for permission in refused:
        with pytest.raises(AccessDenied, match=f"may not {permission}"):
            require(user, permission)


def test_open_mode_is_a_local_user_with_the_configured_role(tmp_path) -> None:
    user = open_mode_user(make_settings(tmp_path, open_mode_role="marketer"))
    assert not user.signed_in and user.can("browse") and not user.can("export")
    assert not open_mode_user(make_settings(tmp_path, open_mode_role="nobody")).can("browse")


def test_audit_log_records_and_is_for_admins_only(settings) -> None:
    warehouse = open_warehouse(settings)
    analyst = User("ann@example.com", role="analyst")
    audit.record(warehouse, analyst, "export", {"filters": {"tier": ["high"]}, "format": "csv"}, 42)
    entries = audit.audit_entries(warehouse, User("root@example.com", role="admin"))
    assert entries[["user_email", "action", "row_count"]].values.tolist() == [["ann@example.com", "export", 42]]
    assert '"tier": ["high"]' in entries["detail"].iloc[0]
    with pytest.raises(AccessDenied):
        audit.audit_entries(warehouse, analyst)


def test_dashboard_beyond_loopback_needs_sign_in(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    check_exposure("127.0.0.1", tmp_path)
    with pytest.raises(AccessDenied, match="refusing to listen on 0.0.0.0"):
        check_exposure("0.0.0.0", tmp_path)
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "x"\n')
    assert not auth_configured(tmp_path)  # a section without a provider: sign-in could not work
    with pytest.raises(AccessDenied):
        check_exposure("0.0.0.0", tmp_path)
    secrets.write_text(
        '[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "x"\nclient_id = "c"\n'
        'client_secret = "s"\nserver_metadata_url = "http://idp/.well-known/openid-configuration"\n'
    )
    assert auth_configured(tmp_path)
    check_exposure("0.0.0.0", tmp_path)


@pytest.mark.parametrize(
    ("auth", "state"),
    [
        (None, SignIn.OFF),
        ({}, SignIn.INCOMPLETE),
        ({"cookie_secret": "x", "redirect_uri": "http://h/oauth2callback"}, SignIn.INCOMPLETE),
        ("not a section", SignIn.INCOMPLETE),
        ({"server_metadata_url": "http://idp/.well-known/openid-configuration"}, SignIn.READY),
        ({"cookie_secret": "x", "google": {"client_id": "c"}}, SignIn.READY),
    ],
)
def test_what_an_auth_section_configures(auth, state) -> None:
    """The dashboard asks for sign-in whenever an [auth] section exists; `churn dashboard` leaves 127.0.0.1 only
    for a provider st.login can use."""
    assert sign_in(auth) is state
    assert state.required == (auth is not None)

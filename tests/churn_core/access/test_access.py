"""Roles and permissions, and the audit log behind exports and promotions."""

from __future__ import annotations

import pytest

from churn_core.access import audit
from churn_core.access.roles import (
    AccessDenied,
    SignIn,
    User,
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
        (
            {"email": "mia@example.com", "email_verified": True},
            "marketer",
            {"browse"},
            {"export", "activation", "promote", "audit"},
        ),
        (
            {"email": "max@example.com", "groups": ["Managers"]},
            "manager",
            {"browse", "activation"},
            {"export", "promote"},
        ),
        (
            {"email": "ANN@example.com", "email_verified": True},
            "analyst",
            {"browse", "export"},
            {"activation", "promote"},
        ),
        (
            {"email": "root@example.com", "email_verified": True, "groups": ["analysts"]},
            "admin",
            {"export", "promote", "audit"},
            set(),
        ),
        ({"email": "stranger@example.com", "email_verified": True}, None, set(), {"browse"}),
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


def test_dashboard_beyond_loopback_needs_sign_in(tmp_path) -> None:
    secrets = tmp_path / "secrets.toml"
    check_exposure("127.0.0.1", [secrets])
    with pytest.raises(AccessDenied, match="refusing to listen on 0.0.0.0"):
        check_exposure("0.0.0.0", [secrets])
    secrets.write_text('[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "x"\n')
    for host in ("0.0.0.0", "127.0.0.1"):  # a section without a provider: sign-in could not work, nothing starts
        with pytest.raises(AccessDenied, match="sign-in is misconfigured.*lacks client_id"):
            check_exposure(host, [secrets])
    secrets.write_text(
        '[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "x"\nclient_id = "c"\n'
        'client_secret = "s"\nserver_metadata_url = "http://idp/.well-known/openid-configuration"\n'
    )
    assert sign_in([secrets]).mode is SignIn.READY
    check_exposure("0.0.0.0", [secrets])

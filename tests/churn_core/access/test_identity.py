"""Roles come only from identity claims the identity provider vouches for: an e-mail address with
`email_verified` true (the JSON boolean), or a group or subject the operator named explicitly in the role
settings. An unverified e-mail, a `preferred_username` or a `sub` that merely looks like an address get nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn_core.access.roles import signed_in_user
from tests.conftest import make_settings

ROOT = "root@example.com"


@pytest.fixture(scope="module")
def roles(tmp_path_factory):
    return make_settings(
        tmp_path_factory.mktemp("identity"),
        role_marketer="sub:00u1a2b3c",
        role_analyst="group:analysts",
        role_admin=ROOT,
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"email": ROOT, "email_verified": False},
        {"email": ROOT},
        {"email": ROOT, "email_verified": "true"},
        {"email": ROOT, "email_verified": 1},
        {"preferred_username": ROOT},
        {"preferred_username": ROOT, "email_verified": True},
        {"sub": ROOT},
        {"sub": ROOT, "email_verified": True},
        {"upn": ROOT, "email_verified": True},
        {"email": "ROOT@example.com ", "email_verified": "True"},
    ],
    ids=str,
)
def test_unverified_identity_claims_get_no_role(roles, claims) -> None:
    """Finding 4: each of these signed in as the admin root@example.com."""
    user = signed_in_user(roles, claims)
    assert user.role is None and not user.can("browse"), user


def test_a_verified_email_gets_its_role(roles) -> None:
    user = signed_in_user(roles, {"email": "Root@Example.com", "email_verified": True, "name": "Root"})
    assert user.role == "admin" and user.email == "root@example.com" and user.label == "Root"


def test_configured_subjects_and_groups_get_their_roles(roles) -> None:
    assert signed_in_user(roles, {"sub": "00u1a2b3c"}).role == "marketer"
    assert signed_in_user(roles, {"sub": "00u1a2b3c"}).email == "sub:00u1a2b3c"  # who the audit log names
    assert signed_in_user(roles, {"sub": "x", "groups": ["Analysts"]}).role == "analyst"
    assert signed_in_user(roles, {"sub": "x", "groups": "analysts"}).role == "analyst"
    assert signed_in_user(roles, {"email": ROOT, "email_verified": True, "groups": ["analysts"]}).role == "admin"


def test_an_unverified_email_is_not_who_the_audit_log_names(roles) -> None:
    user = signed_in_user(roles, {"email": ROOT, "email_verified": False, "sub": "abc"})
    assert user.email == "sub:abc" and ROOT not in user.email


claim_values = st.none() | st.booleans() | st.text(max_size=20) | st.sampled_from([ROOT, "true", "True", 1, "1"])


@settings(max_examples=400, deadline=None)
@given(
    claims=st.dictionaries(
        st.sampled_from(["email", "email_verified", "preferred_username", "sub", "name", "upn", "unique_name"]),
        claim_values,
    )
)
def test_no_claims_but_a_verified_email_reach_the_admin(roles, claims) -> None:
    user = signed_in_user(roles, claims)
    verified = claims.get("email_verified") is True and str(claims.get("email") or "").strip().lower() == ROOT
    assert (user.role == "admin") == verified

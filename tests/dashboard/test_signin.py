"""Sign-in end to end: a real OIDC provider on 127.0.0.1 (oidc-provider-mock), the app, and Chromium.

A signed-out visitor sees only the sign-in page; each role, once signed in, sees and may do exactly what
its permissions allow (activation for managers, exports for analysts, promotion and the audit log for admins).
"""

from __future__ import annotations

import json
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.browser import (
    CHROMIUM,
    INSTALL_HINT,
    ROOT,
    chromium,
    free_port,
    streamlit_server,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=INSTALL_HINT)]

USERS = {
    "mia@example.com": {"role": "marketer", "groups": []},
    "max@example.com": {"role": "manager", "groups": ["managers"]},
    "ann@example.com": {"role": "analyst", "groups": []},
    "root@example.com": {"role": "admin", "groups": []},
}


def _put_user(issuer: str, sub: str, groups: list[str], claims: dict[str, object] | None = None) -> None:
    """The provider's user `sub`, by default with `sub` as its verified e-mail address."""
    claims = {
        "email": sub,
        "email_verified": True,
        "name": sub.split("@")[0].title(),
        "groups": groups,
        **(claims or {}),
    }
    body = json.dumps(claims).encode()
    request = urllib.request.Request(
        f"{issuer}/users/{urllib.parse.quote(sub)}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


IMPOSTORS = {
    "eve@example.com": {"email": "root@example.com", "email_verified": False},
    "mallory@example.com": {"email": None, "email_verified": None, "preferred_username": "root@example.com"},
}


@pytest.fixture(scope="module")
def app(scored_home):
    import oidc_provider_mock  # here, not at the top: it takes 0.4 s to import, and every test run collects this file

    with oidc_provider_mock.run_server_in_thread() as provider, tempfile.TemporaryDirectory() as home:
        issuer = f"http://localhost:{provider.server_port}"
        for email, spec in USERS.items():
            _put_user(issuer, email, spec["groups"])
        for sub, claims in IMPOSTORS.items():  # subjects that claim the admin's address unverified
            _put_user(issuer, sub, [], claims)
        port = free_port()
        secrets = Path(home) / ".streamlit" / "secrets.toml"
        secrets.parent.mkdir()
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "a-test-cookie-secret-that-is-long-enough"\n'
            'client_id = "churn-dashboard"\nclient_secret = "test-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        )
        env = {
            "CHURN_HOME": str(scored_home.home),
            "HOME": home,
            "CHURN_ROLE_MARKETER": "mia@example.com",
            "CHURN_ROLE_MANAGER": "group:managers",
            "CHURN_ROLE_ANALYST": "ann@example.com",
            "CHURN_ROLE_ADMIN": "root@example.com",
        }
        with streamlit_server(ROOT / "dashboard" / "app.py", env, port=port) as (url, _):
            yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _sign_in(browser, url: str, email: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.goto(url)
    wait_until_idle(tab)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_placeholder("sub").fill(email)
    tab.get_by_role("button", name="Authorize").click()
    tab.wait_for_url(f"{url}/**")
    wait_until_idle(tab)
    return context, tab


def test_signed_out_visitor_sees_only_the_sign_in_page(app, browser) -> None:
    context = browser.new_context()
    tab = context.new_page()
    for path in ("", "/profile", "/model_health", "/activation"):
        tab.goto(app + path)
        wait_until_idle(tab)
        assert tab.get_by_role("button", name="Sign in").count() == 1
        assert tab.locator('[data-testid="stSidebarNav"]').count() == 0
        assert "At-risk evaluators" not in tab.content()
    context.close()


@pytest.mark.parametrize("email", list(USERS))
def test_each_role_sees_and_does_what_it_may(app, browser, email) -> None:
    role = USERS[email]["role"]
    context, tab = _sign_in(browser, app, email)
    try:
        tab.get_by_text("At-risk evaluators").first.wait_for(timeout=30_000)
        sidebar = tab.locator('[data-testid="stSidebar"]').inner_text()
        assert role in sidebar and "Sign out" in sidebar
        nav = tab.locator('[data-testid="stSidebarNav"]').inner_text()
        assert ("Activation" in nav) == (role in ("manager", "admin"))
        export = tab.get_by_text("Export this list")
        if role in ("analyst", "admin"):
            export.first.click()  # the panel reruns the page to draw its buttons
            wait_until_idle(tab)
            tab.get_by_role("button", name="Download CSV").wait_for(timeout=60_000)
        else:
            assert export.count() == 0 and tab.get_by_role("button", name="Download CSV").count() == 0
            assert tab.get_by_text("Exports are for analysts and admins").count() == 1
        tab.goto(app + "/model_health")
        wait_until_idle(tab)
        assert (tab.get_by_role("tab", name="Admin").count() > 0) == (role == "admin")
        (ROOT / "screenshots").mkdir(exist_ok=True)
        tab.screenshot(path=str(ROOT / "screenshots" / f"signed-in-{role}.png"), full_page=False)
    finally:
        context.close()


@pytest.mark.parametrize("sub", list(IMPOSTORS))
def test_an_unverified_claim_to_the_admins_address_gets_no_access(app, browser, sub) -> None:
    context, tab = _sign_in(browser, app, sub)
    try:
        tab.get_by_text("No access yet").wait_for(timeout=30_000)
        assert "At-risk evaluators" not in tab.content() and tab.get_by_role("tab", name="Admin").count() == 0
    finally:
        context.close()

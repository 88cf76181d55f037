"""Adversarial secrets files: sign_in reads every file Streamlit reads, as Streamlit merges them, and anything it
cannot use -- missing keys, wrong types, broken TOML, unreadable files -- is MISCONFIGURED, never open mode."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_core.access.roles import SignIn, auth_problem, is_loopback, sign_in

PROVIDER = {
    "client_id": "churn",
    "client_secret": "s3cret",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}
VALID = {"redirect_uri": "https://churn.example.com/oauth2callback", "cookie_secret": "long-random", **PROVIDER}


def toml(auth: dict) -> str:
    lines = ["[auth]"] + [f'{k} = "{v}"' for k, v in auth.items() if isinstance(v, str)]
    for name, section in ((k, v) for k, v in auth.items() if isinstance(v, dict)):
        lines += [f"[auth.{name}]"] + [f'{k} = "{v}"' for k, v in section.items()]
    return "\n".join(lines) + "\n"


def write(folder: Path, **files: str | bytes) -> list[Path]:
    paths = []
    for name, content in files.items():
        path = folder / f"{name}.toml"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[auth\n", "is not valid TOML"),
        ('auth = "yes"\n', "must be a table"),
        ("auth = 1\n", "must be a table ([auth]), not int"),
        ("auth = [1, 2]\n", "must be a table ([auth]), not list"),
        ("[auth]\n", "lacks redirect_uri, cookie_secret, client_id"),
        (toml({**VALID, "client_secret": ""}), "lacks client_secret"),
        (toml({**VALID, "redirect_uri": "https://churn.example.com/"}), "must end with /oauth2callback"),
        (toml({k: v for k, v in VALID.items() if k not in PROVIDER} | {"google": PROVIDER}), "lacks client_id"),
        (b"[auth]\nclient_id = '\xff'\n", "is not UTF-8"),
        ("[auth]\nredirect_uri = 1\n", "lacks redirect_uri"),
        ('[auth]\ndefault = "x"\n', "[auth.default] must be a table"),
    ],
)
def test_what_cannot_work_is_misconfigured(tmp_path, content, problem) -> None:
    state = sign_in(write(tmp_path, secrets=content))
    assert state.mode is SignIn.MISCONFIGURED and problem in state.problem, state
    assert state.mode.required


def test_only_no_auth_anywhere_is_open(tmp_path) -> None:
    assert sign_in([tmp_path / "absent.toml"]).mode is SignIn.OFF
    assert sign_in(write(tmp_path, empty="")).mode is SignIn.OFF
    assert sign_in(write(tmp_path, other='[connections]\nurl = "x"\n')).mode is SignIn.OFF
    assert sign_in(write(tmp_path, ok=toml(VALID))).mode is SignIn.READY
    assert (
        sign_in(
            write(tmp_path, ok=toml({**{k: VALID[k] for k in ("redirect_uri", "cookie_secret")}, "default": PROVIDER}))
        ).mode
        is SignIn.READY
    )


def test_one_broken_file_spoils_every_other(tmp_path) -> None:
    """Finding 1: a valid project file and a broken home file: Streamlit then has no secrets at all."""
    home, project = write(tmp_path, home="[auth\n", project=toml(VALID))
    state = sign_in([home, project])
    assert state.mode is SignIn.MISCONFIGURED and str(home) in state.problem


def test_files_merge_as_streamlit_merges_them(tmp_path) -> None:
    """Later files replace whole top-level tables: a partial [auth] in the project hides a complete one at home."""
    home, project = write(tmp_path, home=toml(VALID), project='[auth]\ncookie_secret = "x"\n')
    assert sign_in([home, project]).mode is SignIn.MISCONFIGURED
    assert sign_in([project, home]).mode is SignIn.READY


def test_unreadable_paths_are_misconfigured(tmp_path) -> None:
    folder_named_toml = tmp_path / "secrets.toml"
    folder_named_toml.mkdir()
    assert "cannot be read" in sign_in([folder_named_toml]).problem
    assert "neither a .toml file nor a folder" in sign_in([tmp_path / "secrets.txt"]).problem
    kube = tmp_path / "kube"
    (kube / "auth").mkdir(parents=True)
    (kube / "auth" / "redirect_uri").write_text("x")
    (kube / "stray").write_text("x")
    assert "not a folder" in sign_in([kube]).problem


def test_kubernetes_secret_folders_are_read_like_streamlit(tmp_path) -> None:
    kube = tmp_path / "kube"
    (kube / "auth").mkdir(parents=True)
    for key, value in VALID.items():
        (kube / "auth" / key).write_text(value + "\n")
    assert sign_in([kube]).mode is SignIn.READY


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*VALID, "default"]), inner, max_size=5)
    ),
    max_leaves=8,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(auth=toml_values)
def test_any_auth_value_is_ready_only_when_complete(auth) -> None:
    problem = auth_problem(auth)
    complete = isinstance(auth, dict) and not problem
    if complete:
        provider = auth.get("default", auth)
        assert all(isinstance(auth[k], str) and auth[k].strip() for k in ("redirect_uri", "cookie_secret"))
        assert all(isinstance(provider[k], str) and provider[k].strip() for k in PROVIDER)
    else:
        assert problem


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(text=st.binary(max_size=80) | st.text(max_size=80).map(str.encode))
def test_any_file_content_is_off_only_without_auth(tmp_path, text) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(text)
    state = sign_in([path])
    try:
        # read as Streamlit reads it: open(path, encoding="utf-8"), so with universal newlines
        parsed = tomllib.loads(text.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        assert state.mode is SignIn.MISCONFIGURED
        return
    assert (state.mode is SignIn.OFF) == ("auth" not in parsed)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        (None, False),
        ("192.0.2.7", False),
        ("churn.example.com", False),
        ("localhost.example.com", False),
        ("unix:///tmp/s.sock", False),
    ],
)
def test_what_counts_as_loopback(host, loopback) -> None:
    assert is_loopback(host) is loopback

"""The dashboard's pages, registered explicitly (st.navigation turns off pages/ auto-discovery).

Every page answers at /<url_path>. Streamlit serves the default page only at the root, so /at_risk is a hidden
page that sends the visitor there with the same query parameters (a bookmarked or shared link keeps working).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from churn_core.access.roles import User

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    section: str
    permission: str = "browse"


PAGES: tuple[PageSpec, ...] = (
    PageSpec("at_risk", "At-risk evaluators", ":material/crisis_alert:", "at_risk", "Marketing"),
    PageSpec("profile", "Evaluator profile", ":material/person_search:", "profile", "Marketing"),
    PageSpec("channels", "Channels and content", ":material/campaign:", "channels", "Marketing"),
    PageSpec("activation", "Activation", ":material/trending_up:", "activation", "Managers", "activation"),
    PageSpec("drivers", "Drivers", ":material/insights:", "drivers", "Analysts"),
    PageSpec("model_health", "Model health", ":material/monitor_heart:", "model_health", "Analysts"),
)
DEFAULT = "at_risk"
HOME = "home"  # the default page's own url_path: Streamlit serves it at the root and matches pages by url_path


def page(name: str) -> st.Page:
    """The st.Page of pages/<name>.py (the same object shape st.navigation and st.switch_page expect)."""
    spec = next(p for p in PAGES if p.file == name)
    default = spec.file == DEFAULT
    return st.Page(
        ROOT / "pages" / f"{spec.file}.py",
        title=spec.title,
        icon=spec.icon,
        url_path=HOME if default else spec.url_path,
        default=default,
    )


def _to_default() -> None:
    st.switch_page(page(DEFAULT), query_params={k: st.query_params.get_all(k) for k in st.query_params})


def _default_address() -> st.Page:
    """/<url_path> of the default page: a hidden page that opens the default page with the same parameters."""
    spec = next(p for p in PAGES if p.file == DEFAULT)
    return st.Page(_to_default, title=spec.title, url_path=spec.url_path, visibility="hidden")


def sections(user: User) -> dict[str, list[st.Page]]:
    """The pages this user's role may open, by section (and the default page's address)."""
    out: dict[str, list[st.Page]] = {}
    for spec in PAGES:
        if not user.can(spec.permission):
            continue
        out.setdefault(spec.section, []).append(page(spec.file))
        if spec.file == DEFAULT:
            out[spec.section].append(_default_address())
    return out

"""The dashboard's pages, registered explicitly (st.navigation turns off pages/ auto-discovery)."""

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


def page(name: str) -> st.Page:
    """The st.Page of pages/<name>.py (the same object shape st.navigation and st.switch_page expect)."""
    spec = next(p for p in PAGES if p.file == name)
    return st.Page(
        ROOT / "pages" / f"{spec.file}.py",
        title=spec.title,
        icon=spec.icon,
        url_path=spec.url_path,
        default=spec.file == DEFAULT,
    )


def sections(user: User) -> dict[str, list[st.Page]]:
    """The pages this user's role may open, by section."""
    out: dict[str, list[st.Page]] = {}
    for spec in PAGES:
        if not user.can(spec.permission):
            continue
        out.setdefault(spec.section, []).append(page(spec.file))
    return out

"""Every response carries a Content-Security-Policy; the dashboard needs nothing inline, /docs gets its own.

The browser side (the signed-in dashboard raising no violation) is ``browser/test_dashboard_csp.py``.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from gasguard.web.app import CONTENT_SECURITY_POLICY, STATIC_DIR
from gasguard.web.testing import ApiHarness


def _directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            parsed[name] = values
    return parsed


@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/static/style.css", "/api/v1/health", "/api/v1/zones", "/nope"]
)
def test_every_response_carries_the_policy(api: ApiHarness, path: str) -> None:
    response = api.client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_policy_allows_nothing_inline_and_no_framing() -> None:
    policy = _directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY


def test_the_dashboard_has_no_inline_script_style_or_handler() -> None:
    """What the policy would block, looked for in the files (the browser test confirms it in use)."""
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", index), "inline <script> in index.html"
    assert "<style" not in index
    assert not re.search(r"\sstyle=", index)
    assert not re.search(r"\son[a-z]+=", index), "inline event handler in index.html"
    for script in [STATIC_DIR / "app.js", *(STATIC_DIR / "js").rglob("*.js")]:
        code = script.read_text(encoding="utf-8")
        for forbidden in ("innerHTML", "insertAdjacentHTML", "outerHTML", "eval(", "new Function", "style="):
            assert forbidden not in code, f"{script.name} uses {forbidden}"


def test_the_api_docs_get_a_policy_that_lets_exactly_their_own_inline_script_run(api: ApiHarness) -> None:
    response = api.client.get("/docs")
    assert response.status_code == 200
    policy = _directives(response.headers["Content-Security-Policy"])
    assert "https://cdn.jsdelivr.net" in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert inline, "Swagger UI starts from an inline script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    redoc = api.client.get("/redoc")
    assert redoc.status_code == 200
    assert "https://cdn.jsdelivr.net" in _directives(redoc.headers["Content-Security-Policy"])["script-src"]

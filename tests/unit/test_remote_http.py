"""The remote engine's HTTP edge: what settings become, proxies, and failures in words."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sc2_lsp.config import EngineSettings, resolve
from sc2_lsp.engine.remote.http import RETRIED, RemoteError, connection, failure, status_error

URL = "https://gpu-box.corp:8000"
KEY = "sk-do-not-print-me"


def settings(**fields: Any) -> EngineSettings:
    return EngineSettings(kind="openai", url=URL, **fields)


def test_the_key_comes_from_the_named_variable_and_is_never_shown() -> None:
    made = connection(settings(api_key_env="TEAM_KEY"), "abc123", {"TEAM_KEY": KEY})
    assert made.headers["Authorization"] == f"Bearer {KEY}"
    assert made.headers["X-Session-ID"] == "abc123"
    assert KEY not in repr(made)


def test_a_named_variable_that_is_not_set_is_a_clear_error() -> None:
    with pytest.raises(RemoteError) as raised:
        connection(settings(api_key_env="TEAM_KEY"), "", {})
    assert raised.value.kind == "config" and "TEAM_KEY, which is not set" in str(raised.value)


def test_settings_refuse_credentials() -> None:
    _, errors = resolve(
        {
            "engine": {
                "url": "https://me:secret@gpu-box",
                "headers": {"Authorization": "Bearer secret"},
            }
        }
    )
    assert len(errors) == 2 and all("apiKeyEnv" in error for error in errors)
    assert not any("secret" in error for error in errors)


def test_custom_headers_and_no_affinity_header() -> None:
    made = connection(settings(headers={"X-Team": "ml"}, affinity_header=""), "abc", {})
    assert made.headers["X-Team"] == "ml" and "X-Session-ID" not in made.headers


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://proxy:3128"),
        ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}, "http://lower:1"),
        ({"ALL_PROXY": "socks5://s:1080"}, "socks5://s:1080"),
        ({"HTTP_PROXY": "http://proxy:3128"}, None),  # that one is for http:// URLs
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "corp"}, None),
        ({"HTTPS_PROXY": "http://proxy:3128", "no_proxy": ".corp:8000"}, None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "*"}, None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "box.corp"}, "http://proxy:3128"),
    ],
)
def test_the_standard_proxy_variables_for_this_url(
    environ: dict[str, str], expected: str | None
) -> None:
    assert connection(settings(), "", environ).proxy == expected


def test_tls_settings() -> None:
    assert connection(settings(tls_verify=False), "", {}).verify is False
    with pytest.raises(RemoteError) as raised:
        connection(settings(ca_bundle="/nonexistent/ca.pem"), "", {})
    assert raised.value.kind == "config" and "engine.caBundle" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (
            401,
            {"error": {"message": "Invalid API Key", "code": 401}},
            "auth",
            "refused the API key",
        ),
        (403, {"detail": "Forbidden"}, "auth", "HTTP 403: Forbidden"),
        (429, {"message": "too many requests"}, "busy", "is busy (HTTP 429"),
        (503, {"error": {"message": "Loading model"}}, "server", "HTTP 503: Loading model"),
        (
            400,
            {"object": "error", "message": "prompt too long", "code": 400},
            "refused",
            "prompt too long",
        ),
        (404, "Not Found", "refused", "HTTP 404: Not Found"),
    ],
)
def test_http_errors_in_words(status: int, body: object, kind: str, words: str) -> None:
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(status, text=str(body))
    )
    error = status_error(response, URL)
    assert error.kind == kind and words in str(error) and URL in str(error)
    assert (kind in RETRIED) == (status in (429, 503))


def test_retry_after_is_honoured() -> None:
    response = httpx.Response(429, headers={"Retry-After": "7"})
    assert status_error(response, URL).retry_after == 7.0


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "unreachable"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed"), "tls"),
        (httpx.ConnectTimeout("timed out"), "unreachable"),
        (httpx.ReadTimeout("timed out"), "timeout"),
        (httpx.RemoteProtocolError("peer closed connection"), "unreachable"),
    ],
)
def test_transport_failures_in_words(error: httpx.HTTPError, kind: str) -> None:
    found = failure(error, URL)
    assert found.kind == kind and URL in str(found)
    if kind == "tls":
        assert "engine.caBundle" in str(found)


def test_the_affinity_id_is_stable_per_workspace_and_names_no_one() -> None:
    from pathlib import Path

    from sc2_lsp.engine.backends import affinity_id

    here = affinity_id([Path("/home/ada/project")])
    assert here == affinity_id([Path("/home/ada/project")])
    assert here != affinity_id([Path("/home/ada/other")])
    assert "ada" not in here and "project" not in here and len(here) == 24

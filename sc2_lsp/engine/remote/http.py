"""HTTP to a completion server: the client settings make, server-sent events, failures in words.

Owns `Connection` (URL, headers with the key read from the environment, timeouts, TLS and the
proxy for this one URL), the `httpx.AsyncClient` built from it, streaming a server-sent-event
response as JSON objects, and `RemoteError`: every way a request can fail, classified into
a `kind` the engine acts on and a message meant for the user. Neither the key nor any request
header ever reaches a message or a log.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from time import perf_counter, time
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from sc2_lsp.config import EngineSettings

KEEPALIVE_S = 4.0
"""Below llama-server's 5 s keep-alive, so a pooled connection is never one it is closing."""

ErrorKind = Literal["unreachable", "timeout", "busy", "server", "auth", "tls", "refused", "config"]
RETRIED: frozenset[ErrorKind] = frozenset({"unreachable", "timeout", "busy", "server"})
"""Failures that pass: the engine backs off and tries again. The others need a settings change."""


class RemoteError(Exception):
    """A request failed; `str(error)` is a sentence for the user."""

    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything needed to reach the server, resolved from settings and the environment."""

    url: str
    headers: Mapping[str, str] = field(repr=False)  # the key is in here: never print them
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 30.0
    verify: ssl.SSLContext | bool = True
    proxy: str | None = None

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers=dict(self.headers),
            timeout=httpx.Timeout(self.read_timeout_s, connect=self.connect_timeout_s),
            limits=httpx.Limits(max_keepalive_connections=2, keepalive_expiry=KEEPALIVE_S),
            verify=self.verify,
            proxy=self.proxy,
            trust_env=False,  # no .netrc, no proxy for anything but this URL
        )


def connection(
    settings: EngineSettings, affinity: str, environ: Mapping[str, str] | None = None
) -> Connection:
    """The `Connection` settings describe; RemoteError("config") when they cannot work."""
    env = os.environ if environ is None else environ
    if not settings.url:
        raise RemoteError("config", f"engine.kind is {settings.kind!r} but engine.url is not set")
    url = settings.url.rstrip("/")
    headers = {"User-Agent": "sc2-lsp", **settings.headers}
    if settings.affinity_header and affinity:
        headers[settings.affinity_header] = affinity
    if settings.api_key_env:
        key = env.get(settings.api_key_env, "").strip()
        if not key:
            raise RemoteError(
                "config",
                f"engine.apiKeyEnv names {settings.api_key_env}, which is not set in sc2-lsp's "
                "environment (set it where the editor starts sc2-lsp)",
            )
        headers["Authorization"] = f"Bearer {key}"
    return Connection(
        url,
        headers,
        settings.connect_timeout_ms / 1000,
        settings.read_timeout_ms / 1000,
        _verify(settings),
        _proxy_for(url, env),
    )


def _verify(settings: EngineSettings) -> ssl.SSLContext | bool:
    if not settings.tls_verify:
        return False
    if settings.ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=os.path.expanduser(settings.ca_bundle))
    except (OSError, ssl.SSLError) as error:
        raise RemoteError(
            "config", f"engine.caBundle {settings.ca_bundle} cannot be used: {error}"
        ) from error


def _proxy_for(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy the standard variables name for `url` (`NO_PROXY` honoured), if any."""
    variables = {name.lower(): value for name, value in env.items() if value.strip()}
    variables |= {name: value for name, value in env.items() if name.islower() and value.strip()}
    parts = urlsplit(url)
    if _bypassed((parts.hostname or "").lower(), variables.get("no_proxy", "")):
        return None
    return variables.get(f"{parts.scheme}_proxy") or variables.get("all_proxy")


def _bypassed(host: str, no_proxy: str) -> bool:
    """`NO_PROXY` as curl reads it: `*`, or hosts and domains (`.corp`, `corp`), ports ignored."""
    for entry in no_proxy.lower().split(","):
        name = entry.strip()
        if name.count(":") == 1:
            name = name.split(":", 1)[0]
        domain = name.lstrip("*.")
        if name == "*" or (domain and (host == domain or host.endswith("." + domain))):
            return True
    return False


async def get_json(client: httpx.AsyncClient, path: str) -> Any:
    try:
        response = await client.get(path)
    except httpx.HTTPError as error:
        raise failure(error, str(client.base_url)) from error
    return _json(response, str(client.base_url))


async def post_json(client: httpx.AsyncClient, path: str, body: Mapping[str, Any]) -> Any:
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as error:
        raise failure(error, str(client.base_url)) from error
    return _json(response, str(client.base_url))


async def events(
    client: httpx.AsyncClient, path: str, body: Mapping[str, Any], waited: list[float]
) -> AsyncGenerator[dict[str, Any], None]:
    """POST `body` and yield each server-sent event's JSON object until the response ends.

    Leaving the iteration early closes the connection: that is how a generation is cancelled.
    `waited[0]` grows by the seconds spent waiting for the server (the rest is ours).
    """
    url = str(client.base_url)
    started = perf_counter()
    try:
        async with client.stream("POST", path, json=body) as response:
            if response.status_code >= 400:
                await response.aread()
                raise status_error(response, url)
            lines = response.aiter_lines()
            while True:
                try:
                    line = await anext(lines)
                except StopAsyncIteration:
                    return
                finally:
                    waited[0] += perf_counter() - started
                data = line[5:].strip() if line.startswith("data:") else ""
                if data and data != "[DONE]":  # after [DONE], read on to the end of the
                    yield _decode(data, url)  # response, so its connection can be reused
                elif line.startswith("error:"):
                    raise RemoteError(
                        "server", f"{url} failed mid-answer: {line[6:].strip()[:200]}"
                    )
                started = perf_counter()
    except httpx.HTTPError as error:
        raise failure(error, url) from error


def _json(response: httpx.Response, url: str) -> Any:
    if response.status_code >= 400:
        raise status_error(response, url)
    try:
        return response.json()
    except ValueError as error:
        raise RemoteError("refused", f"{url} answered something that is not JSON") from error


def _decode(data: str, url: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError as error:
        raise RemoteError("refused", f"{url} streamed something that is not JSON") from error
    if not isinstance(event, dict):
        raise RemoteError("refused", f"{url} streamed a JSON {type(event).__name__}, not an object")
    if "error" in event and not event.get("choices"):
        raise RemoteError("server", f"{url} failed mid-answer: {_message(event)}")
    return event


def status_error(response: httpx.Response, url: str) -> RemoteError:
    """The RemoteError an HTTP error status stands for."""
    status = response.status_code
    try:
        detail = _message(response.json())
    except ValueError:
        detail = response.text.strip()[:200]
    said = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return RemoteError("auth", f"{url} refused the API key ({said})")
    if status == 429:
        return RemoteError("busy", f"{url} is busy ({said})", _retry_after(response))
    if status >= 500:
        return RemoteError("server", f"{url} failed ({said})", _retry_after(response))
    return RemoteError("refused", f"{url} refused the request ({said})")


def _message(payload: object) -> str:
    """The human part of an error body: OpenAI/llama-server, SGLang and FastAPI shapes."""
    if isinstance(payload, dict):
        error = payload.get("error")
        for candidate in (error, payload):
            if isinstance(candidate, dict):
                for key in ("message", "detail"):
                    if isinstance(candidate.get(key), str):
                        return str(candidate[key])[:200]
        if isinstance(error, str):
            return error[:200]
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def failure(error: httpx.HTTPError, url: str) -> RemoteError:
    """The RemoteError a transport failure stands for."""
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectError) and _is_tls(error):
        return RemoteError(
            "tls",
            f"TLS with {url} failed ({reason}); for a private CA set engine.caBundle to its "
            "PEM file",
        )
    if isinstance(error, httpx.ConnectTimeout):
        return RemoteError("unreachable", f"{url} did not accept a connection in time")
    if isinstance(error, httpx.TimeoutException):
        return RemoteError("timeout", f"{url} stopped answering (read timeout)")
    if isinstance(error, httpx.ProxyError):
        return RemoteError("unreachable", f"the proxy for {url} failed ({reason})")
    if isinstance(error, httpx.ConnectError):
        return RemoteError("unreachable", f"cannot reach {url} ({reason})")
    return RemoteError("unreachable", f"the connection to {url} broke ({reason})")


def _is_tls(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE" in str(seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False

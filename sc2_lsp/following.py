"""Following a remote generation while the user types along its output, as Continue and twinny do.

A keystroke normally cancels the generation in flight. On a remote engine that throws away a
round trip and shared GPU time exactly when the user is typing what it is producing. So while
what was typed since it started agrees with what has streamed in, the `Stream` is kept: the
request for the new cursor waits for it to end and is answered by the typed-ahead cache, which
the stream's suggestion fills. A keystroke that does not type along cancels it as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sc2_lsp.engine import CancelToken, ShouldStop
from sc2_lsp.prompting import Request

TAIL_CHARS = 64
"""Text either side of the cursor that must be unchanged for a request to type along."""


@dataclass(slots=True)
class Stream:
    """A generation that may be followed: where it started and what has streamed in."""

    uri: str
    offset: int
    before: str
    after: str
    token: CancelToken
    ended: asyncio.Future[None]
    """Resolved once the generation is over and its suggestion, if any, is cached."""
    text: str = ""
    orphaned: bool = False
    """Its own request is gone (superseded or cancelled): only a follower still wants it."""

    @classmethod
    def start(cls, request: Request, token: CancelToken) -> Stream:
        text, offset = request.snapshot.text, request.cursor.offset
        return cls(
            request.snapshot.uri,
            offset,
            text[max(0, offset - TAIL_CHARS) : offset],
            text[offset : offset + TAIL_CHARS],
            token,
            asyncio.get_running_loop().create_future(),
        )

    def watching(self, should_stop: ShouldStop) -> ShouldStop:
        """`should_stop`, noting the text so far (remote engines call it here, per event)."""
        return _Watching(self, should_stop)

    def typed_along(self, request: Request) -> bool:
        """`request` is this stream's state with text typed at its cursor that agrees with the
        output so far (as far as either goes)."""
        text, offset = request.snapshot.text, request.cursor.offset
        if request.snapshot.uri != self.uri or offset <= self.offset or self.ended.done():
            return False
        start = self.offset - len(self.before)
        if text[start : self.offset] != self.before:
            return False
        if text[offset : offset + len(self.after)] != self.after:
            return False
        typed, streamed = text[self.offset : offset], self.text
        # Nothing seen yet (the prompt is still being read, or the engine is not here): cancel.
        return bool(streamed) and (streamed.startswith(typed) or typed.startswith(streamed))

    def end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


class _Watching:
    """A `should_stop` that notes the text on the way; pickled (for an engine process, e.g. the
    local fallback of a remote engine) it is the plain `should_stop`, and notes nothing."""

    def __init__(self, stream: Stream, should_stop: ShouldStop) -> None:
        self.stream = stream
        self.should_stop = should_stop

    def __call__(self, text: str) -> bool:
        self.stream.text = text
        return self.should_stop(text)

    def __reduce__(self) -> tuple[Callable[[ShouldStop], ShouldStop], tuple[ShouldStop]]:
        return _itself, (self.should_stop,)


def _itself(should_stop: ShouldStop) -> ShouldStop:
    return should_stop


def supersede(
    stream: Stream | None, latest: dict[str, CancelToken], request: Request, token: CancelToken
) -> Stream | None:
    """Cancel what `request` makes stale and make `token` its document's latest; the stream it
    types along, if any (then that stream's own request is stale, not the stream)."""
    uri = request.snapshot.uri
    followed = stream if stream is not None and stream.typed_along(request) else None
    if followed is not None:
        followed.orphaned = True
    elif stream is not None:
        stream.token.cancel()  # a keystroke that does not type along
    previous = latest.get(uri)
    if previous is not None and (followed is None or previous is not followed.token):
        previous.cancel()
    latest[uri] = token
    return followed

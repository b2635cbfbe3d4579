"""A hostile Datashare: the fake (fake.py) wrapped to misbehave the ways a real server might.

Each behaviour is one that held a run forever, exhausted memory or leaked a secret before the
client learnt to stop it (issue 14): endless cursors, totals that lie or move, a body
trickled a byte at a time, a small gzip page that inflates to gigabytes, a record nested
100,000 levels deep, a token or secret echoed back in a body, a header or a cursor, and a
token that cannot be sent in a header. The fake answers first, so everything that is not
hostile (auth, paging, records) stays the fake's; this module only bends its answers.
Serve it with ``fake.serve(HostileDatashare(...))`` (``tls=`` for a self-signed server).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from functools import cache
from urllib.parse import parse_qs, urlencode

import httpx
import msgspec

from .fake import PREFIX, FakeDatashare

_ECHOES = ("error_body", "header", "cursor", "token_error")


class HostileDatashare:
    """`fake`, with the misbehaviours asked for on the pages of `resource`.

    :param endless: "same" (page 1's records again) or "new" (fresh IDs each page): every
        page of `resource` sends a new `next_cursor`, forever.
    :param total: what `meta.total` says on `resource`'s pages: an int, None (not sent), or
        "drift" (the true total plus the page number, so it changes on every page).
    :param delay: seconds each page of `resource` waits before answering.
    :param trickle: seconds between bytes of each page of `resource` (a slow body);
        with `endless_body`, the body never ends.
    :param gzip_bomb: bytes of padding, gzip-compressed, after `resource`'s first page.
    :param nested: levels of nested arrays put into the last record of each page of
        `resource`, under a key the client ignores.
    :param echo: where the server repeats a secret back: "error_body" (a 403 whose
        `permission` is the token), "header" (every answer carries the token in a header),
        "cursor" (`next_cursor` is the token), "token_error" (a 401 on the token call whose
        `error` is the client secret).
    :param token: the access token the token call hands out, in place of the fake's.
    """

    def __init__(
        self,
        fake: FakeDatashare,
        *,
        resource: str = "students",
        endless: str | None = None,
        total: int | str | None = "true",
        delay: float = 0.0,
        trickle: float | None = None,
        endless_body: bool = False,
        gzip_bomb: int | None = None,
        nested: int | None = None,
        echo: str | None = None,
        token: str | None = None,
    ) -> None:
        if echo is not None and echo not in _ECHOES:
            raise ValueError(f"unknown echo {echo!r}; one of {_ECHOES}")
        self.fake = fake
        self.resource = resource
        self.endless = endless
        self.total = total
        self.delay = delay
        self.trickle = trickle
        self.endless_body = endless_body
        self.gzip_bomb = gzip_bomb
        self.nested = nested
        self.echo = echo
        self.token = token
        self.pages = 0  # pages of `resource` served, for tests that count them

    def warm(self, limit: int = 500) -> None:
        """Compress the gzip bomb now, so that serving it costs the run being measured nothing.

        The bomb holds the fake's first page of `resource` (of `limit` records, the client's
        page_limit), asked of the fake in-process.
        """
        if not self.gzip_bomb:
            return
        with httpx.Client(transport=httpx.WSGITransport(app=self.fake)) as client:
            base = f"http://127.0.0.1{PREFIX}"
            token = client.post(
                f"{base}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.fake.client_id,
                    "client_secret": self.fake.client_secret,
                },
            ).json()["access_token"]
            page = client.get(
                f"{base}/v1/schools/{self.fake.school_id}/{self.resource}",
                params={"limit": limit},
                headers={"Authorization": f"Bearer {token}"},
            )
        _compressed(page.content, self.gzip_bomb)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        mine = path.startswith(f"{PREFIX}/v1/schools/") and path.endswith(f"/{self.resource}")
        if mine and self.endless:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            query.pop("cursor", None)  # the fake knows no endless cursor: always its page 1
            environ = {**environ, "QUERY_STRING": urlencode(query, doseq=True)}
        status, headers, body = self._ask_fake(environ)
        if path == f"{PREFIX}/oauth/token":
            status, body = self._token_answer(status, body)
        elif mine and status.startswith("200"):
            status, body = self._page_answer(body)
            if self.delay:
                time.sleep(self.delay)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        if self.echo == "header" and self.fake.issued_tokens:
            headers.append(("X-Echo", f"token={self.fake.issued_tokens[-1]}"))
        if mine and self.gzip_bomb and self.pages == 1:
            headers.append(("Content-Encoding", "gzip"))
            start_response(status, headers)
            return _bomb(body, self.gzip_bomb)
        if mine and self.trickle is not None:
            start_response(status, headers)
            return self._trickled(body)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _ask_fake(self, environ) -> tuple[str, list, bytes]:
        answer: dict = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers

        body = b"".join(self.fake(environ, start_response))
        return answer["status"], answer["headers"], body

    def _token_answer(self, status: str, body: bytes) -> tuple[str, bytes]:
        if self.echo == "token_error":
            return "401 Unauthorized", _encode({"error": f"bad secret {self.fake.client_secret}"})
        if self.token is not None and status.startswith("200"):
            answer = msgspec.json.decode(body)
            answer["access_token"] = self.token
            return status, _encode(answer)
        return status, body

    def _page_answer(self, body: bytes) -> tuple[str, bytes]:
        self.pages += 1
        page = msgspec.json.decode(body)
        token = self.fake.issued_tokens[-1] if self.fake.issued_tokens else ""
        if self.echo == "error_body":
            return "403 Forbidden", _encode(
                {"error": "permission_not_granted", "permission": f"granted to {token}"}
            )
        if self.endless == "new":
            page["data"] = [_renumbered(r, self.pages) for r in page["data"]]
        if self.endless:
            page["meta"]["next_cursor"] = f"endless-{self.pages}"
        if self.echo == "cursor":
            page["meta"]["next_cursor"] = token
        if self.total == "drift":
            page["meta"]["total"] += self.pages
        elif self.total != "true":
            page["meta"]["total"] = self.total
        if self.nested and page["data"]:
            *others, last = [_encode(r) for r in page["data"]]
            deep = b"[" * self.nested + b"]" * self.nested
            spliced = last[:-1] + b',"Extra":' + deep + b"}"
            records = b",".join([*others, spliced])
            rest = _encode({**page, "data": []})
            # splice by hand: encoding 100,000 levels would recurse as deep as decoding does
            return "200 OK", rest.replace(b'"data":[]', b'"data":[' + records + b"]", 1)
        return "200 OK", _encode(page)

    def _trickled(self, body: bytes) -> Iterator[bytes]:
        for i in range(len(body)):
            time.sleep(self.trickle)
            yield body[i : i + 1]
        while self.endless_body:
            time.sleep(self.trickle)
            yield b" "  # JSON may end in any amount of whitespace


def _renumbered(record: dict, page: int) -> dict:
    return {
        k: f"{v}-p{page}" if k.endswith("ID") and isinstance(v, str) else v
        for k, v in record.items()
    }


def _encode(value) -> bytes:
    return msgspec.json.encode(value)


def _bomb(body: bytes, padding: int) -> Iterator[bytes]:
    """`body` then `padding` spaces, gzip-compressed (about 1,000 to 1), in chunks."""
    yield from _compressed(body, padding)


@cache
def _compressed(body: bytes, padding: int) -> tuple[bytes, ...]:
    """Built once per size: a 1 GB bomb takes a second or two to compress."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    chunks = [compressor.compress(body)]
    block = b" " * (1 << 20)
    left = padding
    while left > 0:
        chunks.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    chunks.append(compressor.flush())
    return tuple(c for c in chunks if c)

"""The one place every cassette is scrubbed, for every connector: secrets and pupils' data
are filtered when a cassette is recorded, so they never reach the repository.

- Authorization headers and the token answer's `access_token` become `***`.
- The `client_secret` (and `client_id`) form fields become `***`.
- Personal fields in JSON bodies (the connector names them) become stable pseudonyms, so a
  cassette recorded against a real school holds no real names, emails, phones or birthdays.
- Every secret and token of the run being recorded (its HttpClient's redactor, see
  core/redaction.py) becomes `***` wherever the server put it: a URL, a header, a body.
- Loopback ports are pinned to one value, so a cassette recorded from a fake on a random port
  replays against any port.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable

import msgspec

from . import redaction

SCRUBBED = "***"
REPLAY_PORT = 8765
SECRET_PATTERNS = (
    re.compile(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"client_secret=(?!\*\*\*)[^&\"'\s]{6,}"),
    re.compile(r"\"access_token\"\s*:\s*\"(?!\*\*\*)[^\"]{6,}\""),
)
_LOOPBACK = re.compile(r"^(https?://)(127\.0\.0\.1|localhost)(:\d+)?")
_TWO = re.compile(r"(\s+(?:and|&)\s+)", re.IGNORECASE)


def find_secrets(text: str, known: Iterable[str] = ()) -> list[str]:
    """Every token- or secret-looking string in `text` (used by tests over cassettes).

    Patterns find what sits where a secret is expected; `known` (the run's secret and the
    tokens it was given) finds what a server echoed anywhere else, in any form it takes.
    """
    found = [m.group(0)[:24] for p in SECRET_PATTERNS for m in p.finditer(text)]
    redactor = redaction.Redactor(tuple(known))
    if redactor(text) != text:
        found.append("a known secret or token")
    return found


def pseudonym(value: str, kind: str) -> str:
    """A stable stand-in: the same input gives the same output, so links still join up."""
    if kind == "date":
        return "2000-01-01"
    digest = hashlib.blake2b(value.strip().casefold().encode(), digest_size=4).hexdigest()
    if kind == "email":
        return f"p{digest}@example.org"
    if kind == "phone":
        return "01632 960" + str(int(digest, 16) % 1000).zfill(3)
    # names: keep "A and B" shapes, which the Integris split rule depends on
    return "".join(
        part if _TWO.fullmatch(part) else f"N{digest}{i}"
        for i, part in enumerate(_TWO.split(value))
    )


def vcr(
    cassette_dir: str,
    *,
    record_mode: str = "none",
    personal: dict[str, str] | None = None,
):
    """A vcrpy VCR configured to scrub; `personal` maps JSON field name → date/email/phone/name."""
    import vcr as vcrpy

    # vcrpy logs every request and response it records, bodies included, before the filters
    # below run: at -vv that would print a token answer and pupils' records in full.
    logging.getLogger("vcr").setLevel(logging.WARNING)
    personal = personal or {}

    def request(req):
        req.uri = redaction.redact(_LOOPBACK.sub(rf"\g<1>127.0.0.1:{REPLAY_PORT}", req.uri))
        if req.body:
            req.body = _redacted(req.body)
        for name, value in list(req.headers.items()):
            req.headers[name] = redaction.redact(value) if isinstance(value, str) else value
        return req

    def response(resp):
        body = resp.get("body", {}).get("string")
        _learn_token(body)
        if body:
            resp["body"]["string"] = _redacted(scrub_body(body, personal))
        resp["headers"] = {
            name: [redaction.redact(v) if isinstance(v, str) else v for v in values]
            for name, values in resp.get("headers", {}).items()
        }
        return resp

    return vcrpy.VCR(
        cassette_library_dir=cassette_dir,
        record_mode=record_mode,
        filter_headers=[("authorization", SCRUBBED)],
        filter_post_data_parameters=[("client_secret", SCRUBBED), ("client_id", SCRUBBED)],
        before_record_request=request,
        before_record_response=response,
        decode_compressed_response=True,
        match_on=["method", "scheme", "host", "port", "path", "query"],
    )


def _learn_token(body: bytes | str | None) -> None:
    """A token answer is recorded before the client has read its token: tell the redactor,
    so a server that also echoes it in a header of that very answer is scrubbed too."""
    redactor = redaction.active()
    if redactor is None or not body:
        return
    try:
        data = msgspec.json.decode(body.encode() if isinstance(body, str) else body)
    except (msgspec.DecodeError, RecursionError):
        return
    if isinstance(data, dict) and isinstance(data.get("access_token"), str):
        redactor.add(data["access_token"])


def _redacted(body: bytes | str) -> bytes | str:
    """`body` with the recording run's secrets taken out, in the type it came in."""
    if isinstance(body, str):
        return redaction.redact(body)
    text = body.decode("utf-8", "surrogateescape")
    clean = redaction.redact(text)
    return body if clean == text else clean.encode("utf-8", "surrogateescape")


def scrub_body(body: bytes | str, personal: dict[str, str]) -> bytes | str:
    raw = body.encode() if isinstance(body, str) else body
    try:
        data = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return body  # not JSON (an error page), or too deep to walk: nothing structured
    if isinstance(data, dict) and "access_token" in data:
        data["access_token"] = SCRUBBED
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data["data"] = [_scrub_record(r, personal) for r in data["data"]]
    out = msgspec.json.encode(data)
    return out.decode() if isinstance(body, str) else out


def _scrub_record(record, personal: dict[str, str]):
    if not isinstance(record, dict):
        return record
    return {
        k: pseudonym(v, personal[k]) if k in personal and isinstance(v, str) and v.strip() else v
        for k, v in record.items()
    }


def cassette_files(folder: str) -> Iterable[str]:
    from pathlib import Path

    return sorted(str(p) for p in Path(folder).glob("**/*.yaml"))

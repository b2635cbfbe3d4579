"""The one place every cassette is scrubbed, for every connector: secrets and pupils' data
are filtered when a cassette is recorded, so they never reach the repository.

- Authorization headers and the token answer's `access_token` become `***`.
- The `client_secret` (and `client_id`) form fields become `***`.
- Personal fields in JSON bodies (the connector names them) become stable pseudonyms, so a
  cassette recorded against a real school holds no real names, emails, phones or birthdays.
- Every secret and token of the run being recorded (its HttpClient's redactor, see
  core/redaction.py) becomes `***` wherever the server put it: a URL, a header, a body.
- With `keep` (a recording against a real MIS), every other key of a record is dropped: a
  field the connector does not read is a field nobody has checked for personal data.
- Only the response's Content-Type header is kept (no cookies, no server names), and the
  request's Host and Cookie headers are dropped.
- Loopback ports, and with `base_url` a real MIS's address, become one replay address, so a
  cassette replays against `http://127.0.0.1:8765/api` whatever it was recorded from.

`vcr_config()` is that set of vcrpy options: pytest-recording's `vcr_config` fixture returns
it, and `vcr()` builds a plain VCR with it for recording scripts. vcrpy runs the same
filters again on every cassette it loads, so each of them leaves scrubbed text as it is.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable

import msgspec

from . import redaction

SCRUBBED = "***"
# vcrpy logs every request and response it records, bodies included, before the filters
# below run: at -vv that would print a token answer and pupils' records in full.
logging.getLogger("vcr").setLevel(logging.WARNING)

REPLAY_PORT = 8765
REPLAY_URL = f"http://127.0.0.1:{REPLAY_PORT}/api"  # where every cassette's requests point
SECRET_PATTERNS = (
    re.compile(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"client_secret=(?!\*\*\*)[^&\"'\s]{6,}"),
    re.compile(r"\"access_token\"\s*:\s*\"(?!\*\*\*)[^\"]{6,}\""),
)
_LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost)(:\d+)?")
_TWO = re.compile(r"(\s+(?:and|&)\s+)", re.IGNORECASE)
# what each pseudonym looks like: no real value does (no phone number starts 00000)
_STAND_IN = {
    "date": re.compile(r"2000-01-01"),
    "email": re.compile(r"p[0-9a-f]{8}@example\.org"),
    "phone": re.compile(r"00000 \d{6}"),
    "name": re.compile(r"N[0-9a-f]{8}\d+(?:\s+(?:and|&)\s+N[0-9a-f]{8}\d+)*", re.IGNORECASE),
}


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
    """A stable stand-in: the same input gives the same output, so links still join up.

    A stand-in is its own stand-in, so a cassette reads the same each time vcrpy loads it.
    """
    if _STAND_IN[kind].fullmatch(value):
        return value
    if kind == "date":
        return "2000-01-01"
    digest = hashlib.blake2b(value.strip().casefold().encode(), digest_size=4).hexdigest()
    if kind == "email":
        return f"p{digest}@example.org"
    if kind == "phone":
        return f"00000 {int(digest, 16) % 1_000_000:06d}"
    # names: keep "A and B" shapes, which the Integris split rule depends on
    return "".join(
        part if _TWO.fullmatch(part) else f"N{digest}{i}"
        for i, part in enumerate(_TWO.split(value))
    )


def vcr_config(
    *,
    personal: dict[str, str] | None = None,
    keep: frozenset[str] | None = None,
    base_url: str | None = None,
) -> dict:
    """vcrpy's options for a scrubbed cassette (`VCR(...)`, `use_cassette(...)`, or the
    `vcr_config` fixture of pytest-recording).

    :param personal: JSON field name → "date", "email", "phone" or "name" (a pseudonym each).
    :param keep: if given, the only record keys written; every other key is dropped.
    :param base_url: the address recorded from, written as the replay address instead.
    """
    personal = personal or {}
    base = base_url.rstrip("/") if base_url else None

    def request(req):
        if base and req.uri.startswith(base):
            req.uri = REPLAY_URL + req.uri[len(base) :]
        req.uri = redaction.redact(_LOOPBACK.sub(f"http://127.0.0.1:{REPLAY_PORT}", req.uri))
        if req.body:
            req.body = _redacted(req.body)
        for name, value in list(req.headers.items()):
            req.headers[name] = redaction.redact(value) if isinstance(value, str) else value
        return req

    def response(resp):
        headers = resp.get("headers", {})
        resp["headers"] = {k: v for k, v in headers.items() if k.lower() == "content-type"}
        body = resp.get("body", {}).get("string")
        _learn_token(body)
        if body:
            resp["body"]["string"] = _redacted(scrub_body(body, personal, keep))
        resp["headers"] = {
            name: [redaction.redact(v) if isinstance(v, str) else v for v in values]
            for name, values in resp["headers"].items()
        }
        return resp

    return {
        "filter_headers": [("authorization", SCRUBBED), ("host", None), ("cookie", None)],
        "filter_post_data_parameters": [("client_secret", SCRUBBED), ("client_id", SCRUBBED)],
        "before_record_request": request,
        "before_record_response": response,
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
    }


def vcr(cassette_dir: str, *, record_mode: str = "none", **scrub):
    """A vcrpy VCR that scrubs (`scrub` as for vcr_config), for recording scripts."""
    import vcr as vcrpy

    return vcrpy.VCR(
        cassette_library_dir=cassette_dir, record_mode=record_mode, **vcr_config(**scrub)
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


def scrub_body(
    body: bytes | str, personal: dict[str, str], keep: frozenset[str] | None = None
) -> bytes | str:
    raw = body.encode() if isinstance(body, str) else body
    try:
        data = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return body  # not JSON (an error page), or too deep to walk: nothing structured
    if isinstance(data, dict) and "access_token" in data:
        data["access_token"] = SCRUBBED
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data["data"] = [_scrub_record(r, personal, keep) for r in data["data"]]
    out = msgspec.json.encode(data)
    return out.decode() if isinstance(body, str) else out


def _scrub_record(record, personal: dict[str, str], keep: frozenset[str] | None):
    if not isinstance(record, dict):
        return record
    return {
        k: pseudonym(v, personal[k]) if k in personal and isinstance(v, str) and v.strip() else v
        for k, v in record.items()
        if keep is None or k in keep
    }


def cassette_files(folder: str) -> Iterable[str]:
    from pathlib import Path

    return sorted(str(p) for p in Path(folder).glob("**/*.yaml"))

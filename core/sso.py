"""SSO readiness: teachers and contacts whose email cannot match them at sign-in.

Single sign-on finds a person by the email their identity provider gives; that works only if
the MIS holds exactly one valid address for them and no one else has it. Syntax is judged by
email-validator (no DNS lookups: a check must not depend on the network).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict

SEVERAL = re.compile(r"[,;\s]")  # what separates addresses typed into one field
NOUNS = {"teachers": "teacher", "contacts": "contact"}


def problems(store, school: str) -> list[dict]:
    """One row per person with a problem: entity, id, email, problem; teachers first."""

    people = [
        (entity, r["id"], r["email"]) for entity in NOUNS for r in store.export(school, entity, {})
    ]
    holders: dict[str, list[str]] = defaultdict(list)
    for entity, rid, email in people:
        if email:
            holders[email.strip().casefold()].append(f"{NOUNS[entity]} {rid}")
    out = []
    for entity, rid, email in people:
        if not email:
            problem = "no email"
        elif email.count("@") > 1 and SEVERAL.search(email.strip()):
            problem = "several addresses in one field"
        else:
            problem = _invalid(email.strip())
            others = [h for h in holders[email.strip().casefold()] if h != f"{NOUNS[entity]} {rid}"]
            if problem is None and others:
                problem = f"shared with {', '.join(others)}"
        if problem:
            out.append({"entity": entity, "id": rid, "email": email, "problem": problem})
    return out


@functools.lru_cache(maxsize=4096)
def _invalid(email: str) -> str | None:
    """Why an address is not valid, or None; cached: families share addresses."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"not a valid address: {exc}"
    return None

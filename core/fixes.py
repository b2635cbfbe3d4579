"""What to fix in the MIS for each rule that leaves a record out: the worklist's last column.

One place for every rule's fix text. A rule is named `entity.rule` (`students.in-no-class`)
and recognised by the first reason core's rules give (core/rules.py); its text is a format
string over the record (`{id}`, `{fields}`, `{type}`, ...). Connectors word the texts for
their MIS through the `mis_sync_fix_texts` hook; core's own wording (below) is the default,
registered last, so a connector's or a school plugin's text for a rule wins.
"""

from __future__ import annotations

import re

from .hookspecs import hookimpl
from .rules import MERGED

# (entity or "*", rule, pattern of the reasons joined by "; ", core's fix text), first match wins
RULES: list[tuple[str, str, str, str]] = [
    ("*", "invalid", r"failed validation", "correct the record in the MIS: {detail}"),
    (
        "contacts",
        "duplicate-halves",
        re.escape(MERGED) + r"; .*both halves of combined contact (?P<combined>\S+)\)",
        'name both people of contact {combined} in the MIS (forenames like "Sam and Alex"):'
        " until then they are stored as one",
    ),
    ("contacts", "duplicate", re.escape(MERGED), "enter contact {id} once in the MIS: {detail}"),
    (
        "contact-links",
        "duplicate",
        re.escape(MERGED),
        "nothing to fix for the link itself: its contact is entered twice ({detail})",
    ),
    (
        "students",
        "in-no-class",
        r"in no (kept )?class",
        "put student {id} in a class that is synced (a class of a qualifying type, with a teacher)",
    ),
    (
        "teachers",
        "blank-name",
        r"(title|forename|surname) is blank",
        "add a {fields} in the MIS for teacher {id}",
    ),
    (
        "teachers",
        "teaches-no-class",
        r"teaches no (kept )?class",
        "give teacher {id} a class that is synced, or nothing to do if they teach none",
    ),
    (
        "contacts",
        "blank-name",
        r"(title|forename|surname) is blank",
        "add a {fields} in the MIS for contact {id}",
    ),
    (
        "contacts",
        "no-link",
        r"has no links|no kept link",
        "link contact {id} to a pupil who is synced, or nothing to do if they have none",
    ),
    (
        "contact-links",
        "student-not-kept",
        r"student not kept",
        "fix student {student} first (mis-sync left-out students --id {student})",
    ),
    (
        "contact-links",
        "contact-not-kept",
        r"contact not kept",
        "fix contact {contact} first (mis-sync left-out contacts --id {contact})",
    ),
    (
        "contact-links",
        "no-parental-responsibility",
        r"no parental responsibility",
        "record parental responsibility for contact {contact} of student {student} in the MIS"
        " if they have it (parental_responsibility_only is on)",
    ),
    (
        "*",
        "type",
        r'type "(?P<type>.*?)" does not qualify',
        'nothing to do unless {noun} {id} should be synced: type "{type}" is not, so change'
        " its type in the MIS if it should",
    ),
    (
        "*",
        "no-students",
        r"has no students",
        "add pupils to {noun} {id} in the MIS, or nothing to do if it is not in use",
    ),
    (
        "*",
        "no-kept-student",
        r"no kept student",
        "fix its pupils first: every one is left out (mis-sync explain {entity} {id})",
    ),
    ("classes", "no-teachers", r"has no teachers", "give class {id} a teacher in the MIS"),
    (
        "classes",
        "no-kept-teacher",
        r"no kept teacher",
        "fix its teachers first: every one is left out ({detail})",
    ),
]
OTHER = "other"  # a school plugin's own reason: no fix text of core's
OTHER_TEXT = "left out by a plugin of this school: {rule} (mis-sync explain {entity} {id})"
NOUNS = {
    "students": "student",
    "contacts": "contact",
    "contact-links": "link",
    "teachers": "teacher",
    "classes": "class",
    "groups": "group",
}


@hookimpl(trylast=True)
def mis_sync_fix_texts(register) -> None:
    for entity, rule, _, text in RULES:
        for name in NOUNS if entity == "*" else (entity,):
            register(f"{name}.{rule}", text)
    register(f"*.{OTHER}", OTHER_TEXT)


def texts(pm) -> dict[str, str]:
    """Every rule's fix text, the first registration of a rule winning (core's comes last)."""
    found: dict[str, str] = {}
    pm.hook.mis_sync_fix_texts(register=lambda rule, text: found.setdefault(rule, text))
    return found


def rule_of(entity: str, reasons: list[str]) -> tuple[str, dict[str, str]]:
    """The rule (`students.in-no-class`) that left a record out, and what its text may use."""
    chain = "; ".join(reasons)
    for ent, rule, pattern, _ in RULES:
        if ent in ("*", entity) and (match := re.match(f"(?:{pattern})(?:$|; )", chain)):
            values = {k: v for k, v in match.groupdict().items() if v is not None}
            if rule == "blank-name":
                blank = [m.group(1) for r in reasons if (m := re.fullmatch(pattern, r))]
                values["fields"] = " and ".join(blank)
            return f"{entity}.{rule}", values
    return f"*.{OTHER}", {}


def fix_for(found: dict[str, str], entity: str, rid: str, reasons: list[str]) -> str:
    """The fix text for one left-out record."""
    rule, values = rule_of(entity, reasons)
    student, _, contact = rid.partition(":")
    values = {
        "id": rid,
        "entity": entity,
        "noun": NOUNS.get(entity, entity),
        "rule": reasons[0] if reasons else "",
        "detail": "; ".join(reasons[1:]),
        "student": student,
        "contact": contact,
        **values,
    }
    text = found.get(rule) or found.get(f"*.{OTHER}", OTHER_TEXT)
    return text.format_map(_Keep(values))


class _Keep(dict):
    """A placeholder a text names but the record lacks stays as written, never an error."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def worklist(
    store,
    pm,
    school: str,
    *,
    entity: str | None = None,
    reason: str | None = None,
    rid: str | None = None,
) -> dict:
    """The left-out worklist of the school's latest successful run, each with its fix.

    :param reason: keep only records with a reason containing this text (any case).
    :param rid: keep only records of this MIS ID (store.queries.id_matches).
    """
    found = texts(pm)
    listing = store.left_out(school, entity=entity, rid=rid)
    records = []
    for r in listing["records"]:
        if reason and not any(reason.casefold() in x.casefold() for x in r["reasons"]):
            continue
        records.append(
            {
                **r,
                "reason": r["reasons"][0],
                "merged": r["reasons"][0] == MERGED,
                "fix": fix_for(found, r["entity"], r["id"], r["reasons"]),
            }
        )
    return {"school": school, "run": listing["run"], "records": records}


class _NoConnector:
    """Stands in for a connector that is not installed: core's and plugins' hooks only."""


def school_plugins(config, store, school: str):
    """The plugin manager that words a school's fix texts (and says its local fields): its
    connector's, from the config or its latest run; core's wording when it is not installed.
    Used by `mis-sync left-out` and the dashboard alike."""
    from .errors import ConfigError
    from .plugins import manager

    connector = config.schools.get(school, {}).get("connector") or store.connector_of(school)
    try:
        return manager(connector if isinstance(connector, str) else _NoConnector())
    except ConfigError:
        return manager(_NoConnector())

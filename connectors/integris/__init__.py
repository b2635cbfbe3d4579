"""The RM Integris connector: Datashare fetched, decoded and mapped; nothing else.

Registered under the entry point group `mis_sync.connectors` as `integris`.
"""

from __future__ import annotations

import os
from typing import Annotated

import msgspec

from mis_sync.core.config import Seconds, secret_from_env
from mis_sync.core.hookspecs import Demo, hookimpl
from mis_sync.core.http import HOST_IN_FLIGHT, SCHOOL_IN_FLIGHT, HttpClient
from mis_sync.core.limits import Limits

from .client import PAGE_LIMIT, Datashare
from .mapping import to_dataset

DEMO_SECRET_ENV = "MIS_SYNC_DEMO_DATASHARE_SECRET"


class IntegrisOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    base_url: str
    school_id: str
    client_id: str
    client_secret_env: str
    page_limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = PAGE_LIMIT
    timeout: Seconds = 30.0
    # requests at once: for this school's run, and to its host from every school together
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=6)] = SCHOOL_IN_FLIGHT
    host_max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=256)] = HOST_IN_FLIGHT
    host_max_per_second: Annotated[float, msgspec.Meta(gt=0)] | None = None  # None: no rate cap


@hookimpl
def mis_sync_options():
    return IntegrisOptions


@hookimpl
def mis_sync_demo():
    from .demo import DEMO_SCHOOL_ID, generate_school
    from .fake import BASE_URL_INPROCESS, FakeDatashare

    # The demo's secret is no secret: it only opens the in-process fake.
    os.environ.setdefault(DEMO_SECRET_ENV, "demo-secret")
    fake = FakeDatashare(
        generate_school(),
        school_id=DEMO_SCHOOL_ID,
        client_id="demo-client",
        client_secret=os.environ[DEMO_SECRET_ENV],
    )
    return Demo(
        options={
            "connector": "integris",
            "base_url": BASE_URL_INPROCESS,
            "school_id": DEMO_SCHOOL_ID,
            "client_id": "demo-client",
            "client_secret_env": DEMO_SECRET_ENV,
        },
        transport=fake.transport(),
    )


@hookimpl
def mis_sync_fetch(school, transport, progress):
    opts = school.options(IntegrisOptions)
    limits = school.options(Limits)
    secret = secret_from_env(school, opts.client_secret_env, "client_secret_env")
    with HttpClient(
        opts.base_url,
        transport=transport,
        timeout=opts.timeout,
        limits=limits,
        secrets=(secret,),
        max_in_flight=opts.max_in_flight,
        host_max_in_flight=opts.host_max_in_flight,
        host_max_per_second=opts.host_max_per_second,
    ) as http:
        source = Datashare(
            http,
            school_id=opts.school_id,
            client_id=opts.client_id,
            client_secret=secret,
            limit=opts.page_limit,
            limits=limits,
        )
        return source.fetch_all(progress)


@hookimpl
def mis_sync_map(raw):
    return to_dataset(raw)


@hookimpl
def mis_sync_fix_texts(register):
    """The worklist's fix texts in Integris's own words (its screens say pupil and staff)."""
    for rule, text in FIX_TEXTS.items():
        register(rule, text)


FIX_TEXTS = {
    "students.in-no-class": "put pupil {id} in a registration group or teaching set",
    "teachers.blank-name": "add a {fields} in the MIS for staff {id}",
    "teachers.teaches-no-class": (
        "make staff {id} a teacher of a registration group or teaching set, or nothing to do"
        " if they teach none"
    ),
    "classes.no-teachers": "set StaffID1 of registration group {id}, or a teacher of the set",
    "contact-links.no-parental-responsibility": (
        "tick Parental Responsibility for contact {contact} of pupil {student} if they have it"
        " (parental_responsibility_only is on)"
    ),
}

"""The RM Integris connector: Datashare fetched, decoded and mapped; nothing else.

Registered under the entry point group `mis_sync.connectors` as `integris`.
"""

from __future__ import annotations

import os
from typing import Annotated

import msgspec

from mis_sync.core.config import secret_from_env
from mis_sync.core.hookspecs import Demo, hookimpl
from mis_sync.core.http import HOST_IN_FLIGHT, SCHOOL_IN_FLIGHT, HttpClient

from .client import PAGE_LIMIT, Datashare
from .mapping import to_dataset

DEMO_SECRET_ENV = "MIS_SYNC_DEMO_DATASHARE_SECRET"


class IntegrisOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    base_url: str
    school_id: str
    client_id: str
    client_secret_env: str
    page_limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = PAGE_LIMIT
    timeout: float = 30.0
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
    secret = secret_from_env(school, opts.client_secret_env, "client_secret_env")
    http = HttpClient(
        opts.base_url,
        transport=transport,
        timeout=opts.timeout,
        secrets=(secret,),
        max_in_flight=opts.max_in_flight,
        host_max_in_flight=opts.host_max_in_flight,
        host_max_per_second=opts.host_max_per_second,
    )
    try:
        source = Datashare(
            http,
            school_id=opts.school_id,
            client_id=opts.client_id,
            client_secret=secret,
            limit=opts.page_limit,
        )
        return source.fetch_all(progress)
    finally:
        http.close()


@hookimpl
def mis_sync_map(raw):
    return to_dataset(raw)

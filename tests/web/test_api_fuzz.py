"""The JSON API's OpenAPI schema fuzzed with schemathesis: no generated input gets a 500.

Bounded (a few examples per operation, SQLite only) so the suite stays fast; the inputs are
logged in as an editor over the tiny school, so the handlers reach the store's queries.
"""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from mis_sync.core.config import Config
from mis_sync.core.web import create_app

from .conftest import PASSWORD

# the schema does not depend on the store: read it from an app over none
schema = schemathesis.openapi.from_dict(create_app(None, Config(), {}).openapi())
AUTH = {"Authorization": "Basic " + base64.b64encode(f"op:{PASSWORD}".encode()).decode()}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_gets_a_server_error(case, web):
    case.call_and_validate(app=web, headers=AUTH, checks=[not_a_server_error])

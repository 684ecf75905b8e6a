"""Property-based fuzzing of the whole REST API from its own OpenAPI schema: no input may cause a 5xx.

Runs in-process through the WSGI app, on the test database, as an administrator (the widest access),
so every operation is reached. The same check runs against a live server in CI (``.ci/schemathesis-live.sh``).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.factories import make_token, make_user

# Operations that would end the fuzzing session itself: signing out, revoking the token in use.
EXCLUDED = r"accounts/(logout|tokens/\{token_id\})"


@pytest.fixture
def admin_headers(db):
    admin = make_user(username="fuzzadmin", is_superuser=True)
    make_user(username="fuzzuser")
    return {"Authorization": f"Bearer {make_token(admin, scope='admin')}"}


def _load_schema():
    from databoard.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


schema = _load_schema()


@schema.exclude(path_regex=EXCLUDED).parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case, admin_headers):
    response = case.call_and_validate(headers=admin_headers, checks=[not_a_server_error])
    assert response.status_code < 500

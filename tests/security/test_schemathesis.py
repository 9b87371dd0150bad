"""Generated API inputs (issue 8, item 1): schemathesis reads `/api/schema/` from the WSGI
application and generates requests for every operation, as a token-authenticated officer who holds
the reception, specialist and leader roles (so writes are exercised), twice per operation: once
with every parameter generated, once with the path parameters of real objects (a dossier code, an
attachment id, a procedure code); then fewer of both as an anonymous caller (the 401s and the
public endpoints). Every response gets all four checks, on every operation, with no exclusion:
no server error, a documented status code, a documented content type, and a body that conforms
to the schema of its status code and content type."""

import itertools
from collections import Counter
from types import SimpleNamespace

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dossiers.attachments import add_attachment
from motcua.wsgi import application

from .conftest import all_rounder, token_for

EXAMPLES_PER_OPERATION = 30
ANONYMOUS_EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def summary(exc):
    """The failure's kind and the first lines that say what was received."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    keep = [line for line in lines if line.startswith(("- ST", "Received", "Documented", "Schema at", "curl"))]
    keep += [line for line in lines if " is not " in line or "is a required" in line][:2]
    return " | ".join(keep or lines[:3])[:500]


def real_path_parameters(operation, offices):
    names = {parameter.name for parameter in operation.path_parameters}
    values = {}
    if "code" in names:
        path = operation.path
        if path.startswith("/api/v1/dossiers/"):
            values["code"] = offices.own.dossier.code
        elif path.startswith("/api/v1/agencies/"):
            values["code"] = offices.own.agency.code
        elif path.startswith("/api/v1/fields/"):
            values["code"] = offices.own.procedure.field.code
        else:
            values["code"] = offices.own.procedure.code
    if "attachment_id" in names:
        values["attachment_id"] = offices.own.attachment.pk
    return values


def exercise(operation, path_parameters, caller, headers, examples, tally):
    """Send `examples` generated requests to `operation` as `caller`; every failure of any check is
    collected in `tally.failures` (so that one run reports them all), every status in `tally.statuses`."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(path_parameters=path_parameters or None))
    def run(case):
        tally.requests += 1
        response = case.call(headers=headers)
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            tally.failures.append(f"{case.operation.label} ({caller}): {summary(exc)}")

    run()


@pytest.fixture
def keep_test_connection():
    """The WSGI app is called directly (not through Django's test client), so, like the test client,
    stop request signals from closing the test's database connection (inside its transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_generated_requests_to_every_operation_get_no_server_error_and_match_the_schema(offices, keep_test_connection):
    officer = all_rounder(offices.own)
    offices.own.attachment = add_attachment(
        dossier=offices.own.dossier,
        uploaded_file=SimpleUploadedFile("to-khai.pdf", b"%PDF-1.4\n%%EOF\n"),
        actor=offices.own.reception,
    )
    headers = {"Authorization": f"Token {token_for(officer)}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = sorted(operation.label for operation in operations)
    assert len(labels) >= 15, labels
    assert "POST /api/v1/dossiers/" in labels and "GET /api/v1/lookup/" in labels

    callers = [("officer", headers, EXAMPLES_PER_OPERATION), ("anonymous", {}, ANONYMOUS_EXAMPLES_PER_OPERATION)]
    tally = SimpleNamespace(requests=0, statuses=Counter(), failures=[])
    for (caller, caller_headers, examples), operation in itertools.product(callers, operations):
        variants = [{}]
        if operation.path_parameters:
            variants.append(real_path_parameters(operation, offices))
        for path_parameters in variants:
            exercise(operation, path_parameters, caller, caller_headers, examples, tally)
    failures, statuses = tally.failures, tally.statuses
    print(
        f"\nschemathesis: {len(operations)} operations, {tally.requests} generated requests, {len(failures)} failures"
    )
    print("status codes:", ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())))
    assert tally.requests >= len(operations) * 20
    # The status and content-type checks saw both successes and refusals.
    assert all(statuses[code] for code in (200, 400, 401, 404)), statuses
    assert not failures, "\n".join(sorted(set(failures)))

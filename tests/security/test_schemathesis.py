"""Generated API inputs (issue 8, item 1): schemathesis reads `/api/schema/` from the WSGI
application and generates requests for every operation, as a token-authenticated officer who holds
the reception, specialist and leader roles (so writes are exercised), twice per operation: once
with every parameter generated, once with the path parameters of real objects (a dossier code, an
attachment id, a procedure code). Checks: no server error, and every response body conforms to
the schema of its status code. (Undocumented status codes, e.g. the catalogue's 404s, are listed
in docs/security-tests.md; they are not checked here.)"""

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
)

from dossiers.attachments import add_attachment
from motcua.wsgi import application

from .conftest import all_rounder, token_for

EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, response_schema_conformance]
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

    failures, counts = [], {}
    for operation in operations:
        variants = [{}]
        if operation.path_parameters:
            variants.append(real_path_parameters(operation, offices))
        for path_parameters in variants:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(path_parameters=path_parameters or None))
            def run(case):
                counts[case.operation.label] = counts.get(case.operation.label, 0) + 1
                response = case.call(headers=headers)
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (AssertionError, FailureGroup) as exc:  # collect every failure, report them all
                    failures.append(f"{case.operation.label}: {summary(exc)}")

            run()
    total = sum(counts.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} generated requests, {len(failures)} failures")
    assert total >= len(operations) * 10
    assert not failures, "\n".join(sorted(set(failures)))

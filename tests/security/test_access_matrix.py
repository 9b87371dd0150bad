"""Access-control matrix (issue 8, item 3), generated from the URL configuration.

Every URL pattern is walked (admin internals are skipped, the admin index is kept) and must have a
rule in `RULES`; a new endpoint without one fails `test_every_endpoint_is_classified`, so coverage
is automatic. Each endpoint is requested by each role (anonymous, citizen = logged in without any
membership, reception, specialist, leader, supervisor, admin = superuser) on an object of the
role's own agency and of another agency, with GET and, for write endpoints, POST.

A leak is: a 2xx response that contains the other agency's dossier code or applicant name; any
2xx on an officer-only endpoint for anonymous or citizen; anything but 404 for an officer asking
for a dossier (or its attachment, PDF, action) of an agency outside their scope (a 403 would
confirm that the code exists); a POST that changes the other agency's dossier.
"""

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dossiers.models import Dossier
from notifications.models import Notification

from .conftest import token_for

ROLES = ("anonymous", "citizen", "reception", "specialist", "leader", "supervisor", "admin")
OFFICER_ROLES = ("reception", "specialist", "leader", "supervisor")
# The department's officers (inter-agency routing): the own commune handed them a dossier and
# consulted them on another; "own" objects are the commune's, "other" the other commune's, which
# the department never received: everything of it must stay a 404 for them.
DEPT_ROLES = ("dept_reception", "dept_specialist", "dept_leader")

# Access kinds:
#   public   anyone; must never show a dossier's data
#   login    any logged-in user (their own data only)
#   officer  officers only (any membership or superuser)
#   staff    Django admin (is_staff)
#   auth     log-in / log-out / token endpoints (no dossier data)
# Objects: what fills the URL's parameters (own / other agency): dossier, attachment,
# notification, or "catalogue" (public catalogue rows) / None.


@dataclass(frozen=True)
class Rule:
    access: str
    obj: str | None = None
    post: bool = False
    # The endpoint calls an outside service (the national portal), unreachable from the test
    # client: its designed answer is then a 502 with a readable message, not a server error.
    upstream: bool = False


RULES = {
    # Project
    "admin:index": Rule("staff"),
    "set_language": Rule("public", post=True),
    "login": Rule("auth", post=True),
    "logout": Rule("auth", post=True),
    "healthz": Rule("public"),
    "schema": Rule("public"),
    "api-docs": Rule("public"),
    # Accounts (two-factor set-up and verification, for the logged-in user only)
    "accounts:two-factor": Rule("login"),
    "accounts:otp-verify": Rule("login"),
    # Catalogue (public)
    "procedures:home": Rule("public"),
    "procedures:list": Rule("public"),
    "procedures:detail": Rule("public", "catalogue"),
    "procedures:document-template": Rule("public", "catalogue"),
    "api-root": Rule("public"),
    "procedure-list": Rule("public"),
    "procedure-detail": Rule("public", "catalogue"),
    "procedure-due-date": Rule("public", "catalogue"),
    "agency-list": Rule("public"),
    "agency-detail": Rule("public", "catalogue"),
    "field-list": Rule("public"),
    "field-detail": Rule("public", "catalogue"),
    # Citizen lookup (public, code + PIN)
    "dossiers:lookup": Rule("public", "dossier"),
    "api-lookup": Rule("public", "dossier"),
    "api-token": Rule("auth", post=True),
    "api-logout": Rule("auth", post=True),
    # Officer workspace
    "dossiers:workspace": Rule("officer", "dossier"),
    "dossiers:receive": Rule("officer", post=True),
    "dossiers:procedure_suggest": Rule("officer"),
    "dossiers:approvals": Rule("officer"),
    "dossiers:detail": Rule("officer", "dossier"),
    "dossiers:receipt": Rule("officer", "dossier"),
    "dossiers:act": Rule("officer", "dossier", post=True),
    "dossiers:home": Rule("officer"),
    "dossiers:reissue_pin": Rule("officer", "dossier", post=True),
    "dossiers:pdf": Rule("officer", "dossier"),
    "dossiers:attachment": Rule("officer", "attachment"),
    "notifications:inbox": Rule("login"),
    "notifications:inbox_read_all": Rule("login", post=True),
    "notifications:inbox_read": Rule("login", "notification", post=True),
    # Dossier API
    "dossier-list": Rule("officer", "dossier", post=True),
    "dossier-detail": Rule("officer", "dossier"),
    "dossier-act": Rule("officer", "dossier", post=True),
    "dossier-attachments": Rule("officer", "dossier", post=True),
    "dossier-attachment": Rule("officer", "attachment"),
    "dossier-receipt": Rule("officer", "dossier"),
    # Inter-agency routing: the requests addressed to the officer's agency.
    "dossiers:consultations": Rule("officer"),
    # Signed results (docs/signing.md): the officers' copies and uploads are in scope; the public
    # verification (by its own code: here a dossier's code is tried) and the citizen's download
    # (a signed token: here a made-up one) never show a dossier without their credential.
    "dossier-result": Rule("officer", "dossier"),
    "signing:result_pdf": Rule("officer", "dossier"),
    "signing:preview": Rule("officer", "dossier"),
    "signing:upload": Rule("officer", "dossier", post=True),
    "signing:digitise": Rule("officer", "dossier", post=True),
    "signing:verify": Rule("public", "dossier", post=True),
    "signing:download": Rule("public"),
    # The signing service's sandbox (CSC API, its phone page and TSA; 404 unless SIGNING_CSC_SANDBOX).
    "signing-sandbox:phone": Rule("public"),
    "signing-sandbox:tsa": Rule("public"),
    # The national portal: the officers' sync failures and retry; the portal's webhook (signed);
    # the citizen's national-account sign-in, and "my dossiers", which need that sign-in (a Django
    # login is not one): without it they show nothing.
    "interop:failures": Rule("officer"),
    "interop:retry": Rule("officer", "dossier", post=True),
    "interop:webhook": Rule("public", post=True),
    "interop:citizen_sign_in": Rule("auth", upstream=True),
    "interop:citizen_callback": Rule("auth"),
    "interop:citizen_sign_out": Rule("auth", post=True),
    "interop:my_dossiers": Rule("public"),
    "interop:my_dossier": Rule("public", "dossier"),
    # Citizens' ratings: with code + PIN (a wrong PIN here), a signed link (a made-up one) or the
    # national-account session; the leaders' list is the officers'.
    "ratings:rate": Rule("public", "dossier", post=True),
    "ratings:link": Rule("public"),
    "ratings:citizen": Rule("public", "dossier", post=True),
    "ratings:attention": Rule("officer"),
    "api-ratings": Rule("public", "dossier", post=True),
    # The lobby kiosk (no login): the catalogue and the lookup with code + PIN.
    "kiosk:home": Rule("public"),
    "kiosk:field": Rule("public", "catalogue"),
    "kiosk:procedure": Rule("public", "catalogue"),
    "kiosk:lookup": Rule("public", "dossier", post=True),
}
# Statistics (dashboard and API) belong to officers; their names are matched by prefix so that the
# statistics helper's endpoints are covered whatever their final names. The sandboxes (the national
# portal's, the signing service's CSC API: development only) are public and hold no dossier.
PREFIX_RULES = {
    "stats:": Rule("officer"),
    "api-stats": Rule("officer"),
    "sandbox_dvcqg:": Rule("public"),
    "<unnamed sandbox/csc/": Rule("public"),
}


@dataclass
class Endpoint:
    name: str
    route: str
    params: tuple


def walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            space = ":".join(part for part in (namespace, entry.namespace) if part) or None
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), space)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            route = prefix + str(entry.pattern)
            yield Endpoint(name or f"<unnamed {route}>", route, tuple(entry.pattern.regex.groupindex))


def endpoints():
    """Every endpoint of the project except the admin's internals (its index is kept)."""
    found = {}
    for endpoint in walk(get_resolver().url_patterns):
        if endpoint.route.startswith("admin/") and endpoint.name != "admin:index":
            continue
        found.setdefault((endpoint.name, endpoint.params), endpoint)
    return list(found.values())


def rule_for(name):
    if name in RULES:
        return RULES[name]
    for prefix, rule in PREFIX_RULES.items():
        if name.startswith(prefix):
            return rule
    return None


def test_every_endpoint_is_classified():
    unclassified = sorted({f"{e.name} ({e.route})" for e in endpoints() if rule_for(e.name) is None})
    assert not unclassified, "unclassified endpoint(s), add a rule to RULES: " + ", ".join(unclassified)


def test_rules_name_only_existing_endpoints():
    """A stale rule would hide a renamed endpoint."""
    names = {e.name for e in endpoints()}
    assert not sorted(set(RULES) - names)


# --- The matrix ----------------------------------------------------------------------------------


def user_for(world, role):
    if role == "anonymous":
        return None
    if role == "citizen":
        return world.citizen
    if role == "admin":
        return world.admin
    if role in DEPT_ROLES:
        return getattr(world.dept, role.removeprefix("dept_"))
    return getattr(world.own, role)


def url_for(endpoint, office, rule):
    if endpoint.name.startswith("<unnamed "):
        assert not endpoint.params, endpoint.route  # an unnamed route cannot be reversed
        return "/" + endpoint.route
    kwargs = {}
    for param in endpoint.params:
        if param == "format":
            kwargs[param] = "json"
        elif param == "code" and rule.obj in ("dossier", "attachment"):
            kwargs[param] = office.dossier.code
        elif param == "code" and endpoint.name.startswith("agency"):
            kwargs[param] = office.agency.code
        elif param == "code" and endpoint.name.startswith(("field", "kiosk:field")):
            kwargs[param] = office.procedure.field.code
        elif param == "code":
            kwargs[param] = office.procedure.code
        elif param in ("attachment_id",) or (param == "pk" and rule.obj == "attachment"):
            kwargs[param] = office.attachment.pk
        elif param == "pk" and rule.obj == "notification":
            kwargs[param] = office.notification.pk
        elif param == "pk" and endpoint.name == "procedures:document-template":
            kwargs[param] = office.document.pk
        elif param in ("action", "action_name"):
            kwargs[param] = "request_supplement"
        elif param == "form":
            kwargs[param] = "receipt"
        elif param == "token":
            kwargs[param] = "made-up-token"
        elif param == "pk":
            kwargs[param] = 1
        else:
            raise AssertionError(f"no value for URL parameter {param!r} of {endpoint.name}")
    return reverse(endpoint.name, kwargs=kwargs)


def query_for(endpoint, office, method):
    """Query/body that makes the request meaningful (lookup with a guessed PIN, a due date...)."""
    if endpoint.name == "dossiers:lookup":
        return {"ma": office.dossier.code, "pin": "000000"}
    if endpoint.name == "api-lookup":
        return {"code": office.dossier.code, "pin": "000000"}
    if endpoint.name in ("kiosk:lookup", "ratings:rate"):
        return {"ma": office.dossier.code, "pin": "000000", "level": "satisfied"}
    if method == "post" and endpoint.name == "api-ratings":
        return {"code": office.dossier.code, "pin": "000000", "level": "satisfied"}
    if endpoint.name == "dossiers:workspace":
        return {"q": office.dossier.code}
    if endpoint.name == "procedure-due-date":
        return {"received_at": "2026-03-02T09:00:00+07:00"}
    if method == "post" and endpoint.name == "dossier-attachments":
        return {"file": SimpleUploadedFile("to-khai.pdf", b"%PDF-1.4\n%%EOF\n")}
    if method == "post" and endpoint.name in ("dossier-act", "dossiers:act"):
        return {"comment": "Kiểm tra", "missing_documents": "Giấy chứng sinh"}
    return {}


def secrets_of(office):
    secrets = (office.dossier.code, office.dossier.applicant_name, office.dossier.masked_applicant_name)
    handed = getattr(office, "handed", None)  # the own commune's dossier at the department
    return secrets + ((handed.code, handed.applicant_name) if handed else ())


def body_of(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def fingerprint(dossier):
    fresh = Dossier.objects.get(pk=dossier.pk)
    return (fresh.status, fresh.stage, fresh.events.count(), fresh.attachments.count(), fresh.updated_at)


@pytest.mark.slow
def test_access_matrix_has_no_leaks(client, world):
    client.raise_request_exception = False  # count server errors instead of stopping at the first
    other_before = fingerprint(world.other.dossier)
    leaks, errors, cells, statuses = [], [], 0, {}
    for endpoint in endpoints():
        rule = rule_for(endpoint.name)
        assert rule is not None, endpoint.name
        targets = ("own", "other") if rule.obj else ("none",)
        methods = ("get", "post") if rule.post else ("get",)
        for role in (*ROLES, *DEPT_ROLES):
            user = user_for(world, role)
            for target in targets:
                office = world.other if target == "other" else world.own
                for method in methods:
                    client.logout()
                    headers = {}
                    if user is not None:
                        client.force_login(user)
                        if endpoint.route.startswith("api/"):
                            headers["HTTP_AUTHORIZATION"] = f"Token {token_for(user)}"
                    url = url_for(endpoint, office, rule)
                    data = query_for(endpoint, office, method)
                    response = getattr(client, method)(url, data, **headers)
                    cells += 1
                    code = response.status_code
                    statuses[code] = statuses.get(code, 0) + 1
                    cell = f"{method.upper()} {url} as {role} on {target}: {code}"
                    if code >= 500 and not (rule.upstream and code == 502):
                        errors.append(cell)
                    ok = 200 <= code < 300
                    body = body_of(response) if ok else ""
                    if ok and role not in ("admin",) and any(s in body for s in secrets_of(world.other)):
                        leaks.append(f"{cell} shows the other agency's dossier")
                    if ok and role in ("anonymous", "citizen") and any(s in body for s in secrets_of(world.own)):
                        leaks.append(f"{cell} shows a dossier to a non-officer")
                    if ok and rule.access in ("officer", "staff") and role in ("anonymous", "citizen"):
                        leaks.append(f"{cell} officer-only endpoint answered a non-officer")
                    if ok and rule.access == "staff" and role != "admin":
                        leaks.append(f"{cell} admin answered a non-staff user")
                    if (
                        rule.access == "officer"
                        and rule.obj in ("dossier", "attachment")
                        and target == "other"
                        and role in (*OFFICER_ROLES, *DEPT_ROLES)
                        and set(endpoint.params) - {"format"}
                        and code not in (404, 405)  # 405: wrong method, answered before any lookup
                    ):
                        leaks.append(f"{cell} (another agency's dossier must be a 404)")
                    if rule.obj == "notification" and target == "other" and ok:
                        leaks.append(f"{cell} marked someone else's notification")
    client.logout()
    other = Dossier.objects.get(pk=world.other.dossier.pk)
    # The superuser sees and may attach to every dossier by design; nobody else may touch it.
    assert (other.status, other.stage) == other_before[:2], "a request changed the other agency's dossier"
    assert other.events.exclude(actor=world.admin).count() == other_before[2]
    assert other.attachments.exclude(uploaded_by=world.admin).count() == other_before[3]
    assert not Notification.objects.filter(pk=world.other.notification.pk, read_at__isnull=False).exists()
    print(f"\naccess matrix: {len(endpoints())} endpoints, {cells} cells, statuses {sorted(statuses.items())}")
    assert cells >= 300
    assert not errors, "server errors:\n" + "\n".join(errors)
    assert not leaks, "\n".join(leaks)


# --- Mass assignment -----------------------------------------------------------------------------

FORBIDDEN_FIELDS = {
    "status": 10,
    "stage": "closed",
    "code": "000.33.44.H56-260101-9999",
    "due_at": "2020-01-01T08:00:00+07:00",
    "received_at": "2020-01-01T08:00:00+07:00",
    "original_due_at": "2030-01-01T08:00:00+07:00",
    "finished_at": "2020-01-02T08:00:00+07:00",
    "supplement_requests": 0,
    "pin": "123456",
    "pin_hash": "0" * 64,
    "assignee": "0003344h56-chuyenvien",
}


def create_payload(world, **extra):
    return {
        "procedure": world.own.procedure.code,
        "applicant_name": "Hoàng Văn Gán",
        "channel": "in_person",
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("field", [*FORBIDDEN_FIELDS, "all at once"])
def test_mass_assignment_on_create_is_ignored(client, world, field):
    extra = FORBIDDEN_FIELDS if field == "all at once" else {field: FORBIDDEN_FIELDS[field]}
    token = f"Token {token_for(world.own.reception)}"
    response = client.post(
        reverse("dossier-list"),
        create_payload(world, **extra),
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
    )
    assert response.status_code == 201, response.content
    created = Dossier.objects.get(code=response.json()["code"])
    assert created.code.startswith(world.own.agency.code + "-")
    assert created.status == 2 and created.stage == "intake"
    assert created.due_at > created.received_at
    assert created.original_due_at is None and created.finished_at is None and created.assignee is None
    assert created.created_by == world.own.reception
    assert not created.check_pin("123456") or response.json()["pin"] == "123456"
    assert created.pin_hash != "0" * 64


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {"receiving_agency": "000.33.44.H56"},
        {"competent_agency": "000.33.44.H56"},
        {"created_by": "quantri", "receiving_agency": "000.33.44.H56"},
    ],
    ids=["receiving agency", "competent agency", "creator and agency"],
)
def test_mass_assignment_of_another_agency_is_refused(client, world, extra):
    token = f"Token {token_for(world.own.reception)}"
    before = Dossier.objects.count()
    response = client.post(
        reverse("dossier-list"),
        create_payload(world, **extra),
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
    )
    assert response.status_code in (400, 403), response.content
    assert "detail" in response.json() or set(response.json()) & set(extra)
    assert Dossier.objects.count() == before


@pytest.mark.django_db
def test_created_by_in_the_body_is_ignored(client, world):
    token = f"Token {token_for(world.own.reception)}"
    response = client.post(
        reverse("dossier-list"),
        create_payload(world, created_by=world.admin.pk),
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
    )
    assert response.status_code == 201
    assert Dossier.objects.get(code=response.json()["code"]).created_by == world.own.reception


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_dossiers_cannot_be_edited_or_deleted_through_the_api(client, world, method):
    token = f"Token {token_for(world.own.leader)}"
    code = world.own.dossier.code
    before = fingerprint(world.own.dossier)
    urls = [
        reverse("dossier-detail", args=[code]),
        reverse("dossier-list"),
        reverse("dossier-act", args=[code, "approve"]),
        reverse("dossier-attachments", args=[code]),
    ]
    for url in urls:
        response = getattr(client, method)(
            url, {"status": 10, "due_at": "2030-01-01"}, content_type="application/json", HTTP_AUTHORIZATION=token
        )
        assert response.status_code == 405, (url, response.status_code)
    assert fingerprint(world.own.dossier) == before


@pytest.mark.django_db
def test_action_body_cannot_set_status_or_deadlines(client, world):
    """Only the parameters the action declares are used; status/due_at/assignee in the body are ignored."""
    world.own.act(world.own.dossier, "propose_result", result="Giấy khai sinh")
    token = f"Token {token_for(world.own.leader)}"
    response = client.post(
        reverse("dossier-act", args=[world.own.dossier.code, "approve"]),
        {"status": 3, "stage": "closed", "due_at": "2020-01-01", "assignee": "quantri", "code": "X"},
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
    )
    assert response.status_code == 200
    fresh = Dossier.objects.get(pk=world.own.dossier.pk)
    assert (fresh.status, fresh.stage, fresh.code) == (9, "return", world.own.dossier.code)
    assert fresh.due_at == world.own.dossier.due_at
    assert fresh.assignee == world.own.specialist

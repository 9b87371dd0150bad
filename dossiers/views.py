"""The officer workspace (/can-bo/): queues, reception at the desk, the dossier page with its
actions, the leader's phone approval screens and attachment downloads.

Every view: check the officer → parse → one selector or service call → render. Scoping is
always `Dossier.objects.visible_to(user)` (outside it: 404); transitions always go through
`dossiers.services.dossier_act` (409 on conflicts, 400 on bad input, 403 without the role).
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import roles as permissions
from procedures.deadlines import compute_due_at
from procedures.models import Agency, Procedure, Role
from procedures.search import QueryTooLong, search_procedures
from procedures.text import sort_key

from . import attachments, pdf, periods, selectors, workflow
from .forms import ProcedurePickForm, QueueForm, ReceptionForm
from .models import Attachment, Channel, Consultation, Dossier, Stage, Status
from .services import (
    ActionInputError,
    WorkflowConflict,
    available_actions,
    default_competent_agency,
    dossier_act,
    dossier_receive,
    dossier_reissue_pin,
    may_reissue_pin,
    procedure_snapshot,
)

SUGGEST_LIMIT = 10
# Queue tabs show at most this many, then "99+".
COUNT_CAP = 99
QUEUE_LABELS = {
    "waiting": gettext_lazy("Waiting for me"),
    "mine": gettext_lazy("Assigned to me"),
    "due_soon": gettext_lazy("Due soon"),
    "overdue": gettext_lazy("Overdue"),
    "supplement": gettext_lazy("Awaiting supplement"),
}
# The inputs each action parameter reads from the POST body.
ACTION_PARAMS = (
    "assignee",
    "missing_documents",
    "result",
    "new_due_at",
    "collected_by",
    "method",
    "result_form",
    "documents",
    # Inter-agency routing (docs/workflow.md): consult, answer_consultation, request_obligation,
    # record_obligation.
    "agencies",
    "days",
    "consultation",
    "tax_agency",
    "amount",
    "notice_number",
)
# Parameters sent as several values (checkboxes, a multiple select).
LIST_PARAMS = ("documents", "agencies")


def forbidden(request, message=None):
    return render(
        request,
        "dossiers/forbidden.html",
        {
            "message": message or _("This page is for officers of the one-stop desk."),
            "is_officer": permissions.is_officer(request.user),
        },
        status=403,
    )


def officer_required(view):
    """login_required, then a friendly 403 page for users without any officer role."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not permissions.is_officer(request.user):
            return forbidden(request)
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            return forbidden(request, str(exc) or None)

    return login_required(wrapper)


def workspace_context(request, **extra):
    """What every workspace page's sub-navigation needs (no query: roles are cached)."""
    roles = {role for role, _agency in permissions.user_roles(request.user)}
    return {
        "is_reception": Role.RECEPTION in roles,
        "is_leader": Role.LEADER in roles,
        # Specialists and leaders answer other agencies' requests for an opinion.
        "may_answer": bool(roles & {Role.SPECIALIST, Role.LEADER}),
        "may_see_stats": request.user.is_superuser or bool(roles & {Role.LEADER, Role.SUPERVISOR}),
        **extra,
    }


def visible_dossier(request, code, *related):
    queryset = Dossier.objects.visible_to(request.user).select_related(*selectors.LIST_RELATED, *related)
    return get_object_or_404(queryset.with_code(code))


# --- Queues ---------------------------------------------------------------------------------


def queue_tabs(current, counts):
    return [
        {"name": name, "label": QUEUE_LABELS[name], "count": counts.get(name), "current": name == current}
        for name in selectors.QUEUES
    ]


@require_safe
@officer_required
def home(request):
    """Where an officer lands after login (LOGIN_REDIRECT_URL): a leader on the dossiers waiting
    for their approval (the job they do on a phone), everyone else on their queues."""
    if permissions.agencies_with_role(request.user, Role.LEADER):
        return redirect("dossiers:approvals")
    return redirect("dossiers:workspace")


@require_safe
@officer_required
def workspace(request):
    form = QueueForm(request.GET)
    now = timezone.now()
    context = workspace_context(
        request,
        form=form,
        queue=selectors.DEFAULT_QUEUE,
        queue_label=QUEUE_LABELS[selectors.DEFAULT_QUEUE],
        tabs=queue_tabs(selectors.DEFAULT_QUEUE, {}),
        count_cap=COUNT_CAP,
        dossiers=[],
        next_cursor=None,
    )
    if not form.is_valid():
        return render(request, "dossiers/workspace.html", context, status=400)
    data = form.cleaned_data
    name = data["q"]
    if data["code"]:
        return search_results(request, form, context)
    context.update(queue=name, queue_label=QUEUE_LABELS[name], tabs=queue_tabs(name, {}))
    try:
        items, next_cursor = selectors.keyset_page(selectors.queue(request.user, name, now), data["after"])
    except selectors.InvalidCursor:
        form.add_error("after", _("This page link is not valid any more: start again from the first page."))
        return render(request, "dossiers/workspace.html", context, status=400)
    for dossier in items:
        dossier.overdue_now = dossier.is_overdue(now)
    context.update(
        dossiers=items,
        next_cursor=next_cursor,
        tabs=queue_tabs(name, selectors.cached_queue_counts(request.user, now, cap=COUNT_CAP)),
        is_later_page=bool(data["after"]),
    )
    return render(request, "dossiers/workspace.html", context)


@require_safe
@officer_required
def consultations(request):
    """Requests of other agencies for our opinion (or the tax office's notice) on their dossiers:
    the open ones by deadline, overdue flagged, then the latest answered (inter-agency routing)."""
    now = timezone.now()
    waiting = list(selectors.consultations_for(request.user)[:100])
    for consultation in waiting:
        consultation.overdue_now = consultation.due_at < now
    context = workspace_context(
        request, waiting=waiting, answered=list(selectors.consultations_for(request.user, answered=True))
    )
    return render(request, "dossiers/consultations.html", context)


# The search shows at most this many dossiers (newest first); the officer types more to narrow it.
SEARCH_LIMIT = 50


def search_results(request, form, context):
    """The workspace's search box: a full code opens that dossier; otherwise the dossiers in the
    officer's scope whose applicant name, phone, ID number or code match (`Dossier.objects.search`)."""
    text = form.cleaned_data["code"]
    visible = Dossier.objects.visible_to(request.user)
    exact = visible.with_code(text.replace(" ", "").upper()).first() if " " not in text.strip() else None
    if exact is not None:
        return redirect(exact)
    matches = visible.search(text).select_related(*selectors.LIST_RELATED).order_by("-submitted_at", "-id")
    found = list(matches[: SEARCH_LIMIT + 1])
    now = timezone.now()
    for dossier in found[:SEARCH_LIMIT]:
        dossier.overdue_now = dossier.is_overdue(now)
    context.update(
        searching=True,
        search_text=text,
        dossiers=found[:SEARCH_LIMIT],
        search_truncated=len(found) > SEARCH_LIMIT,
        search_limit=SEARCH_LIMIT,
    )
    return render(request, "dossiers/workspace.html", context)


@require_safe
@officer_required
def approvals(request):
    if not permissions.agencies_with_role(request.user, Role.LEADER):
        return forbidden(request, _("Only leaders approve dossiers."))
    try:
        items, next_cursor = selectors.keyset_page(selectors.approvals(request.user), request.GET.get("after"))
    except selectors.InvalidCursor:
        return render(
            request,
            "dossiers/approvals.html",
            workspace_context(request, dossiers=[], cursor_error=True),
            status=400,
        )
    now = timezone.now()
    for dossier in items:
        dossier.overdue_now = dossier.is_overdue(now)
    context = workspace_context(request, dossiers=items, next_cursor=next_cursor, is_later_page="after" in request.GET)
    return render(request, "dossiers/approvals.html", context)


# --- Reception ------------------------------------------------------------------------------


def reception_desks(user):
    desks = Agency.objects.filter(pk__in=permissions.agencies_with_role(user, Role.RECEPTION))
    return sorted(desks, key=lambda agency: sort_key(agency.name))  # Vietnamese alphabetical order


def receivable_procedures(desks):
    """Published procedures implemented by one of the officer's reception desks."""
    implemented_here = Procedure.agencies.through.objects.filter(procedure=OuterRef("pk"), agency__in=desks)
    return Procedure.objects.published().filter(Exists(implemented_here))


def resolve_procedure(queryset, text):
    """A procedure from what the officer typed: a code, "code — name" (datalist) or a full name."""
    text = " ".join((text or "").split())
    if not text:
        return None
    code = text.split(" — ", 1)[0].split(" - ", 1)[0].strip()
    found = queryset.filter(code__iexact=code).first()
    if found is None:
        matches = list(queryset.filter(name__iexact=text)[:2])
        found = matches[0] if len(matches) == 1 else None
    return found


@require_safe
@officer_required
def procedure_suggest(request):
    """JSON list of {code, name, url} for the search-as-you-type box of the reception form."""
    desks = reception_desks(request.user)
    try:
        found = search_procedures(receivable_procedures(desks).only("code", "name"), request.GET.get("q", ""))
    except QueryTooLong:
        return JsonResponse({"error": _("The search text is too long.")}, status=400)
    if not request.GET.get("q", "").strip():
        found = found.order_by("name_sort", "code")
    receive_url = reverse("dossiers:receive")
    results = [
        {"code": p.code, "name": p.name, "url": f"{receive_url}?procedure={p.code}"} for p in found[:SUGGEST_LIMIT]
    ]
    return JsonResponse({"results": results})


@require_http_methods(["GET", "HEAD", "POST"])
@officer_required
def receive(request):
    desks = reception_desks(request.user)
    if not desks:
        return forbidden(request, _("Only reception officers receive dossiers."))
    procedures = receivable_procedures(desks)
    context = workspace_context(
        request, procedure_options=procedures.only("code", "name").order_by("name_sort", "code")
    )
    if request.method == "POST":
        return receive_post(request, desks, procedures, context)
    pick = ProcedurePickForm(request.GET or None)
    context["pick"] = pick
    if not request.GET:
        return render(request, "dossiers/receive.html", context)
    if not pick.is_valid():
        return render(request, "dossiers/receive.html", context, status=400)
    text = pick.cleaned_data["procedure"]
    procedure = resolve_procedure(procedures, text)
    if procedure is None:
        # No-JS path: the typed words are a search; one match is taken, several are offered.
        candidates = list(search_procedures(procedures, text)[:SUGGEST_LIMIT])
        if len(candidates) == 1:
            procedure = candidates[0]
        elif candidates:
            context["candidates"] = candidates
            return render(request, "dossiers/receive.html", context)
        else:
            pick.add_error("procedure", _("No procedure of your desk matches: type other words or the code."))
            return render(request, "dossiers/receive.html", context, status=400)
    documents = procedure_snapshot(procedure)["documents"]
    context.update(
        procedure=procedure,
        form=ReceptionForm(
            initial={"procedure": procedure.code},
            documents=documents,
            desks=desks,
            specialists=forwardable_specialists(procedure, desks),
        ),
        **reception_preview(procedure),
    )
    return render(request, "dossiers/receive.html", context)


def forwardable_specialists(procedure, desks):
    """The specialists an accepted dossier of `procedure` can be forwarded to from these desks
    (those of its competent agency: `services.default_competent_agency`)."""
    implementing = list(procedure.agencies.all())
    agency_ids = {default_competent_agency(procedure, desk, implementing).pk for desk in desks}
    User = get_user_model()
    return list(
        User.objects.filter(is_active=True, memberships__role=Role.SPECIALIST, memberships__agency_id__in=agency_ids)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def reception_preview(procedure):
    """What the reception form shows before saving: the appointment date if accepted now (the page
    refreshes it from `GET /api/v1/procedures/<code>/due-date/`)."""
    return {
        "due_preview": compute_due_at(timezone.now(), procedure.processing_days, cutoff=procedure.same_day_cutoff),
        "due_preview_url": reverse("procedure-due-date", args=[procedure.code]),
    }


def receive_post(request, desks, procedures, context):
    pick = ProcedurePickForm({"procedure": request.POST.get("procedure", "")})
    context["pick"] = pick
    procedure = resolve_procedure(procedures, pick.cleaned_data["procedure"]) if pick.is_valid() else None
    if procedure is None:
        if pick.is_valid():
            pick.add_error("procedure", _("Choose a procedure from the list (type its name or code)."))
        return render(request, "dossiers/receive.html", context, status=400)
    documents = procedure_snapshot(procedure)["documents"]
    specialists = forwardable_specialists(procedure, desks)
    form = ReceptionForm(request.POST, request.FILES, documents=documents, desks=desks, specialists=specialists)
    context.update(procedure=procedure, form=form, **reception_preview(procedure))
    if not form.is_valid():
        return render(request, "dossiers/receive.html", context, status=400)

    files = form.cleaned_data["attachments"]
    for uploaded in files:
        try:
            attachments.validate_upload(uploaded)
        except attachments.AttachmentRejected as exc:
            form.add_error("attachments", f"{uploaded.name}: {exc}")
        finally:
            uploaded.seek(0)
    if form.errors:
        return render(request, "dossiers/receive.html", context, status=400)

    data = form.cleaned_data
    desk = next((d for d in desks if d.pk == data.get("receiving_agency")), desks[0] if len(desks) == 1 else None)
    try:
        dossier, pin = dossier_receive(
            actor=request.user,
            procedure=procedure,
            files=files,
            intake_key=data.get("intake_key") or None,
            applicant_name=data["applicant_name"],
            applicant_id_number=data["applicant_id_number"],
            applicant_phone=data["applicant_phone"],
            applicant_email=data["applicant_email"],
            applicant_address=data["applicant_address"],
            channel=data["channel"],
            documents=form.received_documents(),
            note="" if form.wants_supplement else data["note"],
            receiving_agency=desk,
            missing_documents=form.missing_documents() if form.wants_supplement else None,
            return_method=data.get("return_method") or "",
            forward_to=None if form.wants_supplement else data.get("forward_to"),
        )
    except ActionInputError as exc:
        for field, errors in exc.errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return render(request, "dossiers/receive.html", context, status=400)
    except attachments.AttachmentRejected as exc:
        form.add_error("attachments", str(exc))
        return render(request, "dossiers/receive.html", context, status=400)
    if pin is None:
        # The same form came in again (a double click): the first submit created the dossier.
        messages.info(request, _("Dossier %(code)s was already received from this form.") % {"code": dossier.code})
        return redirect("dossiers:receipt", code=dossier.code)
    pdf.remember_pin(request, dossier.pin_key, pin)
    if form.wants_supplement:
        messages.warning(
            request,
            _("Dossier %(code)s logged as incomplete: give the applicant the supplement request.")
            % {"code": dossier.code},
        )
    elif dossier.assignee_id:
        messages.success(
            request,
            _("Dossier %(code)s is received and forwarded to %(name)s. Print the receipt for the applicant.")
            % {"code": dossier.code, "name": dossier.assignee.get_full_name() or dossier.assignee.get_username()},
        )
    else:
        messages.success(
            request, _("Dossier %(code)s is received. Print the receipt for the applicant.") % {"code": dossier.code}
        )
    return redirect("dossiers:receipt", code=dossier.code)


@require_safe
@officer_required
def receipt(request, code):
    dossier = visible_dossier(request, code)
    context = workspace_context(
        request,
        dossier=dossier,
        pin=pdf.recall_pin(request, dossier.pin_key),
        needs_supplement=dossier.status == Status.AWAITING_SUPPLEMENT,
    )
    return render(request, "dossiers/receipt.html", context)


# --- The dossier page and its actions -------------------------------------------------------


def specialists_of(dossier):
    """The specialists of the agency holding the dossier's step (the competent agency, or the
    department a step was handed to): the ones `workflow.resolve_assignee` accepts."""
    User = get_user_model()
    agency_id = dossier.handling_agency_id or dossier.competent_agency_id
    return list(
        User.objects.filter(is_active=True, memberships__role=Role.SPECIALIST, memberships__agency_id=agency_id)
        .distinct()
        .order_by("first_name", "username")
    )


def partner_agencies(dossier):
    """The agencies an officer may consult or ask for the financial obligation's notice: every
    active agency but the one holding the dossier, departments first."""
    holder = dossier.handling_agency_id or dossier.competent_agency_id
    return list(
        Agency.objects.active().exclude(pk=holder).order_by("level", "name").only("pk", "code", "name", "level")
    )


def open_requests(user, dossier, kind):
    """The open consultations of `kind` on `dossier` addressed to one of the user's agencies (the
    ones `answer_consultation` / `record_obligation` may answer), oldest deadline first."""
    agency_ids = sorted({agency_id for _role, agency_id in permissions.user_roles(user)})
    return list(
        workflow.open_consultations(dossier, kind, agency_ids)
        .select_related("agency", "requesting_agency")
        .order_by("due_at", "pk")
    )


def handover_target(dossier):
    """{agency, step} of the step a hand-over would give the dossier to, or None."""
    step = workflow.crossing(dossier)
    if step is None:
        return None
    index, agency_id = step
    agency = Agency.objects.filter(pk=agency_id).only("name").first()
    return {"agency": agency.name if agency else "", "step": periods.workflow_steps(dossier)[index]["name"]}


def action_forms(request, dossier, names, *, errors=None, failed=None):
    """The actions as the templates render them: spec, inputs and, after a failed POST, the
    submitted values and the errors of the action that failed."""
    specialists = partners = None
    rendered = []
    for name in names:
        spec = workflow.ACTIONS[name]
        item = {
            "name": name,
            "label": spec.label,
            "danger": spec.danger,
            "signed": spec.signed,
            "needs_comment": spec.needs_comment,
            "comment_label": spec.comment_label,
            "params": spec.params,
            "url": reverse("dossiers:act", args=[dossier.code, name]),
            "errors": {},
            "values": {},
        }
        if "assignee" in spec.params:
            if specialists is None:
                specialists = specialists_of(dossier)
            item["specialists"] = specialists
        if "agencies" in spec.params or "tax_agency" in spec.params:
            if partners is None:
                partners = partner_agencies(dossier)
            item["agencies"] = partners
        if "consultation" in spec.params:
            kind = Consultation.Kind.OBLIGATION if name == "record_obligation" else Consultation.Kind.OPINION
            item["requests"] = open_requests(request.user, dossier, kind)
        if "days" in spec.params:
            item["max_days"] = workflow.CONSULTATION_MAX_DAYS
            # A consultation names its period; the tax office's notice has a default one.
            item["default_days"] = "" if "agencies" in spec.params else workflow.OBLIGATION_NOTICE_DAYS
        if name == "hand_over":
            item["handover_to"] = handover_target(dossier)
        if name == failed:
            item["errors"] = errors or {}
            item["values"] = {key: request.POST.get(key, "") for key in ("comment", *ACTION_PARAMS)}
            for key in LIST_PARAMS:
                item["values"][key] = request.POST.getlist(key)
        if "documents" in spec.params:
            ticked = set(item["values"].get("documents") or ())
            item["documents"] = [
                {"index": index, "name": doc.get("name", ""), "checked": str(index) in ticked}
                for index, doc in enumerate(dossier.documents or [])
                if isinstance(doc, dict) and not doc.get("received")
            ]
        rendered.append(item)
    return rendered


def is_leader_approval(dossier, names):
    return dossier.stage == Stage.APPROVAL and "approve" in names and "send_back" in names


def decorate_events(events):
    """Display attributes for the timeline: a label, the extension dates as datetimes and the
    assigned specialist's full name (events store the login name: one query for all of them)."""
    usernames = {(event.data or {}).get("assignee") for event in events} - {None, ""}
    names = {}
    if usernames:
        User = get_user_model()
        names = {
            user.get_username(): user.get_full_name() or user.get_username()
            for user in User.objects.filter(username__in=usernames).only("username", "first_name", "last_name")
        }
    for event in events:
        assignee = (event.data or {}).get("assignee")
        event.assignee_name = names.get(assignee, assignee) if assignee else ""
        spec = workflow.event_spec(event.action)
        event.action_label = spec.history_label if spec else event.action
        event.new_due = parse_datetime(event.data.get("new_due_at") or "") if event.action == "extend" else None
        event.original_due = parse_datetime(event.data.get("original_due_at") or "") if event.new_due else None
    return events


def interagency_context(request, dossier, events, now):
    """The dossier page's inter-agency panel (docs/workflow.md "Inter-agency dossiers"): the step
    and agency holding the dossier, its hand-overs (giver → receiver, from the events), the
    consultations with their questions, deadlines and answers, and whether the officer's agency
    only follows the dossier (it handed it on, or was consulted) without a step to take."""
    steps = periods.workflow_steps(dossier)
    index = periods.current_step_index(dossier)
    step = steps[index] if index is not None and index < len(steps) else None
    consultations = list(
        dossier.consultations.select_related("agency", "requesting_agency", "answered_by").order_by(
            "requested_at", "pk"
        )
    )
    for consultation in consultations:
        consultation.overdue_now = consultation.answered_at is None and consultation.due_at < now
    handovers = [
        {"event": event, **event.data["handover"]}
        for event in events
        if event.action in ("hand_over", "return_handover") and "handover" in (event.data or {})
    ]
    holder = dossier.handling_agency_id or dossier.competent_agency_id
    own_agencies = {agency_id for _role, agency_id in permissions.user_roles(request.user)}
    crosses = any(s.get("agency") for s in steps) or bool(handovers) or bool(consultations)
    return {
        "current_step": step["name"] if step and dossier.stage != Stage.CLOSED else "",
        "holding_agency": dossier.handling_agency or dossier.competent_agency,
        "handovers": handovers,
        "consultations": consultations,
        "is_interagency": crosses,
        # The sending agency (or a consulted one) follows the dossier; its desk may still record
        # a withdrawal or a remitted fee.
        "follows_only": crosses and dossier.stage != Stage.CLOSED and holder not in own_agencies,
    }


def render_detail(request, dossier, *, status=200, errors=None, failed=None, conflict=None):
    now = timezone.now()
    events = decorate_events(list(dossier.events.select_related("actor")))
    names = available_actions(request.user, dossier, now)
    actions = action_forms(request, dossier, names, errors=errors, failed=failed)
    by_name = {a["name"]: a for a in actions}
    context = workspace_context(
        request,
        dossier=dossier,
        events=events,
        attachments=list(dossier.attachments.all()),
        actions=actions,
        # Actions that take the dossier to its next step are shown open; the others (supplements,
        # extensions, reassignments, refusals…) are folded away, danger ones in red.
        main_actions=[a for a in actions if workflow.ACTIONS[a["name"]].advances],
        folded_actions=[a for a in actions if not workflow.ACTIONS[a["name"]].advances],
        approve=by_name.get("approve"),
        send_back=by_name.get("send_back"),
        other_actions=[a for a in actions if a["name"] not in ("approve", "send_back")],
        printable_forms=pdf.printable_forms(dossier, events),
        may_reissue_pin=may_reissue_pin(request.user, dossier),
        overdue=dossier.is_overdue(now),
        conflict=conflict,
        channels=Channel.choices,
        missing_documents=next(
            (e.data.get("missing_documents") for e in reversed(events) if e.action == "request_supplement"), None
        ),
        **interagency_context(request, dossier, events, now),
    )
    template = "dossiers/approval_detail.html" if is_leader_approval(dossier, names) else "dossiers/detail.html"
    return render(request, template, context, status=status)


@require_safe
@officer_required
def detail(request, code):
    return render_detail(request, visible_dossier(request, code))


def action_params(spec, post):
    params = {}
    for key in spec.params:
        if key == "missing_documents":
            params[key] = [line.strip() for line in post.get(key, "").splitlines() if line.strip()]
        elif key in LIST_PARAMS:
            params[key] = [value.strip() for value in post.getlist(key) if value.strip()]
        else:
            params[key] = post.get(key, "").strip()
    return params


@require_POST
@officer_required
def act(request, code, action):
    dossier = visible_dossier(request, code)
    spec = workflow.get_action(action)
    if spec is None:
        raise Http404
    try:
        dossier_act(
            dossier=dossier,
            actor=request.user,
            action=action,
            comment=request.POST.get("comment", ""),
            **action_params(spec, request.POST),
        )
    except WorkflowConflict as exc:
        return render_detail(request, dossier, status=409, conflict=str(exc))
    except ActionInputError as exc:
        return render_detail(request, dossier, status=400, errors=exc.errors, failed=action)
    if spec.confirmation:
        done = spec.confirmation % {"code": dossier.code}
    else:
        done = _("%(action)s: done for dossier %(code)s.") % {"action": spec.label, "code": dossier.code}
    messages.success(request, done)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(dossier)


@require_POST
@officer_required
def reissue_pin(request, code):
    """A new PIN for an applicant who lost the receipt: the old PIN stops working, the new one is
    shown once on the receipt page and printed on a new receipt."""
    dossier = visible_dossier(request, code)
    dossier, pin = dossier_reissue_pin(dossier=dossier, actor=request.user)
    pdf.remember_pin(request, dossier.pin_key, pin)
    messages.success(
        request,
        _("A new PIN was issued for dossier %(code)s; the old one no longer works. Print the new receipt.")
        % {"code": dossier.code},
    )
    return redirect("dossiers:receipt", code=dossier.code)


@require_safe
@officer_required
def attachment_download(request, pk):
    attachment = get_object_or_404(
        Attachment.objects.filter(dossier__in=Dossier.objects.visible_to(request.user)).select_related("dossier"),
        pk=pk,
    )
    return attachments.attachment_response(attachment)

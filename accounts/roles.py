"""Who may do what: everything derives from `procedures.Membership` (role × agency)."""

from procedures.models import Membership, Role


def user_roles(user):
    """The user's (role, agency_id) pairs, cached on the user object for the request."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_motcua_roles", None)
    if cached is None:
        cached = frozenset(Membership.objects.filter(user=user).values_list("role", "agency_id"))
        user._motcua_roles = cached
    return cached


def visible_agency_ids(user):
    """The agencies whose dossiers `user` may see (None: every agency, for a superuser): the
    agencies they hold a role in, plus every agency below those where they supervise."""
    if user.is_superuser:
        return None
    from procedures.models import Agency

    roles = user_roles(user)
    agency_ids = {agency_id for _role, agency_id in roles}
    for role, agency_id in roles:
        if role == Role.SUPERVISOR:
            agency_ids.update(Agency(pk=agency_id).subtree_ids())
    return agency_ids


def has_role(user, role, agency_id):
    return (role, agency_id) in user_roles(user)


def agencies_with_role(user, role):
    return sorted(agency_id for r, agency_id in user_roles(user) if r == role)


def is_officer(user):
    return bool(user and user.is_authenticated and (user.is_superuser or user_roles(user)))


def may_take(user, dossier, actors):
    """True if the user holds one of the (role, agency field) pairs for this dossier."""
    roles = user_roles(user)
    return any((role, getattr(dossier, f"{scope}_agency_id")) in roles for role, scope in actors)


__all__ = ["Role", "user_roles", "visible_agency_ids", "has_role", "agencies_with_role", "is_officer", "may_take"]

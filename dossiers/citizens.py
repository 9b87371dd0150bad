"""Who the signed-in citizen of a request is, for the apps that may not import the national-portal
integration (the ratings app: import-linter keeps `interop` and the other apps apart).

The citizen signs in with the national account (`interop.citizen`), kept in the session as an ID
number; `InteropConfig.ready` registers its reader here, as `dossiers.policy` and
`dossiers.sealing` do for their apps. Without a registered reader (the integration not installed)
no request has a signed-in citizen.
"""

_reader = None


def register(reader):
    """Install `reader(request)` → the signed-in citizen's ID number, or None."""
    global _reader  # noqa: PLW0603 - one process-wide reader, set once at start-up
    _reader = reader


def id_number(request):
    """The ID number of the citizen signed in on `request`, or None."""
    return None if _reader is None else _reader(request)

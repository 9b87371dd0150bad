"""The rating link of the final SMS and e-mail: `/danh-gia/<token>/`, a signed token that names the
dossier, so the holder rates in one tap without typing the code and PIN. It expires after
RATING_LINK_DAYS; a token cannot be forged without SECRET_KEY."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "ratings.link"


def make_token(dossier):
    return signing.dumps(dossier.pk, salt=SALT, compress=False)


def dossier_id_of(token):
    """The dossier id a valid, unexpired token names, else None."""
    try:
        value = signing.loads(token, salt=SALT, max_age=settings.RATING_LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def rating_url(dossier):
    """The absolute rating link for messages (SITE_URL + path)."""
    return f"{settings.SITE_URL}{reverse('ratings:link', args=[make_token(dossier)])}"

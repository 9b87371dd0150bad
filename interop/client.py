"""The client of the national portal: one class, one method per service. Plain HTTP with
`requests`; every name on the wire comes from `interop.fields`. A failed call raises `PortalError`
(transport error, timeout, an HTTP error status, an answer that is not JSON or whose error code is
not OK); the callers decide about retries."""

import logging

import requests
from django.conf import settings

from . import fields as F

log = logging.getLogger(__name__)


class PortalError(Exception):
    """A call that did not succeed. `unknown_outcome`: the portal may have done it anyway
    (timeout, dropped connection): repeat it with the same idempotency key."""

    def __init__(self, message, *, unknown_outcome=False):
        super().__init__(message)
        self.unknown_outcome = unknown_outcome


class Portal:
    def __init__(self, url=None, *, username=None, password=None, unit=None, timeout=None, http=None):
        self.url = (settings.DVCQG_URL if url is None else url).rstrip("/")
        self.username = settings.DVCQG_USERNAME if username is None else username
        self.password = settings.DVCQG_PASSWORD if password is None else password
        self.unit = settings.DVCQG_UNIT_CODE if unit is None else unit
        self.timeout = settings.DVCQG_TIMEOUT if timeout is None else timeout
        self.http = http or requests.Session()
        self.session = None

    @property
    def configured(self):
        return bool(self.url)

    # --- transport ---------------------------------------------------------------------------

    def _post(self, path, body):
        if not self.url:
            raise PortalError("DVCQG_URL is not set")
        try:
            response = self.http.post(self.url + path, json=body, timeout=self.timeout)
        except requests.Timeout as exc:
            raise PortalError(f"timeout after {self.timeout:g} s", unknown_outcome=True) from exc
        except requests.ConnectionError as exc:
            raise PortalError(f"connection failed: {exc}", unknown_outcome=True) from exc
        except requests.RequestException as exc:
            raise PortalError(f"request failed: {exc}", unknown_outcome=True) from exc
        if response.status_code >= 400:
            raise PortalError(f"HTTP {response.status_code}: {response.text[:200]}", unknown_outcome=True)
        try:
            answer = response.json()
        except ValueError as exc:
            raise PortalError(f"not JSON: {response.text[:200]}") from exc
        if not isinstance(answer, dict):
            raise PortalError(f"unexpected answer: {str(answer)[:200]}")
        return answer

    def sign_in(self):
        answer = self._post(F.AUTH_PATH, {F.USERNAME: self.username, F.PASSWORD: self.password})
        if not F.is_ok(answer) or not answer.get(F.SESSION):
            raise PortalError(f"sign-in refused: {answer.get(F.MESSAGE) or answer.get(F.ERROR_CODE)}")
        self.session = answer[F.SESSION]
        return self.session

    def call(self, service, **body):
        """POST one service call; sign in first, and again once when the session has expired."""
        for attempt in (1, 2):
            if self.session is None:
                self.sign_in()
            answer = self._post(
                F.INTEGRATION_PATH, {F.SESSION: self.session, F.UNIT: self.unit, F.SERVICE: service, **body}
            )
            code = str(answer.get(F.ERROR_CODE, "")).strip()
            if code in F.SESSION_EXPIRED_CODES and attempt == 1:
                self.session = None
                continue
            if code not in F.OK_CODES:
                raise PortalError(f"{service}: error {code or '?'} {answer.get(F.MESSAGE, '')}".strip())
            return answer
        raise PortalError(f"{service}: the session keeps expiring")  # pragma: no cover

    # --- services ----------------------------------------------------------------------------

    def sync_dossier(self, state, *, updating):
        return self.call(F.SYNC_DOSSIER, **{F.IS_UPDATING: "True" if updating else "False", F.DATA: [state]})

    def update_progress(self, entry):
        return self.call(F.UPDATE_PROGRESS, **{F.DATA: [entry]})

    def lookup(self, code):
        """What the national side holds about the dossier `code` (its fields, with its progress
        entries under `fields.L_PROGRESS`), or None."""
        results = self.call(F.LOOKUP_DOSSIER, **{F.LOOKUP_CODE: code}).get(F.RESULT) or []
        return results[0] if results else None

    def fetch_submissions(self):
        return list(self.call(F.FETCH_SUBMISSIONS).get(F.RESULT) or [])

    def acknowledge_submission(self, national_code, our_code):
        return self.call(F.ACK_SUBMISSION, **{F.DATA: [{F.D_CODE: national_code, F.D_RECEIPT_NUMBER: our_code}]})

    def list_procedures(self):
        return list(self.call(F.LIST_PROCEDURES).get(F.RESULT) or [])

    def get_procedure(self, code):
        results = self.call(F.GET_PROCEDURE, **{F.PROCEDURE_CODE_PARAM: code}).get(F.RESULT) or []
        return results[0] if results else None

    def download(self, url, *, max_bytes):
        """A submission's file: (content, content type). Relative URLs are the portal's own."""
        if url.startswith("/"):
            url = self.url + url
        origin = "/".join(self.url.split("/")[:3]) + "/"
        if not url.startswith(origin):
            # Files come from the portal itself: a pushed payload cannot make us fetch elsewhere.
            raise PortalError(f"file outside the portal: {url[:100]}")
        try:
            response = self.http.get(url, timeout=self.timeout, params={F.SESSION: self.session or ""}, stream=True)
            response.raise_for_status()
            content = response.raw.read(max_bytes + 1, decode_content=True)
        except requests.RequestException as exc:
            raise PortalError(f"download failed: {exc}", unknown_outcome=True) from exc
        if len(content) > max_bytes:
            raise PortalError("file too large")
        return content, response.headers.get("Content-Type", "application/octet-stream")

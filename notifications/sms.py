"""SMS gateways. Pick one with the SMS_BACKEND setting; each `send()` receives an idempotency
key (the outbox key) so a gateway can drop a repeat after a worker crash."""

import json
import logging
import urllib.request

from django.conf import settings

log = logging.getLogger("motcua.sms")


class ConsoleSMSBackend:
    """Default: writes the message to the log (no identity numbers or PINs are in SMS texts)."""

    def send(self, *, to, text, key):
        masked = f"{to[:3]}****{to[-3:]}" if len(to) > 6 else "***"
        log.info("SMS to %s [%s]: %s", masked, key, text)


class HTTPSMSBackend:
    """A generic JSON-over-HTTP gateway: POST {"to", "text", "idempotency_key"} to SMS_GATEWAY_URL
    with headers `Idempotency-Key` and `Authorization: Bearer SMS_GATEWAY_TOKEN` (when set),
    within SMS_GATEWAY_TIMEOUT seconds. Any non-2xx answer or network error raises, and the
    outbox retries later with the same key."""

    def send(self, *, to, text, key):
        url = settings.SMS_GATEWAY_URL
        if not url.startswith(("http://", "https://")):
            raise RuntimeError("SMS_GATEWAY_URL must be an http:// or https:// URL")
        body = json.dumps({"to": to, "text": text, "idempotency_key": key}).encode()
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (URL from settings)
        request.add_header("Content-Type", "application/json")
        request.add_header("Idempotency-Key", key)
        if settings.SMS_GATEWAY_TOKEN:
            request.add_header("Authorization", f"Bearer {settings.SMS_GATEWAY_TOKEN}")
        with urllib.request.urlopen(request, timeout=settings.SMS_GATEWAY_TIMEOUT) as response:  # noqa: S310
            if not 200 <= response.status < 300:
                raise RuntimeError(f"SMS gateway answered HTTP {response.status}")

"""An e-mail backend for the embedded setup and tests: one file per Message-ID in
EMAIL_FILE_PATH, written atomically, so a message re-sent after a worker crash replaces its
first copy instead of duplicating it (like a receiving server that drops repeated Message-IDs)."""

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class IdempotentFileEmailBackend(BaseEmailBackend):
    def __init__(self, file_path=None, **kwargs):
        super().__init__(**kwargs)
        self.path = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        self.path.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            msg = message.message()
            key = msg.get("Message-ID") or hashlib.sha256(msg.as_bytes()).hexdigest()
            name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".eml"
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes())
            os.replace(tmp, self.path / name)
        return len(email_messages)

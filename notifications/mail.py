"""An e-mail backend for the embedded setup and tests: one file per Message-ID in
EMAIL_FILE_PATH, written atomically, so a message re-sent after a worker crash replaces its
first copy instead of duplicating it (like a receiving server that drops repeated Message-IDs).

Every send is also appended to `sent.log` in the same folder (one Message-ID per line), so an
operator (or a test) can see how often a message was handed over, including repeats."""

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

JOURNAL = "sent.log"


def file_name(message_id):
    return hashlib.sha256(message_id.encode()).hexdigest()[:32] + ".eml"


class IdempotentFileEmailBackend(BaseEmailBackend):
    def __init__(self, file_path=None, **kwargs):
        super().__init__(**kwargs)
        self.path = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        self.path.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            msg = message.message()
            key = msg.get("Message-ID") or hashlib.sha256(msg.as_bytes()).hexdigest()
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / file_name(key))
            # One short write with O_APPEND: lines from concurrent workers do not interleave.
            journal = os.open(self.path / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(journal, f"{key}\n".encode())
            finally:
                os.close(journal)
        return len(email_messages)

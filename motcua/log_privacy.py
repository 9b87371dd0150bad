"""Keep citizens' identity numbers, phone numbers and lookup PINs out of the logs.

`MaskPersonalDataFilter` sits on every handler in settings.LOGGING. It rewrites each record's
message (and its formatted traceback) before any handler formats it:

- `pin=…` in a query string or form body (the runserver request line, gunicorn, a URL in an
  error) becomes `pin=***`;
- Vietnamese phone numbers (0xxxxxxxxx, +84…, 84…, with or without spaces/dots) become `***`;
- stand-alone runs of 6, 9 or 12 digits (lookup PIN, old 9-digit ID, 12-digit citizen ID)
  become `***`. Digits inside a dossier code (`H56.33-260302-0001`) or a word are kept.

It is a safety net: code should not log these values in the first place.
"""

import logging
import re

MASK = "***"

PIN_PARAMETER = re.compile(r"(?i)\b(pin|mapin|ma_pin)=[^&\s\"']*")
PHONE = re.compile(r"(?<![\w.+-])(?:\+84|84|0)[ .]?[235789]\d(?:[ .]?\d){7}(?![\w-])")
DIGIT_RUN = re.compile(r"(?<![\w.-])(?:\d{12}|\d{9}|\d{6})(?![\w-])")


def mask(text):
    if not text:
        return text
    text = PIN_PARAMETER.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = PHONE.sub(MASK, text)
    return DIGIT_RUN.sub(MASK, text)


class MaskPersonalDataFilter(logging.Filter):
    def filter(self, record):
        if getattr(record, "_motcua_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's error path
            return True
        record.msg = mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        record._motcua_masked = True
        return True

"""Vietnamese text folding: the one function used to index and to query.

`fold("Đăng ký KHAI SINH")` → `"dang ky khai sinh"`: Unicode-normalised, lower case,
diacritics removed and đ/Đ mapped to d (đ is a separate letter, not a diacritic, so the
usual NFD-and-strip trick leaves it alone), white space collapsed.
"""

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_D_TABLE = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})


def fold(text: str) -> str:
    if not text:
        return ""
    text = unicodedata.normalize("NFD", str(text).translate(_D_TABLE))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", text.lower()).strip()


def normalise(text: str) -> str:
    """Lower case and NFC-composed, diacritics kept: for exact-diacritic matching."""
    if not text:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(text)).lower()).strip()

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


# Syllables whose whole rhyme is i or y after a consonant onset are spelled both ways (kí/ký,
# lí/lý, mĩ/mỹ, quí/quý …): the search key spells them with i. A lone "y" (y tế, ý kiến) and y
# inside a rhyme (tuyển, giấy, hay ≠ hai) are left alone.
_I_Y_SYLLABLE = re.compile(r"\b(qu|[bcdghklmnprstvx]{1,3})y\b")
_KEY_WORD = re.compile(r"[a-z0-9]+(?:[.][a-z0-9]+)*")


def search_words(text: str) -> list:
    """The search key's words of `text`: folded, i/y spelling unified, split on anything that is
    not a letter or digit (dots inside codes and numbers kept: "1.001193"). Index and query both
    use it."""
    return [_I_Y_SYLLABLE.sub(r"\1i", word) for word in _KEY_WORD.findall(fold(text))]


# Vietnamese alphabetical order: a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y, the
# letters first, then the tones (none, huyền, hỏi, ngã, sắc, nặng) from left to right. Spaces and
# punctuation sort before digits, digits before letters ("an toàn" before "anh").
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: 20 + index for index, letter in enumerate(_ALPHABET)}
_RANK.update({digit: 10 + int(digit) for digit in "0123456789"})
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_SORT_LENGTH = 300  # characters of a name that decide its place


def _rank(char):
    if char in _RANK:
        return _RANK[char]
    if not char.isalnum():
        return 1
    return min(100 + ord(char), 36**2 - 1)


def sort_key(text) -> tuple:
    """A key that sorts Vietnamese text in dictionary order, case-insensitively: "Đất đai" after
    "Dân tộc" and before "Giáo dục", not after "Thủy sản" as code-point order puts it. Use it for
    every list shown in alphabetical order (`sorted(items, key=lambda i: sort_key(i.name))`);
    `sort_string()` is the same order as a plain string, for a database column."""
    letters, tones = [], []
    for char in unicodedata.normalize("NFD", _SPACES.sub(" ", str(text or "")).strip().lower()[:_SORT_LENGTH]):
        tone = _TONES.get(char)
        if tone is not None:
            if tones:
                tones[-1] = tone
            continue
        if unicodedata.category(char) == "Mn":
            # A vowel's quality mark (ă â ê ô ơ ư) is part of the letter; other marks are ignored.
            composed = unicodedata.normalize("NFC", letters[-1] + char) if letters else ""
            if len(composed) == 1:
                letters[-1] = composed
            continue
        letters.append(char)
        tones.append(0)
    return (tuple(_rank(letter) for letter in letters), tuple(tones))


_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def sort_string(text) -> str:
    """`sort_key()` as a string of [0-9a-z] whose plain order is the Vietnamese order (the same
    under the C, ICU and glibc collations of the databases): for an ORDER BY column."""
    ranks, tones = sort_key(text)
    letters = "".join(_DIGITS36[rank // 36] + _DIGITS36[rank % 36] for rank in ranks)
    # "00" is below every letter's code: a name sorts before its own continuations.
    return f"{letters}00{''.join(str(tone) for tone in tones)}"

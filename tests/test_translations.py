"""The Vietnamese catalogue: complete, consistent with its compiled .mo, and used by the site."""

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from dossiers.models import Status

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "vi" / "LC_MESSAGES"
PO = CATALOGUE / "django.po"
MO = CATALOGUE / "django.mo"

PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdfr]|%[sd]|\{\w*\}|\{\{.*?\}\}|<[^>]+>")
KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$')


def parse_po(path):
    """The entries of a .po file as dicts: msgid, msgctxt, msgid_plural, msgstr (or
    msgstr[N]) and flags. Obsolete entries (#~) are ignored."""
    entries, entry, field = [], None, None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            entry, field = None, None
            continue
        if line.startswith("#~"):
            continue
        if entry is None:
            entry = {"flags": set(), "line": number}
            entries.append(entry)
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := KEYWORD.match(line):
            field = match.group(1)
            entry[field] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and field:
            entry[field] += ast.literal_eval(line)
        else:
            raise ValueError(f"{path}:{number}: cannot parse {line!r}")
    return [entry for entry in entries if "msgid" in entry]


def translations(entry):
    return [value for key, value in sorted(entry.items()) if key.startswith("msgstr")]


def describe(entry):
    context = f"[{entry['msgctxt']}] " if "msgctxt" in entry else ""
    return f"line {entry['line']}: {context}{entry['msgid']!r}"


@pytest.fixture(scope="module")
def entries():
    return parse_po(PO)


@pytest.fixture(scope="module")
def messages(entries):
    return [entry for entry in entries if entry["msgid"]]


def test_the_header_declares_vietnamese_with_a_single_plural_form(entries):
    header = entries[0]
    assert header["msgid"] == ""
    assert "fuzzy" not in header["flags"]
    assert "Language: vi\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=1; plural=0;\n" in header["msgstr"]
    assert "Content-Type: text/plain; charset=UTF-8\n" in header["msgstr"]


def test_every_message_is_translated_and_none_is_fuzzy(messages):
    assert messages, "the catalogue has no messages"
    untranslated = [describe(e) for e in messages if not all(t.strip() for t in translations(e))]
    fuzzy = [describe(e) for e in messages if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_plural_messages_have_exactly_one_form(messages):
    plurals = [e for e in messages if "msgid_plural" in e]
    assert plurals
    wrong = [describe(e) for e in plurals if sorted(k for k in e if k.startswith("msgstr")) != ["msgstr[0]"]]
    assert wrong == []


def test_translations_keep_placeholders_tags_and_outer_whitespace(messages):
    problems = []
    for entry in messages:
        for text in translations(entry):
            for source in filter(None, (entry["msgid"], entry.get("msgid_plural"))):
                if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(text)):
                    problems.append(f"{describe(entry)} → {text!r}")
            original = entry["msgid"]
            if (original[: len(original) - len(original.lstrip())], original[len(original.rstrip()) :]) != (
                text[: len(text) - len(text.lstrip())],
                text[len(text.rstrip()) :],
            ):
                problems.append(f"{describe(entry)}: leading/trailing whitespace differs")
    assert problems == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
def test_msgfmt_accepts_the_catalogue_and_counts_nothing_untranslated():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr
    assert "fuzzy" not in result.stderr


def test_the_compiled_catalogue_matches_the_po_file(messages):
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.info().get("plural-forms") == "nplurals=1; plural=0;"
    stale = []
    for entry in messages:
        if "msgid_plural" in entry:
            got = [compiled.ngettext(entry["msgid"], entry["msgid_plural"], n) for n in (1, 2)]
            want = [entry["msgstr[0]"]] * 2
        elif "msgctxt" in entry:
            got, want = compiled.pgettext(entry["msgctxt"], entry["msgid"]), entry["msgstr"]
        else:
            got, want = compiled.gettext(entry["msgid"]), entry["msgstr"]
        if got != want:
            stale.append(describe(entry))
    assert stale == [], "django.mo is out of date: run compilemessages -l vi"


def test_dossier_statuses_have_the_national_vietnamese_names():
    with translation.override("vi"):
        assert str(Status.RECEIVED.label) == "Đã tiếp nhận"
        assert str(Status.AWAITING_SUPPLEMENT.label) == "Chờ bổ sung"
        assert str(Status.RETURNED.label) == "Đã trả kết quả"
    with translation.override("en"):
        assert str(Status.RECEIVED.label) == "Received"


def test_half_day_and_plural_forms_are_translated():
    with translation.override("vi"):
        assert translation.pgettext("half of the day", "morning") == "buổi sáng"
        assert translation.pgettext("half of the day", "afternoon") == "buổi chiều"
        text = translation.ngettext("%(days)s working day", "%(days)s working days", 3) % {"days": 3}
        assert text == "3 ngày làm việc"


def test_the_home_page_speaks_vietnamese_by_default(client, catalogue):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Trang chủ" in html
    assert "Tra cứu hồ sơ" in html
    assert "Đăng nhập" in html
    assert "Track a dossier" not in html

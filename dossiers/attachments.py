"""Dossier attachments: scanned application documents, supplements and results.

Uploads are accepted by their *content*, never by the name or the browser's content type:
PDF, JPEG, PNG and Office Open XML documents (DOCX, XLSX, macro-free). The declared name's
extension must agree with the detected type (`giay-to.pdf.exe`, HTML, SVG and scripts are
refused), empty and oversized files are refused. Files are stored under a random name in the
media storage (never under static files, never served by a public URL); the sanitised original
name, size, detected type and SHA-256 are kept in the row, and an "attach" event is appended to
the dossier's history in the same transaction.

Callers check that the dossier is visible to the user (`Dossier.objects.visible_to`) first.
"""

import hashlib
import re
import unicodedata
import zipfile
import zlib
from pathlib import PurePosixPath

import filetype
from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import user_roles
from procedures.models import Role

from .models import Attachment, Dossier, DossierEvent

HEAD_BYTES = 8192
MAX_NAME_LENGTH = 255
# [Content_Types].xml of a real document is a few kB; never inflate more than this.
MAX_CONTENT_TYPES_BYTES = 1024 * 1024
# What the members of a Word/Excel document may declare to expand to, in total (zip bombs).
MAX_OOXML_EXPANDED_BYTES = 200 * 1024 * 1024
# PDF names that run code or carry hidden files (JavaScript, launch actions, embedded files, XFA).
PDF_ACTIVE_NAMES = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia", b"/XFA")
# Compressed object streams (where such names may hide) are inflated up to this much in total.
MAX_PDF_OBJECT_STREAM_BYTES = 16 * 1024 * 1024

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Detected type → (content type, extensions the declared name may have, what filetype may call it).
ALLOWED_TYPES = {
    "pdf": ("application/pdf", {"pdf"}, {"application/pdf"}),
    "jpg": ("image/jpeg", {"jpg", "jpeg"}, {"image/jpeg"}),
    "png": ("image/png", {"png"}, {"image/png", "image/apng"}),
    # filetype recognises OOXML only from the first bytes' file names, so it may say zip or nothing.
    "docx": (DOCX, {"docx"}, {DOCX, "application/zip", None}),
    "xlsx": (XLSX, {"xlsx"}, {XLSX, "application/zip", None}),
}
# Main parts of macro-free Word and Excel documents ([Content_Types].xml overrides).
OOXML_MAIN_PARTS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}


class AttachmentRejected(ValueError):
    """The upload is not acceptable; the message says why, in the user's language."""


def max_bytes():
    return settings.ATTACHMENT_MAX_BYTES


def allowed_extensions():
    return sorted({ext for _type, exts, _guesses in ALLOWED_TYPES.values() for ext in exts})


def sanitize_name(name):
    """The file name without directories, control, format (bidi overrides such as U+202E, zero
    width) or separator characters, NFC-normalised and at most 255 characters (the extension
    is kept when shortening)."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    kept = []
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        kept.append(" " if category == "Zs" else char)
    name = re.sub(r" {2,}", " ", "".join(kept)).strip(" .")
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME_LENGTH - len(suffix)].rstrip(" .") + suffix
    return name


def _declared_extension(name):
    suffix = PurePosixPath(name).suffix
    return suffix[1:].lower() if suffix else ""


def _ooxml_kind(upload):
    """'docx' / 'xlsx' for a macro-free Word / Excel document, else None."""
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            names = archive.namelist()
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                return None
            if sum(info.file_size for info in archive.infolist()) > MAX_OOXML_EXPANDED_BYTES:
                return None
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > MAX_CONTENT_TYPES_BYTES:
                return None
            # A bounded read: the central directory may lie about the size (zip bomb).
            with archive.open(info) as member:
                raw = member.read(MAX_CONTENT_TYPES_BYTES + 1)
            if len(raw) > MAX_CONTENT_TYPES_BYTES:
                return None
            content_types = raw.decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
        return None
    finally:
        upload.seek(0)
    if "macroEnabled" in content_types:
        return None
    for kind, main_part in OOXML_MAIN_PARTS.items():
        if main_part in content_types:
            return kind
    return None


def _pdf_names(data):
    """PDF name tokens with `#xx` escapes decoded (`/J#61vaScript` is `/JavaScript`)."""
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)


# The standard filters an object stream may use (ISO 32000-1, 7.4), decoded in the order listed in
# /Filter. Image filters (DCT, JPX, JBIG2, CCITT) make no sense there and are refused.
PDF_FILTERS = {
    b"FlateDecode": "FlateDecode",
    b"Fl": "FlateDecode",
    b"ASCIIHexDecode": "ASCIIHexDecode",
    b"AHx": "ASCIIHexDecode",
    b"ASCII85Decode": "ASCII85Decode",
    b"A85": "ASCII85Decode",
    b"LZWDecode": "LZWDecode",
    b"LZW": "LZWDecode",
    b"RunLengthDecode": "RunLengthDecode",
    b"RL": "RunLengthDecode",
}


def _decode_object_stream(header, body, budget):
    """The decoded body of an object stream (every standard filter, chained as /Filter lists them;
    pypdf's decoders, zlib bounded by `budget`), or None when a filter is unknown, has parameters
    we do not apply, or the data does not decode."""
    from pypdf import filters as pdf_filters

    dictionary = header[header.rfind(b"<<") :]
    listed = re.search(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)", dictionary)
    names = re.findall(rb"/([A-Za-z0-9]+)", listed.group(1)) if listed else []
    if names and re.search(rb"/DecodeParms\b|/DP\b", dictionary):
        return None
    for name in names:
        decoder = PDF_FILTERS.get(name)
        if decoder is None:
            return None
        try:
            if decoder == "FlateDecode":
                body = zlib.decompressobj().decompress(body, budget + 1)
            else:
                body = getattr(pdf_filters, decoder).decode(body)
        except Exception:  # each decoder raises its own errors on corrupt data
            return None
        if len(body) > budget:
            return body  # the caller refuses what inflates this much
    return body


def _pdf_has_active_content(upload):
    """True when the PDF carries JavaScript, launch actions, embedded files, rich media or XFA,
    in its objects or inside object streams (decoded with every standard filter and a bound; an
    object stream that cannot be decoded counts as active). Other stream
    bodies (page content, images) are skipped: random compressed bytes may look like `/JS`."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    pattern = re.compile(rb"(?:" + rb"|".join(re.escape(n) for n in PDF_ACTIVE_NAMES) + rb")(?![A-Za-z0-9])")
    budget = MAX_PDF_OBJECT_STREAM_BYTES
    objects = []
    position = 0
    for match in re.finditer(rb"\bstream\r?\n", data):
        if match.start() < position:
            continue
        body_end = data.find(b"endstream", match.end())
        body_end = len(data) if body_end == -1 else body_end
        dictionary = data[position : match.start()]
        objects.append(dictionary)
        header = dictionary[dictionary.rfind(b" obj") :] if b" obj" in dictionary else dictionary[-2048:]
        if re.search(rb"/Type\s*/ObjStm\b", _pdf_names(header)):
            inflated = _decode_object_stream(_pdf_names(header), data[match.end() : body_end], budget)
            if inflated is None:
                return True  # a filter we cannot decode may hide anything: refuse rather than guess
            budget -= len(inflated)
            if budget < 0:
                return True  # object streams that inflate this much hide something
            objects.append(inflated)
        position = body_end
    objects.append(data[position:])
    return any(pattern.search(_pdf_names(chunk)) for chunk in objects)


def _sniff(head, upload):
    """The detected type from explicit magic numbers (and the zip's content types), or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"PK\x03\x04"):
        return _ooxml_kind(upload)
    return None


def validate_upload(f):
    """Check an uploaded file by content, size and name. Returns `(content_type, ext)` with the
    canonical extension of the detected type; raises AttachmentRejected with a readable reason."""
    size = getattr(f, "size", None)
    if not size:
        raise AttachmentRejected(_("The file is empty."))
    limit = max_bytes()
    if size > limit:
        raise AttachmentRejected(
            _("The file is too large (%(size)s); the limit is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
        )
    name = sanitize_name(getattr(f, "name", ""))
    f.seek(0)
    head = f.read(HEAD_BYTES)
    f.seek(0)
    detected = _sniff(head, f)
    guess = filetype.guess(head)
    guessed_mime = guess.mime if guess else None
    if detected is None or guessed_mime not in ALLOWED_TYPES[detected][2]:
        raise AttachmentRejected(_("This kind of file is not accepted. Upload a PDF, JPEG, PNG, DOCX or XLSX file."))
    if detected == "pdf" and _pdf_has_active_content(f):
        raise AttachmentRejected(
            _(
                "This PDF contains scripts, embedded files or interactive forms; "
                "print it to a plain PDF and upload that."
            )
        )
    content_type, extensions, _guesses = ALLOWED_TYPES[detected]
    declared = _declared_extension(name)
    if declared not in extensions:
        raise AttachmentRejected(
            _("The file name “%(name)s” does not match its content (a %(type)s file); rename it to end in .%(ext)s.")
            % {"name": name or "?", "type": detected.upper(), "ext": detected}
        )
    return content_type, detected


def _sha256(f):
    digest = hashlib.sha256()
    f.seek(0)
    for chunk in f.chunks() if hasattr(f, "chunks") else iter(lambda: f.read(65536), b""):
        digest.update(chunk)
    f.seek(0)
    return digest.hexdigest()


def add_attachment(*, dossier, uploaded_file, actor, kind=Attachment.Kind.APPLICATION, now=None):
    """Validate and store `uploaded_file` on `dossier`; append an "attach" event (status and stage
    unchanged) with the dossier row locked. Returns the Attachment."""
    if kind not in Attachment.Kind.values:
        raise AttachmentRejected(_("Unknown attachment kind."))
    content_type, ext = validate_upload(uploaded_file)
    original_name = sanitize_name(uploaded_file.name)
    digest = _sha256(uploaded_file)
    now = now or timezone.now()
    attachment = Attachment(
        kind=kind,
        original_name=original_name,
        content_type=content_type,
        size=uploaded_file.size,
        sha256=digest,
        uploaded_by=actor,
    )
    try:
        with transaction.atomic():
            locked = Dossier.objects.select_for_update().get(pk=dossier.pk)
            attachment.dossier = locked
            # The stored name is random (see models.attachment_path); only the detected extension is used.
            attachment.file.save(f"upload.{ext}", uploaded_file, save=False)
            attachment.save()
            DossierEvent.objects.create(
                dossier=locked,
                actor=actor,
                action="attach",
                from_status=locked.status,
                to_status=locked.status,
                from_stage=locked.stage,
                to_stage=locked.stage,
                data={
                    "attachment_id": attachment.pk,
                    "name": original_name,
                    "kind": kind,
                    "size": attachment.size,
                    "sha256": digest,
                },
                created_at=now,
            )
    except BaseException:
        if attachment.file.name:
            attachment.file.delete(save=False)
        raise
    return attachment


def may_attach(user, dossier):
    """Officers working on the dossier (any role but supervisor, in one of its agencies) may
    attach files; supervisors and other agencies only read."""
    if user.is_superuser:
        return True
    agencies = {dossier.receiving_agency_id, dossier.competent_agency_id, dossier.returning_agency_id}
    return any(role != Role.SUPERVISOR and agency_id in agencies for role, agency_id in user_roles(user))


def attachment_response(attachment):
    """A download response: always `attachment` (never rendered inline), the stored content
    type, `nosniff` and a sandboxing CSP in case a browser opens it anyway."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404(_("The file is no longer available.")) from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response

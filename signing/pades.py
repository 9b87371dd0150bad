"""PAdES signatures with pyHanko: sign a PDF with a visible block, and validate a signed PDF.

The visible block sits at a box given by the caller (the result template reserves it; an uploaded
PDF gets it at the bottom right of its last page) and shows a QR code with the verification
address, the signer's name and title, the signing time and the verification code, in a font with
every Vietnamese glyph. Back ends (signing/backends.py) only provide a pyHanko `Signer`; this
module does the PDF work for both.
"""

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import pypdf
import segno
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.utils import timezone, translation
from PIL import Image, ImageDraw, ImageFont
from pyhanko import stamp
from pyhanko.pdf_utils import images
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

logger = logging.getLogger(__name__)

FIELD_NAME = "ChuKyKetQua"
# The block's size in PDF points (1/72 inch): about 80 × 30 mm.
BLOCK_WIDTH, BLOCK_HEIGHT = 228, 86
# Where an uploaded PDF gets the block: this far from the right and bottom edges of its last page.
UPLOAD_MARGIN = 36

# Pixels per point of the block's picture (about 290 dpi: the QR code scans from a print or a screen).
BLOCK_SCALE = 4


def block_image(url, lines):
    """The visible block as a picture: the QR code of `url` on the left, `lines` on the right.

    Drawn with Pillow in a font with every Vietnamese glyph (SIGNING_STAMP_FONT): pyHanko's own
    text stamps space the letters of an embedded TrueType font apart in this version."""
    width, height = BLOCK_WIDTH * BLOCK_SCALE, BLOCK_HEIGHT * BLOCK_SCALE
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    border = BLOCK_SCALE
    draw.rectangle([0, 0, width - 1, height - 1], outline="black", width=border)
    qr_png = io.BytesIO()
    segno.make(url, error="m").save(qr_png, kind="png", scale=8, border=2)
    qr = Image.open(io.BytesIO(qr_png.getvalue())).convert("RGB")
    side = height - 4 * border
    qr = qr.resize((side, side), Image.NEAREST)
    image.paste(qr, (2 * border, 2 * border))
    left = side + 5 * border
    font_size = 8 * BLOCK_SCALE
    font = ImageFont.truetype(settings.SIGNING_STAMP_FONT, font_size)
    room = width - left - 2 * border
    wrapped = []
    for line in lines:
        words, current = str(line).split(), ""
        for word in words:
            trial = f"{current} {word}".strip()
            if draw.textlength(trial, font=font) <= room or not current:
                current = trial
            else:
                wrapped.append(current)
                current = word
        wrapped.append(current)
    leading = int(font_size * 1.25)
    top = max(2 * border, (height - leading * len(wrapped)) // 2)
    for index, line in enumerate(wrapped):
        draw.text((left, top + index * leading), line, fill="black", font=font)
    return image


def stamp_style(url, lines):
    return stamp.StaticStampStyle(background=images.PdfImage(block_image(url, lines)), border_width=0)


def timestamper():
    """The trusted timestamp authority (RFC 3161) when SIGNING_TSA_URL is set, else None."""
    if not settings.SIGNING_TSA_URL:
        return None
    return timestamps.HTTPTimeStamper(settings.SIGNING_TSA_URL, timeout=settings.SIGNING_HTTP_TIMEOUT)


def upload_box(pdf_bytes):
    """(page index, box) for the block on an uploaded PDF: the bottom right of its last page."""
    pages = pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages
    last = len(pages) - 1
    box = pages[last].mediabox  # inherited from the page tree when the page has none
    y0, x1 = float(box.bottom), float(box.right)
    right, bottom = x1 - UPLOAD_MARGIN, y0 + UPLOAD_MARGIN
    return last, (int(right - BLOCK_WIDTH), int(bottom), int(right), int(bottom + BLOCK_HEIGHT))


def block_lines(signer_name, signer_title, moment, verification_code):
    local = timezone.localtime(moment)
    return [
        f"Ký bởi: {signer_name}",
        signer_title,
        f"Thời gian ký: {local:%H:%M:%S %d/%m/%Y}",
        f"Mã xác thực: {verification_code}",
    ]


def outside_event_loop(function, *args, **kwargs):
    """Call `function` directly, or in a short-lived thread when an asyncio event loop already runs
    in this thread: pyHanko's synchronous API calls asyncio.run(), which refuses to start inside a
    running loop (an ASGI worker, or a test process where a browser driver keeps one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    language = translation.get_language()  # the active language is per thread: carry it over

    def call():
        with translation.override(language):
            return function(*args, **kwargs)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def sign_pdf(pdf_bytes, signer, *, page, box, url, lines, reason, location, signer_name=""):
    """`pdf_bytes` signed by `signer` (a pyHanko Signer) with PAdES B-B, or B-T when a TSA is set;
    the visible block at `box` of page `page` shows the QR code of `url` and `lines`."""
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=signer_name or None,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=signer,
        timestamper=timestamper(),
        stamp_style=stamp_style(url, lines),
        new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD_NAME, on_page=page, box=box),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    out = outside_event_loop(pdf_signer.sign_pdf, writer)
    return out.getvalue()


# --- Validation -------------------------------------------------------------------------------


@dataclass
class Report:
    """What a check of a signed PDF found (all False when it is not a signed PDF at all)."""

    readable: bool = False
    signed: bool = False
    intact: bool = False
    signature_valid: bool = False
    trusted: bool = False
    whole_file: bool = False
    signer: str = ""
    signing_time: datetime | None = None
    timestamped: bool = False
    problem: str = ""

    @property
    def ok(self):
        return self.readable and self.signed and self.intact and self.signature_valid and self.whole_file

    @property
    def certificate_valid(self):
        return self.ok and self.trusted


def trust_roots():
    """The certificates a signature must chain to: SIGNING_TRUST_ROOTS (PEM files), plus the CSC
    sandbox's own CA when the sandbox is on (development only)."""
    from . import sandbox  # noqa: PLC0415 (the sandbox is optional)

    roots = []
    paths = list(settings.SIGNING_TRUST_ROOTS)
    if settings.SIGNING_CSC_SANDBOX:
        paths.append(str(sandbox.ca_path()))
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            logger.warning("signing: trust root %s cannot be read", path)
            continue
        roots.extend(_pem_certs(data))
    return roots


def _pem_certs(data):
    from asn1crypto import pem  # noqa: PLC0415

    if not pem.detect(data):
        return [asn1_x509.Certificate.load(data)]
    return [asn1_x509.Certificate.load(der) for _type, _headers, der in pem.unarmor(data, multiple=True)]


def validate(pdf_bytes, roots=None):
    """Check the last signature of `pdf_bytes`: intact, mathematically valid, covering the whole
    file, and its certificate chaining to a trust root and valid at the signing time."""
    report = Report()
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
        signatures = reader.embedded_signatures
        report.readable = True
    except Exception as exc:  # noqa: BLE001 (any parse error means "not this file")
        report.problem = f"unreadable: {exc.__class__.__name__}"
        return report
    if not signatures:
        report.problem = "no signature"
        return report
    report.signed = True
    embedded = signatures[-1]
    roots = trust_roots() if roots is None else roots
    try:
        signed_at = embedded.self_reported_timestamp
        context = ValidationContext(
            trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail", moment=signed_at
        )
        status = outside_event_loop(validate_pdf_signature, embedded, context, ts_validation_context=context)
    except Exception as exc:  # noqa: BLE001 (a damaged signature is a finding, not an error)
        report.problem = f"invalid: {exc.__class__.__name__}"
        return report
    report.intact = bool(status.intact)
    report.signature_valid = bool(status.valid)
    report.trusted = bool(status.trusted)
    report.whole_file = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    report.signer = status.signing_cert.subject.native.get("common_name", "")
    ts = status.timestamp_validity
    report.timestamped = ts is not None
    report.signing_time = ts.timestamp if ts is not None else status.signer_reported_dt
    if report.signing_time is not None and timezone.is_naive(report.signing_time):
        report.signing_time = timezone.make_aware(report.signing_time)
    return report

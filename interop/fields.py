"""The national portal's vocabulary: every service name, field name, code and format the
integration sends or reads, in this one module.

The national integration API (Cổng Dịch vụ công quốc gia, DVCQG) is not published. The names below
follow the best public evidence: an open-source Vietnamese one-stop system's DVCQG integration
(VietOpenCPS/opencps-v2), which posts JSON `{"session", "madonvi", "service", "data": [...]}` to one
integration endpoint, reads `{"error_code": "00" | 0, ...}` back, signs in with
`{"username", "password"}` → `{"session"}`, and formats moments as `yyyyMMddHHmmss` in Vietnam time.
A province that receives the specification adjusts the names here; nothing in the workflow or in
the rest of `interop` spells a national name. Names marked ASSUMED are not in that evidence (the
evidence has no service for them) and are the sandbox's own; check them first.
"""

from django.utils import timezone

# --- Transport -----------------------------------------------------------------------------
AUTH_PATH = "/auth"  # POST {USERNAME, PASSWORD} → {SESSION, ERROR_CODE}
INTEGRATION_PATH = "/integration"  # POST {SESSION, UNIT, SERVICE, DATA…} → {ERROR_CODE, …}
USERNAME, PASSWORD = "username", "password"
SESSION = "session"
UNIT = "madonvi"
SERVICE = "service"
DATA = "data"
IS_UPDATING = "isUpdating"
ERROR_CODE = "error_code"
MESSAGE = "message"
RESULT = "result"
OK_CODES = ("0", "00")
# The session has expired: sign in again and repeat the call once (ASSUMED code).
SESSION_EXPIRED_CODES = ("401",)
MOMENT_FORMAT = "%Y%m%d%H%M%S"

# --- Services ------------------------------------------------------------------------------
SYNC_DOSSIER = "DongBoHoSoMC"  # the dossier's current state (one object per dossier)
UPDATE_PROGRESS = "CapNhatTienDoHoSoMC"  # one progress entry per event
LOOKUP_DOSSIER = "TraCuuHoSo"  # what the national side holds about a dossier
LIST_PROCEDURES = "LayDanhSachTTHC"  # the national catalogue
GET_PROCEDURE = "LayThuTuc"  # one procedure of the catalogue
FETCH_SUBMISSIONS = "LayDanhSachHoSoMoi"  # ASSUMED: online submissions not yet taken
ACK_SUBMISSION = "XacNhanTiepNhanHoSo"  # ASSUMED: we took a submission (with our reference)
LOOKUP_CODE = "mahoso"  # the dossier code of LOOKUP_DOSSIER
PROCEDURE_CODE_PARAM = "maTTHC"  # the procedure code of GET_PROCEDURE

# --- DongBoHoSoMC: one dossier -------------------------------------------------------------
D_CODE = "MaHoSo"
D_PROCEDURE_CODE = "MaTTHC"
D_PROCEDURE_NAME = "TenTTHC"
D_FIELD_CODE = "MaLinhVuc"
D_FIELD_NAME = "TenLinhVuc"
D_RECEIPT_NUMBER = "SoBienNhan"  # our own code (the Art. 28 code once accepted)
D_APPLICANT = "ChuHoSo"
D_APPLICANT_KIND = "LoaiDoiTuong"  # 1 citizen, 2 organisation
D_ID_NUMBER = "MaDoiTuong"
D_EMAIL = "Email"
D_PHONE = "SoDienThoai"
D_ADDRESS = "DiaChi"  # ASSUMED
D_SUMMARY = "TrichYeuHoSo"
D_SUBMITTED_AT = "NgayNopHoSo"  # ASSUMED
D_RECEIVED_AT = "NgayTiepNhan"
D_DUE_AT = "NgayHenTra"
D_STATUS = "TrangThaiHoSo"
D_FINISHED_AT = "NgayKetThucXuLy"
D_RETURNED_AT = "NgayTra"
D_CHANNEL = "HinhThuc"  # 0 at the desk, 1 online (evidence), 2 by post (ASSUMED)
D_AGENCY = "DonViXuLy"
D_AGENCY_CODE = "MaDonViTiepNhan"  # ASSUMED: the receiving agency's electronic identifier
D_NOTE = "GhiChu"
D_FILES = "TaiLieuNop"
D_FEES = "DanhSachLePhi"
D_RESULTS = "DanhSachGiayToKetQua"
D_UPDATED_AT = "NgayCapNhat"  # ASSUMED: when this state was reached (newest wins)
FILE_NAME = "TenTepDinhKem"
FILE_URL = "DuongDanTaiTepTin"
FEE_NAME = "TenPhiLePhi"
FEE_AMOUNT = "Gia"
RESULT_NAME = "TenGiayTo"

# --- CapNhatTienDoHoSoMC: one progress entry -----------------------------------------------
P_CODE = "MaHoSo"
P_KEY = "MaTienDo"  # ASSUMED: the entry's idempotency key (a repeat is dropped)
P_ACTOR = "NguoiXuLy"
P_ACTOR_TITLE = "ChucDanh"
P_AT = "ThoiDiemXuLy"
P_DEPARTMENT = "PhongBanXuLy"
P_TEXT = "NoiDungXuLy"
P_STATUS = "TrangThai"
P_STEP_STARTED_AT = "NgayBatDau"
P_STEP_DUE_AT = "NgayKetThucTheoQuyDinh"

# --- TraCuuHoSo answer: the dossier and its progress entries --------------------------------
L_PROGRESS = "TienDo"  # ASSUMED: the entries under the dossier

# --- The catalogue (LayDanhSachTTHC / LayThuTuc) -----------------------------------------------
C_CODE = "MATTHC"
C_NAME = "TENTTHC"
C_FIELDS = "LINHVUCTHUCHIEN"
C_FIELD_CODE = "MALINHVUC"
C_FIELD_NAME = "TENLINHVUC"
C_LEVEL = "CAPTHUCHIEN"  # ASSUMED (province / commune / central, as our importer spells them)
C_PROCESSING_DAYS = "THOIGIANGIAIQUYET"
C_FEE_VND = "LEPHI"  # ASSUMED
C_FEE_TEXT = "MOTALEPHI"  # ASSUMED
C_LEGAL_BASIS = "CANCUPHAPLY"  # ASSUMED
C_RESULT = "KETQUATHUCHIEN"  # ASSUMED

# --- Citizen sign-in (OpenID Connect user info) ---------------------------------------------
USERINFO_ID_NUMBER = "so_dinh_danh"  # ASSUMED claim: the 12-digit personal ID number
USERINFO_NAME = "name"

# --- Our vocabularies → theirs ---------------------------------------------------------------
# Our statuses already follow the national 10-code list (DESIGN §3): the mapping is the identity,
# kept as a table so that a province whose specification differs changes it here.
STATUS_CODES = {status: str(status) for status in range(1, 11)}
CHANNEL_CODES = {"in_person": "0", "online": "1", "post": "2"}
CHANNELS_BY_CODE = {code: channel for channel, code in CHANNEL_CODES.items()}


def moment(value):
    """A datetime as the portal writes it (`yyyyMMddHHmmss`, Vietnam time); None → ""."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime(MOMENT_FORMAT)


def parse_moment(text):
    """The portal's `yyyyMMddHHmmss` (Vietnam time) as an aware datetime; "" or bad → None."""
    from datetime import datetime

    try:
        return timezone.make_aware(datetime.strptime(str(text or "").strip(), MOMENT_FORMAT))
    except ValueError:
        return None


def is_ok(answer):
    return str((answer or {}).get(ERROR_CODE, "")).strip() in OK_CODES

"""Settings for Một Cửa, read top to bottom.

Every deployment value comes from an environment variable with a safe default
(see `.env.example`). The embedded default (no variables at all, DEBUG on via
`make run`) is SQLite plus a filesystem Celery broker under `var/`; production
sets DATABASE_URL (PostgreSQL) and REDIS_URL.
"""

from datetime import time, timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# --- Refuse to start with unsafe production values --------------------------
_DEV_SECRET = "dev-insecure-secret-key-only-for-debug-and-tests-0123456789"  # noqa: S105 (DEBUG only)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])


def _refuse(reason):
    # One line on stderr and exit status 1, no traceback: an operator error, not a bug.
    raise SystemExit(f"Một Cửa refuses to start: {reason}")


if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = _DEV_SECRET
    else:
        _refuse("DEBUG is off and SECRET_KEY is not set (set SECRET_KEY, see .env.example).")
if not DEBUG and not ALLOWED_HOSTS:
    _refuse("DEBUG is off and ALLOWED_HOSTS is empty (set ALLOWED_HOSTS, see .env.example).")

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

# --- Applications ---------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "procedures",
    "accounts",
    "dossiers",
    "notifications",
    "reporting",
    "ratings",
    "interop",
    "signing",
    "kiosk",
]
# The constant-JSON floor of the benchmark (bench/floor_views.py): only bench/settings.py turns it on.
BENCH_FLOOR = False
# The benchmark's tools (`manage.py seed_bench`): development machines only (and the test and
# benchmark settings, which add the app themselves). Never installed by a production deployment.
BENCH_TOOLS = env.bool("BENCH_TOOLS", default=DEBUG)
if BENCH_TOOLS:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "accounts.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "motcua.middleware.LanguageMiddleware",
    # Refuses oversized bodies (413) and NUL bytes (400) before anything reads the request (nothing
    # above does), in the visitor's language.
    "motcua.middleware.RequestGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.AuditDeniedMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # With DEBUG on and FRIENDLY_ERROR_PAGES (make run): our 404/500 pages, not Django's debug pages.
    "motcua.errorpages.FriendlyErrorPagesMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "motcua.urls"
WSGI_APPLICATION = "motcua.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.inbox.context_processor",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web server and the embedded Celery worker
    # write to one SQLite file without "database is locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# DATABASE_URL points at PgBouncer in transaction mode (docs/scaling.md): a server connection
# changes hands between transactions, so no server-side cursors and no prepared statements (and
# never Django's own connection pool on top of PgBouncer's).
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)
if DATABASE_PGBOUNCER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).update(prepare_threshold=None)
    DATABASES["default"]["OPTIONS"].pop("pool", None)
# A PostgreSQL streaming replica for the reporting pages' reads (motcua/db_router.py): the views
# named below read from it while it is at most REPLICA_MAX_LAG_SECONDS behind (checked every
# REPLICA_CHECK_SECONDS per process), else from the primary. Empty (default): no replica, no router.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=30.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5.0)
# URL names ("namespace:name", or "namespace:*") whose GET reads may use the replica: statistics,
# exports, the register book and the service index (pages and API).
DATABASE_REPLICA_VIEWS = env.list(
    "DATABASE_REPLICA_VIEWS", default=["stats:*", "api-stats", "api-stats-digital", "api-stats-index"]
)
DATABASE_ROUTERS = []
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"].update(
        CONN_MAX_AGE=DATABASES["default"].get("CONN_MAX_AGE", 0),
        CONN_HEALTH_CHECKS=True,
        # Tests use the primary's test database through this alias (no second test database).
        TEST={"MIRROR": "default"},
    )
    # A stopped replica is noticed in 2 s, not after the operating system's TCP timeout.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    DATABASE_ROUTERS = ["motcua.db_router.ReplicaRouter"]
    # Last: it runs the replica-routed views (and once more on the primary if the replica fails).
    MIDDLEWARE.append("motcua.db_router.ReplicaReadsMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared between processes: Redis when configured, else the database) ---
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# The officers' landing page after login: leaders go to their approvals, others to their queues.
LOGIN_REDIRECT_URL = "/can-bo/bat-dau/"
LOGOUT_REDIRECT_URL = "/"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # one working day
SESSION_EXPIRE_AT_BROWSER_CLOSE = True  # and never longer than SESSION_COOKIE_AGE

# Login throttling (django-axes): the 5th failure for one user name from one address locks
# that pair out for 15 minutes (429 page); a successful login resets the count. Attempts are
# counted in the database, so every web process shares them. See docs/security.md.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Counted per user name (whatever the address: the right password from elsewhere is refused too)
# and per address (whatever the user name: password spraying), each with its own limit
# (accounts.backends.LoginThrottleHandler).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=10)
AXES_HANDLER = "accounts.backends.LoginThrottleHandler"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_ip"  # honours TRUSTED_PROXY_COUNT
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"
AXES_VERBOSE = False

# Two-factor login (django-otp, TOTP): officers may turn it on at /tai-khoan/xac-thuc-hai-buoc/;
# leaders must, unless this is off (default: on in production, off with DEBUG for demo logins).
REQUIRE_2FA_FOR_LEADERS = env.bool("REQUIRE_2FA_FOR_LEADERS", default=not DEBUG)
# Staff and superusers (the Django admin) must use two-factor login too (same defaults).
REQUIRE_2FA_FOR_STAFF = env.bool("REQUIRE_2FA_FOR_STAFF", default=not DEBUG)
OTP_TOTP_ISSUER = "Một Cửa"
OTP_TOTP_THROTTLE_FACTOR = 1  # after n wrong codes, wait 2^(n-1) seconds before the next try

# --- Internationalisation ---------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True
# Vietnamese input dates are day-first (Django's own `vi` formats parse 02/12 as 12 Feb).
FORMAT_MODULE_PATH = ["motcua.formats"]

# --- Static and media files -------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Media (dossier attachments) are never served from a public URL: views check access.
MEDIA_URL = "/media-not-public/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# --- E-mail -----------------------------------------------------------------------
# Dotted paths that moved when the dossiers app was split (issue 12). An operator's .env may still
# name the old ones: they keep working for one release, with a warning at start-up.
LEGACY_BACKEND_PATHS = {
    "dossiers.mail.IdempotentFileEmailBackend": "notifications.mail.IdempotentFileEmailBackend",
    "dossiers.sms.ConsoleSMSBackend": "notifications.sms.ConsoleSMSBackend",
    "dossiers.sms.HTTPSMSBackend": "notifications.sms.HTTPSMSBackend",
}


def _backend(name, default):
    value = env.str(name, default=default)
    if value in LEGACY_BACKEND_PATHS:
        import warnings

        new = LEGACY_BACKEND_PATHS[value]
        warnings.warn(f"{name}={value} is deprecated: use {new} (the old path goes in the next release).", stacklevel=2)
        value = new
    return value


EMAIL_BACKEND = _backend(
    "EMAIL_BACKEND",
    "notifications.mail.IdempotentFileEmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
# The domain of the Message-ID of outgoing e-mails (a stable ID makes a re-sent e-mail a duplicate).
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="motcua.local")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Một Cửa <no-reply@motcua.local>")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)

# SMS to citizens: "notifications.sms.ConsoleSMSBackend" (log only) or "notifications.sms.HTTPSMSBackend".
SMS_BACKEND = _backend("SMS_BACKEND", "notifications.sms.ConsoleSMSBackend")
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=5.0)

# --- Security (production) ---------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp 4): only our own scripts, styles, images and fonts; no
# inline script or style, no framing, forms post to us only. The Swagger UI page is the one
# documented exception (accounts.middleware.CSPMiddleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
CSP_RELAXED_PATHS = ["/api/docs/"]
# Production defaults are the secure ones; each can be turned off explicitly (.env.example):
# behind a TLS-terminating proxy keep them on, the proxy's X-Forwarded-Proto says the request
# was HTTPS (SECURE_PROXY_SSL_HEADER).
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True  # read by the server only (motcua.middleware.LanguageMiddleware)
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The load balancer's health probe may speak plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading is the domain owner's decision (the preload list takes registrable domains only).
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The dossier queues' covering indexes (INCLUDE columns) are a PostgreSQL optimisation; SQLite
    # builds them without the extra columns, which is all the embedded mode needs (models.W040).
    SILENCED_SYSTEM_CHECKS.append("models.W040")
# Show our friendly 404/500 pages even with DEBUG on (`make run` turns it on for the demo); off, a
# developer sees Django's debug pages. With DEBUG off our pages are always shown.
FRIENDLY_ERROR_PAGES = env.bool("FRIENDLY_ERROR_PAGES", default=False)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Whole request bodies above this are refused (413) from the Content-Length header, before a byte
# is read (motcua.middleware.RequestGuardMiddleware). A reception form carries several attachments.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=50 * 1024 * 1024)
# Dossier attachments: checked by content (PDF, JPEG, PNG, DOCX, XLSX), at most this size.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The key of the lookup PINs' HMAC (dossiers.models.hash_pin); empty: SECRET_KEY. Set it to keep
# the printed PINs valid across a SECRET_KEY rotation.
PIN_HASH_KEY = env.str("PIN_HASH_KEY", default="")
# How long the officer's session remembers a just-issued PIN (masked, dossiers.pdf.remember_pin) so
# the receipt printed right after intake carries it.
RECEIPT_PIN_SECONDS = env.int("RECEIPT_PIN_SECONDS", default=3600)
# Citizen lookup throttling: failed lookups per client address and window.
LOOKUP_MAX_FAILURES = env.int("LOOKUP_MAX_FAILURES", default=10)
LOOKUP_WINDOW_SECONDS = env.int("LOOKUP_WINDOW_SECONDS", default=15 * 60)
# ... and per dossier code, whatever the address: beyond this the code is locked (its desk is told)
# until the sliding window has passed the failures. PINs have 6 digits; codes are sequential.
LOOKUP_CODE_MAX_FAILURES = env.int("LOOKUP_CODE_MAX_FAILURES", default=10)
LOOKUP_CODE_WINDOW_SECONDS = env.int("LOOKUP_CODE_WINDOW_SECONDS", default=3600)
# The officers' API keeps a dossier's serialised history in the cache this many seconds (0: off);
# a new event changes the key at once, so only a renamed officer's old user name can show that long.
DOSSIER_EVENTS_CACHE_SECONDS = env.int("DOSSIER_EVENTS_CACHE_SECONDS", default=600)
# The workspace's tab counts are kept this many seconds per officer (0: counted on every page); an
# officer's own action recounts theirs at once, others' actions show within this time.
QUEUE_COUNTS_CACHE_SECONDS = env.int("QUEUE_COUNTS_CACHE_SECONDS", default=30)
# The statistics page's figures (/thong-ke/) are kept this many seconds per agencies counted, filters and
# language, and shown with the moment they were computed (0: computed on every page). The API, the
# exports and the lists of dossiers behind a number are always live.
STATS_PAGE_CACHE_SECONDS = env.int("STATS_PAGE_CACHE_SECONDS", default=30)
# The service index's catalogue shares (complete and online procedures per agency) are kept until
# the catalogue changes, at most this many seconds (0: counted on every page).
INDEX_CATALOGUE_CACHE_SECONDS = env.int("INDEX_CATALOGUE_CACHE_SECONDS", default=600)
# Where the lookup's counters live (dossiers/throttle.py): "auto" (Redis when REDIS_URL is set, else
# the database), "redis" or "database". The database stays the fallback when Redis fails.
LOOKUP_THROTTLE_BACKEND = env.str("LOOKUP_THROTTLE_BACKEND", default="auto")
if LOOKUP_THROTTLE_BACKEND not in ("auto", "redis", "database"):
    _refuse("LOOKUP_THROTTLE_BACKEND must be auto, redis or database.")
# Citizen ratings (ratings/): the holder may change a rating for this many days after the first
# one; the rating link of the final SMS/e-mail is valid this many days.
RATING_CHANGE_DAYS = env.int("RATING_CHANGE_DAYS", default=7)
RATING_LINK_DAYS = env.int("RATING_LINK_DAYS", default=60)
# Denied requests of anonymous callers (bad API tokens, CSRF failures): one audit row per address
# and status in this many seconds (accounts.middleware.AuditDeniedMiddleware); logged-in users' are
# all recorded.
AUDIT_ANONYMOUS_DENIALS_SECONDS = env.int("AUDIT_ANONYMOUS_DENIALS_SECONDS", default=60)
# Number of reverse proxies in front of the app whose X-Forwarded-For entries are trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- REST framework and OpenAPI ------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Một Cửa API",
    "DESCRIPTION": "One-stop-shop portal for Vietnamese public administration.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema enum per choice set, whatever field uses it.
    "ENUM_NAME_OVERRIDES": {
        "DossierStatusEnum": "dossiers.models.Status",
        "DossierStageEnum": "dossiers.models.Stage",
        "DossierChannelEnum": "dossiers.models.Channel",
        "StepOutcomeEnum": "dossiers.models.Outcome",
        "AgencyLevelEnum": "procedures.models.Agency.Level",
        "ProcedureLevelEnum": "procedures.models.Procedure.Level",
        "ConsultationKindEnum": "dossiers.models.Consultation.Kind",
        "AttachmentKindEnum": "dossiers.models.Attachment.Kind",
        "RatingLevelEnum": "ratings.models.Level",
    },
}

# API tokens (django-rest-knox, accounts/tokens.py): hashed, a new key per request, expiring after
# this many hours; logout and password changes revoke them.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# --- Celery -----------------------------------------------------------------------
# Without REDIS_URL, kombu's filesystem transport gives `make run` a real worker and beat
# without any server. With REDIS_URL, Redis is the broker.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
_BROKER_DIR = VAR_DIR / "celery-broker"
if not REDIS_URL:
    _BROKER_DIR.mkdir(exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 3600}
    if REDIS_URL
    else {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "processed_folder": str(_BROKER_DIR),
        "control_folder": str(_BROKER_DIR / "control"),
    }
)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Working calendar and deadlines (see procedures/deadlines.py) ----------------
# Office hours: morning and afternoon sessions.


def _session(start_var, start, end_var, end):
    return time.fromisoformat(env.str(start_var, default=start)), time.fromisoformat(env.str(end_var, default=end))


OFFICE_HOURS = (
    _session("OFFICE_MORNING_START", "07:30", "OFFICE_MORNING_END", "11:30"),
    _session("OFFICE_AFTERNOON_START", "13:30", "OFFICE_AFTERNOON_END", "17:00"),
)
# "same_half": N working days later, same half of the day (Decree 118 practice, default).
# "civil_code": the period starts the next day and ends at the close of the N-th working day.
DEADLINE_POLICY = env.str("DEADLINE_POLICY", default="same_half")
# Paper dossiers accepted after this time go to the processing agency the next working day.
TRANSFER_CUTOFF = time.fromisoformat(env.str("TRANSFER_CUTOFF", default="15:00"))
# ... "at the start (đầu giờ) of the next working day" (Art. 18.2): within this many working
# minutes of the next working day's opening (60: by 08:30; 0: at the opening itself).
TRANSFER_NEXT_DAY_MINUTES = env.int("TRANSFER_NEXT_DAY_MINUTES", default=60)

# --- Catalogue search (procedures/search.py; docs/api.md "Search") and the lobby kiosk ---------
# Each process keeps an index of the catalogue's names; another process's change to the catalogue
# is seen within this many seconds (one aggregate query per check; the process that saved sees it
# at once).
SEARCH_INDEX_CHECK_SECONDS = env.int("SEARCH_INDEX_CHECK_SECONDS", default=30)
# The best this many procedures of a search are listed (the rest are worse matches).
SEARCH_MAX_RESULTS = env.int("SEARCH_MAX_RESULTS", default=300)
# The kiosk (/kiosk/) goes back to its first screen after this many seconds without a touch.
KIOSK_IDLE_SECONDS = env.int("KIOSK_IDLE_SECONDS", default=60)
# Where `seed_demo` keeps the sample dossier's code and PIN for `make run`'s banner (demo data only).
DEMO_SAMPLE_FILE = env.str("DEMO_SAMPLE_FILE", default=str(VAR_DIR / "demo-sample.txt"))

# --- National Public Service Portal (DVCQG, interop/; docs/national-portal.md) -------------
# The sandbox of the national portal (/sandbox/dvcqg/: its services, fault injection and an OIDC
# provider with test citizens). Mounted only when on; `make run` turns it on. Never in production.
DVCQG_SANDBOX = env.bool("DVCQG_SANDBOX", default=False)
# The national portal's integration endpoint. Empty: no synchronisation (no sync rows are written).
# With the sandbox on, it defaults to the sandbox at SITE_URL (the Celery worker is another process
# and reaches it over HTTP).
DVCQG_URL = env.str("DVCQG_URL", default=f"{SITE_URL}/sandbox/dvcqg" if DVCQG_SANDBOX else "").rstrip("/")
# The account the province received for the integration, and its unit code (`madonvi`).
DVCQG_USERNAME = env.str("DVCQG_USERNAME", default="motcua-sandbox" if DVCQG_SANDBOX else "")
DVCQG_PASSWORD = env.str("DVCQG_PASSWORD", default="sandbox-password" if DVCQG_SANDBOX else "")
DVCQG_UNIT_CODE = env.str("DVCQG_UNIT_CODE", default="000.00.00.H55")
# Seconds before a call to the portal is given up (then retried with back-off).
DVCQG_TIMEOUT = env.float("DVCQG_TIMEOUT", default=10.0)
# A sync row that failed this many times is marked failed (shown to officers; retried by hand).
DVCQG_MAX_ATTEMPTS = env.int("DVCQG_MAX_ATTEMPTS", default=15)
# Back-off between attempts: this many seconds, doubled each time, at most DVCQG_RETRY_MAX_SECONDS.
DVCQG_RETRY_SECONDS = env.int("DVCQG_RETRY_SECONDS", default=30)
DVCQG_RETRY_MAX_SECONDS = env.int("DVCQG_RETRY_MAX_SECONDS", default=3600)
# The shared secret of the portal's webhook (HMAC-SHA256 of the body in X-DVCQG-Signature).
# Empty: the webhook is closed (new submissions are fetched).
DVCQG_WEBHOOK_SECRET = env.str("DVCQG_WEBHOOK_SECRET", default="sandbox-webhook-secret" if DVCQG_SANDBOX else "")
# Citizen sign-in with the national account (OpenID Connect, authorisation-code flow; Authlib).
# Empty issuer: no sign-in button. With the sandbox on: the sandbox's provider and its client.
DVCQG_OIDC_ISSUER = env.str(
    "DVCQG_OIDC_ISSUER", default=f"{SITE_URL}/sandbox/dvcqg/oidc" if DVCQG_SANDBOX else ""
).rstrip("/")
DVCQG_OIDC_CLIENT_ID = env.str("DVCQG_OIDC_CLIENT_ID", default="motcua-sandbox" if DVCQG_SANDBOX else "")
DVCQG_OIDC_CLIENT_SECRET = env.str("DVCQG_OIDC_CLIENT_SECRET", default="sandbox-client-secret" if DVCQG_SANDBOX else "")

# --- Signed electronic results (signing/; docs/signing.md) ------------------------
# The back end that signs approved results: "" (results are not signed, as before), "local" (a
# PKCS#12 file per leader or per agency in SIGNING_LOCAL_KEYSTORE_DIR) or "csc" (a remote-signing
# service speaking the Cloud Signature Consortium API: VNPT SmartCA, Viettel MySign…).
RESULT_SIGNING_BACKEND = env.str("RESULT_SIGNING_BACKEND", default="")
# The `local` back end: <username>.p12 (the leader's own) or <agency code>.p12 (the agency's) in
# this folder, opened with SIGNING_LOCAL_PASSPHRASE.
SIGNING_LOCAL_KEYSTORE_DIR = env.str("SIGNING_LOCAL_KEYSTORE_DIR", default=str(VAR_DIR / "signing" / "keystores"))
SIGNING_LOCAL_PASSPHRASE = env.str("SIGNING_LOCAL_PASSPHRASE", default="")
# The project's own CSC server (/sandbox/csc/: credentials, the leader's confirmation page, fault
# injection, a timestamp authority). Mounted only when on; `make run` turns it on. Never in production.
SIGNING_CSC_SANDBOX = env.bool("SIGNING_CSC_SANDBOX", default=False)
# The `csc` back end: the service's base URL (…/csc/v1) and the province's API key (Bearer token).
SIGNING_CSC_URL = env.str(
    "SIGNING_CSC_URL", default=f"{SITE_URL}/sandbox/csc/csc/v1" if SIGNING_CSC_SANDBOX else ""
).rstrip("/")
SIGNING_CSC_API_KEY = env.str("SIGNING_CSC_API_KEY", default="sandbox-api-key" if SIGNING_CSC_SANDBOX else "")
# Seconds for one HTTP call to the signing service or the TSA.
SIGNING_HTTP_TIMEOUT = env.float("SIGNING_HTTP_TIMEOUT", default=10.0)
# Seconds the approval waits for the leader's confirmation on the phone (keep it below the web
# server's worker timeout, GUNICORN_TIMEOUT), and how often it asks the service meanwhile.
SIGNING_CONFIRM_TIMEOUT = env.float("SIGNING_CONFIRM_TIMEOUT", default=45.0)
SIGNING_CONFIRM_POLL_SECONDS = env.float("SIGNING_CONFIRM_POLL_SECONDS", default=1.0)
# A trusted timestamp authority (RFC 3161); empty: the signing time is the signer's clock (PAdES B-B).
SIGNING_TSA_URL = env.str("SIGNING_TSA_URL", default="")
# PEM files of the root certificates a result's signature must chain to (the national root CA…).
SIGNING_TRUST_ROOTS = env.list("SIGNING_TRUST_ROOTS", default=[])
# The font of the visible signature block (it needs every Vietnamese glyph).
SIGNING_STAMP_FONT = env.str("SIGNING_STAMP_FONT", default="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# How long the citizen's download link of a signed result (lookup's `result_url`) stays valid.
SIGNING_RESULT_LINK_SECONDS = env.int("SIGNING_RESULT_LINK_SECONDS", default=24 * 3600)
# The sandbox: where it keeps its CA, and what it does (faults: "", "down", "refuse", "slow";
# auto-confirm after this many seconds, 0: wait for the confirmation page).
SIGNING_SANDBOX_DIR = env.str("SIGNING_SANDBOX_DIR", default=str(VAR_DIR / "signing" / "sandbox"))
SIGNING_SANDBOX_FAULT = env.str("SIGNING_SANDBOX_FAULT", default="")
SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS = env.float("SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS", default=0)

# --- Logging ----------------------------------------------------------------------
# Every handler masks ID numbers, phone numbers and PINs (motcua/log_privacy.py), including
# runserver's request lines ("django.server") and the Celery worker's output (no root hijack).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "motcua.log_privacy.MaskPersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_personal_data"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

"""Defensores settings: one module, every knob an environment variable.

Each variable is read through a small typed helper that raises ImproperlyConfigured,
naming the variable, when its value cannot be used. Defaults are safe for a developer's
machine; production must supply its own secrets (see docs/configuration.md).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

# Used only when SECRET_KEY is unset. config/wsgi.py and config/asgi.py refuse to
# serve with it when DEBUG is off, and `check --deploy` flags it (security.W009).
DEV_SECRET_KEY = "django-insecure-development-only-set-SECRET_KEY-in-production"  # nosec B105
# Used only when FIELD_ENCRYPTION_KEYS is unset; refused the same way when DEBUG is off.
DEV_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1maWVsZC1rZXktMDAwMDA="
# Used only when AUDIT_CHAIN_KEYS is unset; refused the same way when DEBUG is off.
DEV_AUDIT_CHAIN_KEY = "development-only-audit-chain-key-set-AUDIT_CHAIN_KEYS"  # nosec B105

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DATABASE_ENGINES = {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
}


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_fernet_keys(name: str, default: list[str]) -> list[str]:
    """Fernet keys, newest first (the first encrypts; all decrypt, for rotation)."""
    import base64
    import binascii

    keys = env_list(name, default)
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64 bytes). "
                "Make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )
    return keys


def env_secrets(name: str, default: list[str], *, min_length: int = 32) -> list[str]:
    """Secret keys, newest first, each at least `min_length` characters."""
    keys = env_list(name, default)
    for position, key in enumerate(keys, start=1):
        if len(key) < min_length:
            raise ImproperlyConfigured(
                f"{name}: key {position} is shorter than {min_length} characters. Make one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
    return keys


def env_database(name: str, default: str) -> dict:
    url = env_str(name, default)
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:  # dj-database-url raises ValueError or KeyError
        raise ImproperlyConfigured(
            f"{name} is not a usable database URL ({exc}). Expected "
            "sqlite:////absolute/path.sqlite3 or postgres://user:password@host:5432/name."
        ) from None
    if config.get("ENGINE") not in _DATABASE_ENGINES:
        raise ImproperlyConfigured(
            f"{name} names an unsupported database ({config.get('ENGINE')}): "
            "only SQLite and PostgreSQL are supported."
        )
    if not config.get("NAME") or config["NAME"] == ":memory:":
        raise ImproperlyConfigured(
            f"{name} has no database name (an in-memory database would lose every record)."
        )
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
    else:
        # The demo server answers requests in threads (autocomplete while a case is saved,
        # and every request saves the session) beside a worker whose import writes in one
        # transaction for as long as a minute: take SQLite's write lock when a transaction
        # starts, and wait for it, instead of failing with "database is locked"; and keep a
        # write-ahead log, so that pages that only read are never held up by one that writes.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 90,
            "init_command": "PRAGMA journal_mode=WAL",
        }
    return config


DEBUG = env_bool("DEBUG", False)
# Behind a TLS proxy every request comes from the proxy's address: say how many proxies to
# trust (lockout, throttles and logs then read the client's address from X-Forwarded-For).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
# Encrypts the most sensitive fields (contact data, witness identity). Not SECRET_KEY:
# rotating one must not touch the other. Comma-separated, newest first.
FIELD_ENCRYPTION_KEYS = env_fernet_keys("FIELD_ENCRYPTION_KEYS", [DEV_FIELD_ENCRYPTION_KEY])
# Keys the audit chain's HMAC is made with (core.audit), kept out of the database so
# that whoever can write to it cannot rewrite the history unseen. Comma-separated, newest
# first: the first chains new rows, all verify old ones.
AUDIT_CHAIN_KEYS = env_secrets("AUDIT_CHAIN_KEYS", [DEV_AUDIT_CHAIN_KEY])
# Each anchor of the chain's heads (verify_audit) is also appended here, one JSON line each,
# when set: a file on another disk or a mount that the database's users cannot write.
AUDIT_ANCHOR_FILE = env_str("AUDIT_ANCHOR_FILE", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A PostgreSQL streaming replica for reports and exports (core/routers.py, docs/replica.md).
if os.environ.get("DATABASE_REPLICA_URL", "").strip():
    DATABASES["replica"] = env_database("DATABASE_REPLICA_URL", "")
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or (
        DATABASES["replica"]["ENGINE"] != "django.db.backends.postgresql"
    ):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL needs PostgreSQL, in DATABASE_URL too: the replica is a "
            "streaming standby of the primary."
        )
    # A replica that does not answer is given up on (reads go to the primary) after 2 s.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # Tests read the primary's test database on the replica, which replication brings
    # over: MIRROR gives the alias its name and Django neither creates nor flushes it there.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# Reads go to the primary while the replica is further behind than this.
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 5)
# After a write, the same browser reads from the primary this long, to see what it saved:
# longer than the lag allowed, plus the second the replica's health is kept (core.routers).
REPLICA_PIN_SECONDS = env_int(
    "REPLICA_PIN_SECONDS", REPLICA_MAX_LAG_SECONDS + 5, minimum=REPLICA_MAX_LAG_SECONDS + 2
)
DATABASE_ROUTERS = ["core.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # the admin, on the two-factor site of config/admin.py
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' assets, served by us: no CDN
    "simple_history",
    "nested_admin",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "two_factor",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    # Ours, lowest layer first: each app imports only those above it in this list.
    "core",
    "accounts",
    "notifications",
    "organizations",
    "cases",
    "legal",
    "reports",
    "api",
    "home",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A request with NUL or another control character gets a 400 before anything else.
    "core.middleware.ControlCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Restarts the idle timeout, writing the session at most once a minute.
    "accounts.middleware.IdleTimeoutMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # After a write, the same browser reads from the primary for a moment (core.routers).
    "core.routers.ReadYourWritesMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks request.user as verified once the second factor is passed in this session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records request.user as the author of every history row written in a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Pages about cases must not linger in browser or proxy caches.
    "core.middleware.NoStoreMiddleware",
    # Last: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Lockout (django-axes) wraps the password check; it needs the request, so every login goes
# through a view (tests included).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out accounts, checks nothing else
    # Django's ModelBackend, reading the permissions in the user's own query.
    "accounts.backends.OneQueryModelBackend",
]
LOGIN_URL = "two_factor:login"
LOGIN_REDIRECT_URL = "admin:index"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.unread",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Spanish first, English on request (Accept-Language or the language cookie).
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Caracas"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# whitenoise serves static files in production (after `collectstatic`), compressed; on a
# developer's machine straight from the apps.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Source files (testimonies, documents) are confidential: MEDIA_ROOT is never served
# by the web server directly.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# Security. Off DEBUG everything is on by default; `check --deploy` is then clean with only
# DEBUG, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and FIELD_ENCRYPTION_KEYS set.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# "__Host-" cookies: HTTPS only, this host only, whole site (no Domain attribute possible).
SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Idle timeout: the session ends after this many minutes without a request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
# Each request restarts it, to the minute (accounts.middleware.IdleTimeoutMiddleware).
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content Security Policy: no third-party anything, no plugins, no framing, no <base>.
# Styles allow inline attributes, which the admin and its widgets set; scripts do not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    # Deny by default: every API view needs an authenticated user unless it says otherwise.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.IsVerified",
    ],
    # Staff use their two-factor admin session; allies' keys are accepted by the /api/v1
    # export views only (api.base.LoggedMixin), never by default.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only (and CSV where a view offers it): no browsable HTML forms.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The client's address for throttles: the one the trusted proxies saw, never a
    # X-Forwarded-For header as the client sent it.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Requests per key (or staff user, or anonymous address): "<n>/second|minute|hour|day".
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute")
# Full exports (each streams everything that matches) per key, and refused keys per address.
API_EXPORT_THROTTLE_RATE = env_str("API_EXPORT_THROTTLE_RATE", "60/hour")
API_FAILED_KEY_RATE = env_str("API_FAILED_KEY_RATE", "30/minute")
# Requests with no key at all, per address (each is answered 401 and logged).
API_ANONYMOUS_RATE = env_str("API_ANONYMOUS_RATE", "30/minute")
# The changes feed tells clients to ask again from this long before its last answer, so a
# transaction that committed late is never missed (events are idempotent).
API_CHANGES_OVERLAP_SECONDS = env_int("API_CHANGES_OVERLAP_SECONDS", 300)

SPECTACULAR_SETTINGS = {
    "TITLE": "Defensores API",
    "DESCRIPTION": (
        "Read-only export of published, public data for allied organizations. "
        "Send `Authorization: Bearer <key>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.base.IsAllyOrStaffReader"],
    "SERVE_AUTHENTICATION": [
        "api.base.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": "organizations.vocabularies.State",
        "PerpetratorCategoryEnum": "organizations.vocabularies.PerpetratorCategory",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.base.schema_error_responses",
    ],
}

# Throttling counts in the cache: shared by every worker when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }

# Background work (imports, long exports) through Django's tasks framework (django-tasks).
# "database" (the default): queued in the database itself, run by `manage.py db_worker`;
# "rq": queued in Redis (TASKS_REDIS_URL, else REDIS_URL), run by `manage.py rqworker`, for
# workers on several machines.
TASKS_BACKEND = env_choice("TASKS_BACKEND", "database", ("database", "rq"))
TASKS_REDIS_URL = env_str("TASKS_REDIS_URL", "") or REDIS_URL or "redis://127.0.0.1:6379/0"
TASK_BACKENDS = {
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
}
TASKS = {"default": TASK_BACKENDS[TASKS_BACKEND]}
# An import of the largest file allowed takes minutes: RQ would otherwise stop it at 3.
RQ_QUEUES = {"default": {"URL": TASKS_REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
# A task that reported no progress for this long is taken as lost (its worker killed): its
# user may start it again.
TASK_STALE_MINUTES = env_int("TASK_STALE_MINUTES", 10, minimum=1)

# History is append-only: no "revert to this version" button that would skip the
# services' checks (status transitions, validation).
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# Two-factor login (TOTP and printed backup codes; no SMS).
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Defensores")
TWO_FACTOR_PATCH_ADMIN = False  # config/admin.py is the two-factor admin site
TWO_FACTOR_REMEMBER_COOKIE_AGE = None  # every login asks for the second factor

# Lockout (accounts.lockout): AXES_FAILURE_LIMIT failed logins of one username from one
# address lock that pair only, for 15 minutes, doubling with each lockout in a day; a
# coordinator may unlock at once. Someone else's failures never lock a colleague out.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_COOLOFF_TIME = "accounts.lockout.cool_off"
# Attempts during a lock do not restart it (nor make the next one longer).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# The client's address behind TRUSTED_PROXY_COUNT proxies; an IPv6 caller by its /64.
AXES_CLIENT_IP_CALLABLE = "accounts.addresses.lockout_address"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False

SECURITY_LOG_RETENTION_DAYS = env_int("SECURITY_LOG_RETENTION_DAYS", 730, minimum=1)

# Spreadsheet imports: larger files, or more rows, are refused with a message (split them).
IMPORT_MAX_MEGABYTES = env_int("IMPORT_MAX_MEGABYTES", 20, minimum=1)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 100_000, minimum=1)
# An XLSX is a ZIP: a workbook that would decompress to more than this is refused before it
# is read (100,000 rows of the template are about 100 MB of XML).
IMPORT_MAX_UNCOMPRESSED_MEGABYTES = env_int("IMPORT_MAX_UNCOMPRESSED_MEGABYTES", 250, minimum=1)
# The incident list's export: up to this many rows it is made in the request; more, and it is
# made in the background and left as a link, valid this many hours for whoever asked.
EXPORT_INLINE_ROWS = env_int("EXPORT_INLINE_ROWS", 5000, minimum=1)
EXPORT_LINK_HOURS = env_int("EXPORT_LINK_HOURS", 24, minimum=1)

# The public bulletin (/boletin/): the published months, without a login. On in development
# (the demo), off in production unless asked for.
PUBLIC_BULLETIN = env_bool("PUBLIC_BULLETIN", DEBUG)
# Who publishes the bulletin: its name and logo (a PNG or SVG file) on every PDF.
ORGANIZATION_NAME = env_str("ORGANIZATION_NAME", "Defensores")
ORGANIZATION_LOGO = env_str("ORGANIZATION_LOGO", "")

# Webhooks for allies (api/webhooks.py; `webhooks_due` every minute): tries before a
# delivery is given up, the receiver's time to answer, and the replay window receivers are
# told to enforce. HTTP and private addresses only when asked for (a receiver on one's own
# machine while developing; the tests).
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_REPLAY_WINDOW_SECONDS = env_int("WEBHOOK_REPLAY_WINDOW_SECONDS", 300, minimum=30)
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", False)
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)

# Archived copies of the links sources cite (cases/archiving.py; `archive_due` every few
# minutes retries sites that were down): the most kept of one page, the time allowed to
# fetch it, tries before giving up. ARCHIVE_TRUSTED_HOSTS ("host:port", e.g. a test server)
# may be fetched although private: never set it in production.
ARCHIVE_MAX_BYTES = env_int("ARCHIVE_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
ARCHIVE_TIMEOUT_SECONDS = env_int("ARCHIVE_TIMEOUT_SECONDS", 30, minimum=1)
ARCHIVE_MAX_ATTEMPTS = env_int("ARCHIVE_MAX_ATTEMPTS", 6, minimum=1)
ARCHIVE_TRUSTED_HOSTS = env_list("ARCHIVE_TRUSTED_HOSTS", [])

# Notifications by e-mail (notifications/): Django's e-mail backends. The console in
# development (the demo prints each e-mail); in production SMTP (EMAIL_HOST…) or a provider
# through django-anymail (EMAIL_BACKEND="anymail.backends.<provider>.EmailBackend", with
# ANYMAIL_API_KEY). Links in e-mails start with SITE_URL.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "defensores@localhost")
ANYMAIL = {"API_KEY": env_str("ANYMAIL_API_KEY", "")}
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Commands, imports and the demo loader act as this user in the history.
SYSTEM_USERNAME = env_str("SYSTEM_USERNAME", "sistema")
# Four eyes: a reviewer may not verify or publish a case they sent to review or last changed
# (a coordinator may waive it, saying why).
FOUR_EYES = env_bool("FOUR_EYES", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # axes logs every attempt at INFO (the security log keeps what matters), WeasyPrint
    # each step of every PDF.
    "loggers": {"axes": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    },
}

"""Parley settings: everything comes from the environment (and `.env` when present).

Unset DATABASE_URL / REDIS_URL give the embedded default (SQLite, in-memory channel
layer, in-process outbound worker); set, they give PostgreSQL + Redis with separate
worker processes. Every variable read here is listed in `.env.example` and the README.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    # Development only: a fixed key so sessions survive restarts of `make run`.
    SECRET_KEY = "django-insecure-parley-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The https origin Plivo reaches us at; webhook URLs and their signatures are built from it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "conversations",
    "webhooks",
]

# WhiteNoise comes last, not second as its docs suggest: it is the only sync-only middleware,
# and under ASGI every async-capable middleware outside it switched threads twice per request
# (about half of the server's CPU per request, bench/webhook_ingest.py). Last, the whole chain
# runs in one thread; static files still get every response header (CSP, HSTS, nosniff).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "messaging_site.errors.ApplicationErrorMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "conversations.privacy.audit.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "messaging_site.urls"

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
            ],
        },
    },
]

ASGI_APPLICATION = "messaging_site.asgi.application"

# --- Database ---------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if DATABASE_IS_POSTGRES:
    # Under ASGI every request runs on its own thread; persistent per-thread connections
    # exhaust PostgreSQL's slots under load, so connections come from a bounded pool.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Survive a PostgreSQL restart: the pool checks a connection before lending it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
        },
        "connect_timeout": 5,
        # A row held by a stuck transaction fails a statement after this long instead of
        # piling up waiters: a request answers 503, the webhook worker retries that receipt.
        "options": f"-c lock_timeout={env.int('DATABASE_LOCK_TIMEOUT_MS', default=3000)}",
    }
else:
    DATABASES["default"]["OPTIONS"] = {
        # The embedded default runs the web server and the outbound worker against one
        # file: WAL lets readers proceed during writes, IMMEDIATE avoids upgrade deadlocks.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so that browser tests can serve the test database from
    # another thread or process.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str(
            "SQLITE_TEST_NAME",
            default=os.path.join(tempfile.gettempdir(), f"parley-test-{os.getpid()}.sqlite3"),
        )
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# A socket's consumer renews its group memberships every third of this; a channel whose process
# died without leaving (SIGKILL, a lost Redis) stops being sent events after it.
CHANNEL_GROUP_EXPIRY_SECONDS = env.int("CHANNEL_GROUP_EXPIRY_SECONDS", default=300)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "conversations.channel_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # The layer's blocking pop waits 5 s for a message; redis-py 8's default
                        # read timeout is 5 s too, so an idle socket's receive timed out and the
                        # socket died (1011) every 5 s. Reads get a margin over the pop instead.
                        "socket_timeout": 15,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        # Per process, blocking: a burst of commands queues for a connection.
                        "max_connections": 50,
                        "pool_timeout": 10,
                    }
                ],
                "capacity": 1000,
                "expiry": 30,
                "group_expiry": CHANNEL_GROUP_EXPIRY_SECONDS,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"group_expiry": CHANNEL_GROUP_EXPIRY_SECONDS},
        }
    }

# --- Outbound queue ----------------------------------------------------------------------
# OutboundJob is the queue. Embedded default: the web process drains it itself (one command
# runs everything). Production (DATABASE_URL set): run `manage.py run_outbound_worker` processes.
OUTBOUND_WORKER_EMBEDDED = env.bool("OUTBOUND_WORKER_EMBEDDED", default=not DATABASE_IS_POSTGRES)
# Sends in flight per worker process (threads): a slow or hanging request holds only its own.
OUTBOUND_CONCURRENCY = env.int("OUTBOUND_CONCURRENCY", default=16)
if OUTBOUND_CONCURRENCY < 1:
    raise ImproperlyConfigured("OUTBOUND_CONCURRENCY must be at least 1.")
# Reports (issue 16): how often the outbound worker takes recent changes into the report rollups.
REPORTS_REFRESH_SECONDS = env.float("REPORTS_REFRESH_SECONDS", default=30.0)
OUTBOUND_MAX_ATTEMPTS = env.int("OUTBOUND_MAX_ATTEMPTS", default=5)
OUTBOUND_RETRY_BASE_SECONDS = env.float("OUTBOUND_RETRY_BASE_SECONDS", default=20.0)
OUTBOUND_LEASE_SECONDS = env.int("OUTBOUND_LEASE_SECONDS", default=60)
OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS = env.int("OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS", default=600)
# An accepted send without a delivery report for this long is looked up at Plivo.
OUTBOUND_REPORT_TIMEOUT_SECONDS = env.int("OUTBOUND_REPORT_TIMEOUT_SECONDS", default=600)
# The outbound worker deletes inbox events older than this (hourly); a page idle for longer
# reloads instead of catching up.
INBOX_EVENT_RETENTION_DAYS = env.int("INBOX_EVENT_RETENTION_DAYS", default=7)
OUTBOUND_SEND_RATE = env.str("OUTBOUND_SEND_RATE", default="60/min")
# An agent's reply in an unassigned conversation assigns it to them.
AUTO_ASSIGN_ON_REPLY = env.bool("AUTO_ASSIGN_ON_REPLY", default=True)

# --- Webhook intake ----------------------------------------------------------------------------
# Plivo's callbacks are committed as receipts and answered at once; a webhook worker applies
# them to the inbox. Embedded default: a thread of the web process. Production: run
# `manage.py run_webhook_worker` processes.
WEBHOOK_WORKER_EMBEDDED = env.bool("WEBHOOK_WORKER_EMBEDDED", default=not DATABASE_IS_POSTGRES)
WEBHOOK_RECEIPT_RETENTION_DAYS = env.int("WEBHOOK_RECEIPT_RETENTION_DAYS", default=7)
# /readyz/ answers 503 once a received callback has waited this long for a webhook worker.
READYZ_MAX_RECEIPT_AGE_SECONDS = env.int("READYZ_MAX_RECEIPT_AGE_SECONDS", default=120)
# A V2 nonce is refused with another request for this long; Plivo retries for up to 24 hours.
WEBHOOK_V2_NONCE_RETENTION_DAYS = env.int("WEBHOOK_V2_NONCE_RETENTION_DAYS", default=30)
if WEBHOOK_V2_NONCE_RETENTION_DAYS < 2:
    raise ImproperlyConfigured("WEBHOOK_V2_NONCE_RETENTION_DAYS must be at least 2: Plivo retries a callback for up to 24 hours.")
# Request bodies above this are refused with 413 before Django reads them
# (messaging_site/body_limit.py); keep the proxy's body cap at or below it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# --- Plivo ---------------------------------------------------------------------------------
PLIVO_AUTH_ID = env.str("PLIVO_AUTH_ID", default="")
PLIVO_AUTH_TOKEN = env.str("PLIVO_AUTH_TOKEN", default="")
PLIVO_MAIN_AUTH_TOKEN = env.str("PLIVO_MAIN_AUTH_TOKEN", default="")
# V2 signatures cover only the URL and a nonce; switch them off once the signature-family
# tallies in the admin show Plivo sends V3.
PLIVO_ACCEPT_V2_SIGNATURES = env.bool("PLIVO_ACCEPT_V2_SIGNATURES", default=True)
PLIVO_WHATSAPP_NUMBER = env.str("PLIVO_WHATSAPP_NUMBER", default="")
PLIVO_SMS_NUMBER = env.str("PLIVO_SMS_NUMBER", default="")
PLIVO_API_BASE_URL = env.str("PLIVO_API_BASE_URL", default="https://api.plivo.com").rstrip("/")
PLIVO_API_TIMEOUT_SECONDS = env.float("PLIVO_API_TIMEOUT_SECONDS", default=5.0)
# Plivo's account-wide API limit ("<requests>/<seconds>s"), shared by every worker process
# (through PostgreSQL; per process with SQLite). Every request counts: sends and lookups.
PLIVO_API_RATE_LIMIT = env.str("PLIVO_API_RATE_LIMIT", default="300/5s")
# Messages per second each sender number may be given ("+14155550199=5,+14155550100=80");
# Plivo queues what exceeds a number's MPS and expires it after 3 hours. Unlisted: unpaced.
PLIVO_SENDER_MPS = env.str("PLIVO_SENDER_MPS", default="")

# The local Plivo simulator: on by default for a DEBUG checkout without a Plivo account.
PLIVO_SIMULATOR = env.bool("PLIVO_SIMULATOR", default=DEBUG and not PLIVO_AUTH_ID)
if PLIVO_SIMULATOR and not DEBUG:
    raise ImproperlyConfigured("PLIVO_SIMULATOR can only be switched on together with DEBUG.")
if PLIVO_SIMULATOR:
    INSTALLED_APPS.append("simulator")
    SIMULATOR_AUTH_ID = "MAPARLEYSIMULATOR000"  # Plivo's shape: "MA" + 18 characters
    SIMULATOR_AUTH_TOKEN = "parley-simulator-auth-token"
    PLIVO_AUTH_ID = PLIVO_AUTH_ID or SIMULATOR_AUTH_ID
    PLIVO_AUTH_TOKEN = PLIVO_AUTH_TOKEN or SIMULATOR_AUTH_TOKEN
    PLIVO_WHATSAPP_NUMBER = PLIVO_WHATSAPP_NUMBER or "+14155550100"
    PLIVO_SMS_NUMBER = PLIVO_SMS_NUMBER or "+14155550199"
    _local_origin = f"http://127.0.0.1:{env.int('PORT', default=8000)}"
    PUBLIC_BASE_URL = PUBLIC_BASE_URL or _local_origin
    if "PLIVO_API_BASE_URL" not in os.environ:
        PLIVO_API_BASE_URL = f"{PUBLIC_BASE_URL}/simulator/plivo"
    # Seconds after acceptance of the simulated queued, sent, delivered (and read) reports.
    SIMULATOR_REPORT_DELAYS = env.list("SIMULATOR_REPORT_DELAYS", cast=float, default=[0.5, 1.0, 2.0, 4.0])

# Phone numbers typed without a country code are read in this region.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US")

# --- Auth, sessions, security -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Brute-force protection (django-axes), for the inbox and the admin sign-in alike: after
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is locked
# out for LOGIN_LOCKOUT_MINUTES (429), even with the right password. The address is the
# peer's own unless a trusted proxy in front of us sets X-Forwarded-For.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
    AXES_IPWARE_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
else:  # nobody trustworthy sets X-Forwarded-For: a client could rotate it to dodge the lockout
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)

# Content-Security-Policy (django-csp 4): no inline script anywhere, admin included.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Media only from Parley (the authenticated media view): a customer-controlled host
        # never learns an agent's address or when they read the conversation.
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'", "ws:", "wss:"] if DEBUG else ["'self'", "wss:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Attachments and inbound media -------------------------------------------------------------
# Files live in Django's default storage: the local MEDIA_ROOT, or any django-storages backend
# (MEDIA_STORAGE_BACKEND=storages.backends.s3.S3Storage with MEDIA_STORAGE_OPTIONS as JSON,
# e.g. {"bucket_name": "parley-media", "endpoint_url": "https://..."}; boto3 reads the AWS_*
# credentials from the environment). Never served publicly: agents load them through /inbox/media/.
MEDIA_ROOT = env.str("MEDIA_ROOT", default="") or str(BASE_DIR / "media")
MEDIA_URL = "/inbox/media/"
MEDIA_STORAGE_BACKEND = env.str("MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
MEDIA_STORAGE_OPTIONS = env.json("MEDIA_STORAGE_OPTIONS", default={})
# The largest file an agent may upload (WhatsApp's document limit); each channel's own limits apply too.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=100 * 1024 * 1024)
# An upload not sent within this many hours is deleted (the outbound worker checks hourly).
ATTACHMENT_UNSENT_RETENTION_HOURS = env.int("ATTACHMENT_UNSENT_RETENTION_HOURS", default=24)
# Inbound media: larger files are not downloaded (the message says so); failed downloads are
# tried again with backoff (INBOUND_MEDIA_RETRY_BASE_SECONDS, doubling) up to INBOUND_MEDIA_MAX_ATTEMPTS.
INBOUND_MEDIA_MAX_BYTES = env.int("INBOUND_MEDIA_MAX_BYTES", default=100 * 1024 * 1024)
INBOUND_MEDIA_MAX_ATTEMPTS = env.int("INBOUND_MEDIA_MAX_ATTEMPTS", default=6)
INBOUND_MEDIA_RETRY_BASE_SECONDS = env.float("INBOUND_MEDIA_RETRY_BASE_SECONDS", default=30.0)
INBOUND_MEDIA_TIMEOUT_SECONDS = env.float("INBOUND_MEDIA_TIMEOUT_SECONDS", default=30.0)

# --- Privacy (issue 17) ----------------------------------------------------------------------
# Erase message content older than this many days (0: keep it; the default).
MESSAGE_RETENTION_DAYS = env.int("MESSAGE_RETENTION_DAYS", default=0)
# The key of the suppression list's number hashes; empty: SECRET_KEY. Changing it forgets the list.
PRIVACY_HASH_KEY = env.str("PRIVACY_HASH_KEY", default="")
# Marketing campaigns only to contacts with a recorded opt-in on the channel.
CAMPAIGN_REQUIRE_OPT_IN = env.bool("CAMPAIGN_REQUIRE_OPT_IN", default=False)

# --- Campaigns (issue 15) ----------------------------------------------------------------------
# No campaign message outside this window of the recipient's local time (from their number);
# TCPA's 08:00-21:00 by default. Empty: no quiet hours.
CAMPAIGN_QUIET_HOURS = env.str("CAMPAIGN_QUIET_HOURS", default="08:00-21:00")

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["conversations.permissions.IsAgent"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "conversations.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"send": OUTBOUND_SEND_RATE},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Send and read WhatsApp and SMS conversations handled by Parley.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "conversations.models.Conversation.Status",
        "MessageStatusEnum": "conversations.models.MessageStatus",
        "TemplateStatusEnum": "conversations.models.MessageTemplate.Status",
        "MessageKindEnum": "conversations.models.Message.Kind",
        "SendKindEnum": "conversations.outbound.KINDS",
    },
}

# --- i18n, static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": MEDIA_STORAGE_BACKEND, "OPTIONS": MEDIA_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "messaging_site.staticfiles.ParleyStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Logging: one line per event, never a secret ---------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

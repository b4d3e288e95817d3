"""Settings for runware-web, read from the environment (see the README's configuration table).

The defaults are the embedded set-up: a SQLite file, the in-memory channel layer, local media and
the project's own Runware simulator. Production sets DATABASE_URL, REDIS_URL, RUNWARE_API_KEY,
DJANGO_SECRET_KEY and (optionally) S3 media.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from runware_web.lib.env import (
    env_bool,
    env_decimal,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("RUNWARE_WEB_DATA_DIR") or BASE_DIR / ".data")
DATA_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file and local media live here

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_DEBUG is off. "
            "For local use, `python3 manage.py up` makes one and keeps it in the data directory."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first, so that `runserver` is Daphne's ASGI server
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",  # failed-login throttling (see AUTHENTICATION_BACKENDS)
    # Single sign-on with OpenID Connect (runware_web.accounts.sso): installed always, so the tables
    # exist whatever the environment; the provider is configured only when RUNWARE_WEB_SSO_* are set.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "channels",
    "django_htmx",
    "template_partials",
    "runware_web",  # project-level commands (up, runtests), template tags
    # The portal's layers, lowest first (docs/architecture.md; import-linter holds them):
    "runware_web.lib",  # small shared helpers and template filters
    "runware_web.accounts",  # members and teams
    "runware_web.upstream",  # Task and Worker, the Runware client, error mapping
    "runware_web.money",  # the ledger, admission, budgets, the one price source
    "runware_web.media",  # the media store: files, uploads, access, references
    # runware_web.runner (the life of a task) and runware_web.live (the socket base) hold no models.
    "runware_web.studio",  # pages and features, which never import each other
    "runware_web.gallery",
    "runware_web.history",
    "runware_web.catalog",
    "runware_web.chat",
    "runware_web.tools",
    "runware_web.spend",
    "runware_web.video",
    "runware_web.audio",
    "runware_web.threed",
    "runware_web.activity",  # every running task of the member, in the header
    "runware_web.endpoint",  # the Runware-compatible endpoint at /v1, and members' API keys
    "runware_web.simulator",  # apart: imports nothing of the portal
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "runware_web.lib.streaming.StaticFilesMiddleware",  # WhiteNoise, sending files as it reads them
    "runware_web.content_policy.ContentSecurityPolicyMiddleware",  # the CSP header and request.csp_nonce
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",  # django-allauth requires it (single sign-on)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "runware_web.media.middleware.StorageFullMiddleware",  # a full disk: a page saying so, not a 500
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires: turns a lockout into the login page
]

ROOT_URLCONF = "runware_web.urls"
ASGI_APPLICATION = "runware_web.asgi.application"
WSGI_APPLICATION = None

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
                "runware_web.context_processors.portal",
            ],
            "builtins": ["template_partials.templatetags.partials", "runware_web.lib.templatetags.portal"],
        },
    },
]

# --- database -----------------------------------------------------------------------------------
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so budget admission (a read then a
    # write) cannot interleave; WAL lets readers proceed while a task's results are written.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
    # Channels closes "old" connections around every database_sync_to_async call; with a max
    # age of 0 that is a reconnect per call. SQLite connections are cheap to keep.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0)
elif env_bool("DATABASE_POOL", True):
    # Under ASGI, Django recommends a connection pool over persistent connections.
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": env_int("DATABASE_POOL_SIZE", 20, minimum=2)}}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
# PostgreSQL may end a connection while it sits idle (a failover, a restart, an idle reaper): the pool,
# or a kept connection, is checked before each request or database_sync_to_async call uses it, so a
# dead one is replaced instead of failing the page (one round trip; nothing on SQLite). A connection
# dropped while in use is the runner's to write again on (lib.reconnect).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- channels and cache -------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer, whose sockets outlive a Redis outage (see live.layer).
            "BACKEND": "runware_web.live.layer.OutageTolerantLayer",
            "CONFIG": {
                "hosts": [{
                    "address": REDIS_URL,
                    # redis-py's default pool stops at 100 connections: one worker holds far more sockets.
                    "max_connections": 2000,
                    # channels_redis waits for messages with a blocking read of 5 s (brpop_timeout);
                    # redis-py 8 abandons any read after 5 s by default, which killed idle consumers.
                    "socket_timeout": 15,
                }],
                "capacity": 1000,
                # All the sockets of one worker share one inbox in Redis ("specific.<worker>!…"),
                # and channels_redis drops group messages for it beyond its capacity: sized for
                # hundreds of sockets whose worker falls behind, not for one.
                "channel_capacity": {"specific.*": 20000},
                "expiry": 30,
            },
        }
    }
    # Pages read the cache: a Redis that stops answering costs them at most a couple of seconds (lib.cache).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth -----------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A password-reset link works once (Django's token changes with the password) and for this long.
PASSWORD_RESET_TIMEOUT = env_int("RUNWARE_WEB_PASSWORD_RESET_MINUTES", 60, minimum=5) * 60
# How long an invitation link works unless its creator picks another expiry (runware_web.accounts.invitations).
INVITATION_DEFAULT_DAYS = env_int("RUNWARE_WEB_INVITATION_DAYS", 7, minimum=1)

# Failed logins are throttled by django-axes, per username and address together: a member's typos
# lock out neither their colleagues behind the same NAT nor themselves from another address. The
# address is REMOTE_ADDR, which Daphne's --proxy-headers sets from the reverse proxy's
# X-Forwarded-For (docs/deployment.md); a header sent by the client itself is never read.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("RUNWARE_WEB_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = env_int("RUNWARE_WEB_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("RUNWARE_WEB_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a correct password clears the count of earlier typos
AXES_DISABLE_ACCESS_LOG = True  # failures are recorded; successful logins are not (one row per login)
AXES_LOCKOUT_CALLABLE = "runware_web.accounts.lockout.lockout_response"  # the login page, saying until when
AXES_VERBOSE = False  # no banner on every start of every command

# --- single sign-on (OpenID Connect, through django-allauth; runware_web.accounts.sso) -----------
# Off unless the issuer, client id and secret are all set. The login page keeps its password form
# and shows one more button. RUNWARE_WEB_SSO_TEAM_DOMAINS ("example.com=Pixels, corp.example=Ops")
# puts a person signing in for the first time into that team when the provider verified the address.
SSO_ISSUER = env_str("RUNWARE_WEB_SSO_ISSUER")
SSO_CLIENT_ID = env_str("RUNWARE_WEB_SSO_CLIENT_ID")
SSO_CLIENT_SECRET = env_secret("RUNWARE_WEB_SSO_CLIENT_SECRET")
SSO_BUTTON_LABEL = env_str("RUNWARE_WEB_SSO_LABEL", "Sign in with single sign-on")
SSO_TEAM_DOMAINS = {
    domain.strip().lower(): team.strip()
    for domain, _, team in (pair.partition("=") for pair in env_list("RUNWARE_WEB_SSO_TEAM_DOMAINS", []))
    if domain.strip() and team.strip()
}
_sso_given = {"RUNWARE_WEB_SSO_ISSUER": SSO_ISSUER, "RUNWARE_WEB_SSO_CLIENT_ID": SSO_CLIENT_ID,
              "RUNWARE_WEB_SSO_CLIENT_SECRET": SSO_CLIENT_SECRET}
if any(_sso_given.values()) and not all(_sso_given.values()):
    raise ImproperlyConfigured("Single sign-on needs all of " + ", ".join(_sso_given) + "; missing: "
                               + ", ".join(name for name, value in _sso_given.items() if not value) + ".")
SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": [{
    "provider_id": "sso", "name": SSO_BUTTON_LABEL, "client_id": SSO_CLIENT_ID, "secret": SSO_CLIENT_SECRET,
    "settings": {"server_url": SSO_ISSUER},
}] if SSO_ISSUER else []}}
ACCOUNT_ADAPTER = "runware_web.accounts.sso.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "runware_web.accounts.sso.SocialAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"  # the provider vouches for the address; the portal sends no checks
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_AUTO_SIGNUP = True  # the first sign-in makes the account, with no extra form
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an SSO address never takes over an existing password account
SOCIALACCOUNT_STORE_TOKENS = False  # the provider's tokens are not kept
SOCIALACCOUNT_LOGIN_ON_GET = False  # the button posts (with its CSRF token); a link cannot start a sign-in

# --- email --------------------------------------------------------------------------------------
# Password resets and invitations. Without EMAIL_HOST mail is printed on the console (local use);
# production sets EMAIL_HOST and sends through SMTP.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS (STARTTLS, usually port 587) and EMAIL_USE_SSL (port 465) "
                               "exclude each other: set one of them.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)  # seconds: a dead mail server fails the send, not the worker
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "runware-web <noreply@localhost>")

# --- i18n ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- static and media ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up when it is missing
MEDIA_ROOT = Path(env_str("RUNWARE_WEB_MEDIA_ROOT") or DATA_DIR / "media")
MEDIA_URL = "/media/"  # never served directly: files go through access-checked views
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

S3_BUCKET = env_str("RUNWARE_WEB_S3_BUCKET")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("RUNWARE_WEB_S3_ENDPOINT_URL") or None,
            "region_name": env_str("RUNWARE_WEB_S3_REGION") or None,
            "access_key": env_secret("RUNWARE_WEB_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_secret("RUNWARE_WEB_S3_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,  # signed, expiring URLs
            "querystring_expire": env_int("RUNWARE_WEB_S3_URL_SECONDS", 600, minimum=30),
            "signature_version": "s3v4",  # what AWS and S3-compatible stores accept everywhere
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or WHITENOISE_USE_FINDERS
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- security -----------------------------------------------------------------------------------
_production = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", _production)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", _production)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000 if _production else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", _production)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", _production)
if env_bool("DJANGO_BEHIND_TLS_PROXY", _production):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"


# --- Content-Security-Policy (django-csp; runware_web.content_policy) ----------------------------
def _bucket_origins() -> list[str]:
    """Where the browser fetches originals from: `gallery:file` redirects to signed bucket URLs
    (path-style on a custom endpoint, virtual-hosted on AWS; both forms are named)."""
    if not S3_BUCKET:
        return []
    endpoint = urlsplit(env_str("RUNWARE_WEB_S3_ENDPOINT_URL") or "")
    if endpoint.netloc:
        return [f"{endpoint.scheme}://{endpoint.netloc}", f"{endpoint.scheme}://{S3_BUCKET}.{endpoint.netloc}"]
    region = env_str("RUNWARE_WEB_S3_REGION")
    regional = [f"https://{S3_BUCKET}.s3.{region}.amazonaws.com"] if region else []
    return [f"https://{S3_BUCKET}.s3.amazonaws.com", *regional]


# No inline script or style without the response's nonce (`request.csp_nonce`; base.html hands it to
# `{% htmx_script %}`), no eval (htmx's `allowEval` is off too). Images may also come over https: the
# model pictures of Runware's catalogue live on hosts Runware picks, and an image cannot run code
# (chat replies render no images). The socket is same-origin: 'self' covers ws: and wss: to this host.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:", "https:", *_bucket_origins()],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Runware ------------------------------------------------------------------------------------
RUNWARE_API_KEY = env_secret("RUNWARE_API_KEY")
# No key: the portal talks to the project's simulator (started by `manage.py up`).
RUNWARE_SIMULATED = not RUNWARE_API_KEY
RUNWARE_WS_URL = env_str("RUNWARE_WS_URL", "wss://ws-api.runware.ai/v1")
RUNWARE_HTTP_URL = env_str("RUNWARE_HTTP_URL", "https://api.runware.ai/v1")
# The model catalogue and its prices (the SDK's `client.content`). Empty: content.runware.ai with
# Runware itself, else `/content` on RUNWARE_HTTP_URL's host (the simulator): upstream.content.
RUNWARE_CONTENT_URL = env_str("RUNWARE_CONTENT_URL")
RUNWARE_TIMEOUT = env_float("RUNWARE_TIMEOUT", 600.0, minimum=1)  # seconds, per task
RUNWARE_MAX_RETRIES = env_int("RUNWARE_MAX_RETRIES", 3, minimum=0)  # REST / HTTP retries
RUNWARE_RETRY_DELAY = env_float("RUNWARE_RETRY_DELAY", 1.0, minimum=0)  # seconds, backoff base
RUNWARE_RECOVERY_TIMEOUT = env_float("RUNWARE_RECOVERY_TIMEOUT", 120.0, minimum=1)  # seconds
RUNWARE_SHUTDOWN_GRACE = env_float("RUNWARE_SHUTDOWN_GRACE", 5.0, minimum=0)  # seconds
# A worker holds its tasks on a lease it renews every third of this; another worker takes over the
# tasks of one whose lease has run out (killed, frozen, cut off from the database).
RUNWARE_LEASE_SECONDS = env_float("RUNWARE_LEASE_SECONDS", 10.0, minimum=1)
# Every worker tries this often to store the results kept while the disk where images go was full
# (runware_web.runner.waiting): once there is room, they appear within about this long.
RUNWARE_STORE_RETRY_SECONDS = env_float("RUNWARE_STORE_RETRY_SECONDS", 5.0, minimum=0.1)
# Budget alerts (runware_web.money.alerts): every worker sends the emails and webhook posts that are
# due at least this often; one that fails waits this long, doubled each time (at most an hour), and
# is given up after RUNWARE_ALERT_GIVE_UP_HOURS. A webhook receiver has RUNWARE_ALERT_WEBHOOK_TIMEOUT s.
RUNWARE_ALERT_RETRY_SECONDS = env_float("RUNWARE_ALERT_RETRY_SECONDS", 30.0, minimum=0.1)
RUNWARE_ALERT_GIVE_UP_HOURS = env_float("RUNWARE_ALERT_GIVE_UP_HOURS", 24.0, minimum=0.01)
RUNWARE_ALERT_WEBHOOK_TIMEOUT = env_float("RUNWARE_ALERT_WEBHOOK_TIMEOUT", 5.0, minimum=0.1)

# What each feature does with its tasks' outcomes: a Task's `feature` → its runner Handler, imported on
# first use (runware_web.runner.handlers). A feature missing here has its results charged, not saved.
RUNWARE_WEB_TASK_HANDLERS = {
    "studio": "runware_web.studio.handlers.StudioHandler",
    "chat": "runware_web.chat.handlers.ChatHandler",
    "tools": "runware_web.tools.handlers.ToolsHandler",
    "endpoint": "runware_web.endpoint.handlers.EndpointHandler",
    "video": "runware_web.video.handlers.VideoHandler",
    "audio": "runware_web.audio.handlers.AudioHandler",
    "threed": "runware_web.threed.handlers.ThreeDHandler",
}
# How long the signed URL of a result delivered through the endpoint (/v1) works.
ENDPOINT_MEDIA_URL_SECONDS = env_int("RUNWARE_WEB_ENDPOINT_MEDIA_URL_SECONDS", 24 * 3600, minimum=60)
# Per key of the endpoint (runware_web.endpoint.limits): open sockets, and tasks started a minute
# (the member's own RATE_LIMIT_PER_MINUTE applies as well); 0 = off.
ENDPOINT_MAX_CONNECTIONS_PER_KEY = env_int("RUNWARE_WEB_ENDPOINT_MAX_CONNECTIONS_PER_KEY", 10, minimum=0)
ENDPOINT_TASKS_PER_MINUTE_PER_KEY = env_int("RUNWARE_WEB_ENDPOINT_TASKS_PER_MINUTE_PER_KEY", 60, minimum=0)

# --- portal limits ------------------------------------------------------------------------------
UPLOAD_MAX_BYTES = env_int("RUNWARE_WEB_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_PIXELS = env_int("RUNWARE_WEB_UPLOAD_MAX_PIXELS", 40_000_000, minimum=1)
# The largest request body a worker takes in (runware_web.lib.limits refuses a larger one with 413
# before reading it): the studio's form may carry three images (seed, mask, guide), plus its fields.
UPLOAD_MAX_FILES_PER_FORM = 3
REQUEST_MAX_BYTES = env_int("RUNWARE_WEB_REQUEST_MAX_BYTES", UPLOAD_MAX_FILES_PER_FORM * UPLOAD_MAX_BYTES + 1024 * 1024,
                            minimum=UPLOAD_MAX_BYTES + 64 * 1024)
RATE_LIMIT_PER_MINUTE = env_int("RUNWARE_WEB_RATE_LIMIT_PER_MINUTE", 30, minimum=0)  # 0 = off
# Open page sockets (tabs) one member may hold across every worker (runware_web.live.tabs); 0 = off.
MAX_SOCKETS_PER_MEMBER = env_int("RUNWARE_WEB_MAX_SOCKETS_PER_MEMBER", 20, minimum=0)
DEFAULT_USER_BUDGET = env_decimal("RUNWARE_WEB_DEFAULT_USER_BUDGET", None)
MODEL_SEARCH_CACHE_SECONDS = env_int("RUNWARE_WEB_MODEL_SEARCH_CACHE_SECONDS", 300, minimum=0)
TRASH_RETENTION_DAYS = env_int("RUNWARE_WEB_TRASH_DAYS", 30, minimum=1)
PRICE_FALLBACK_PER_IMAGE = Decimal("0.0040")

# --- logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_api_key": {"()": "runware_web.upstream.log_redaction.RedactApiKey"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_api_key"]}
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "runware": {"level": "WARNING"},
        "websockets": {"level": "WARNING"},
    },
}

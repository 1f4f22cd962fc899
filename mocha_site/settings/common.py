"""Settings shared by every environment. Environment variables are read only here."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("MOCHA_VAR_DIR", BASE_DIR / "var"))
# var/ holds the database, the cache and the secret key: the owner's alone (0700, files 0600).
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
try:
    VAR_DIR.chmod(0o700)  # also an existing var/ made 0755 by an earlier version
except PermissionError:  # not ours to change (a shared, read-only deployment): leave it
    pass


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in (os.environ.get(name) or default).split(",") if v.strip()]


def stored_secret_key() -> str:
    """A key generated on first use and kept under var/, so sessions survive restarts.

    Written to a private temporary file and linked into place: a worker starting at the same
    moment sees either no key or the whole key, and the first writer's key wins.
    """
    path = VAR_DIR / "secret_key"
    if not path.exists():
        tmp = VAR_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(50).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process got there first: its key is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


SECRET_KEY = os.environ.get("MOCHA_SECRET_KEY") or stored_secret_key()
DEBUG = env_bool("MOCHA_DEBUG", False)
ALLOWED_HOSTS = env_list("MOCHA_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "cachalot",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "signin",
    "mocha",
    "stats",
    "collector",
    "simulator",
    "bench",
]

MIDDLEWARE = [
    "stats.middleware.RequestMetricsMiddleware",
    "stats.response_cache.StoreResponses",  # whole public responses for ServeResponses (asgi)
    "django.middleware.security.SecurityMiddleware",
    "mocha.static.StaticFilesMiddleware",  # whitenoise, quiet under ASGI
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "stats.middleware.JsonErrorMiddleware",
    "stats.middleware.ContentSecurityPolicyMiddleware",
    "stats.throttle.ApiThrottleMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out sign-in with 429
]

ROOT_URLCONF = "mocha_site.urls"
WSGI_APPLICATION = "mocha_site.wsgi.application"
ASGI_APPLICATION = "mocha_site.asgi.application"

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
                "stats.context_processors.mocha",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# SQLite gets WAL and the pragmas below on every new connection; IMMEDIATE
# transactions take the write lock up front, so a writer never fails half-way
# with "database is locked" on lock upgrade; the busy timeout rides out the
# collector's short flushes.
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "cache_size": "10000",
    "temp_store": "MEMORY",
    "mmap_size": "268435456",
}
SQLITE_TIMEOUT_S = 20

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'mocha.sqlite3'}"


def private_file(path: Path) -> None:
    """Create the file 0600 if missing (an empty file is an empty SQLite database), else make it
    0600.

    SQLite gives its -wal and -shm files the database file's mode.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except OSError:  # a read-only or foreign location: SQLite reports the real problem
        pass


def database_config(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = Path(config["NAME"])
        if not name.is_absolute() and str(name) != ":memory:":
            config["NAME"] = str(BASE_DIR / name)
        if config["NAME"] != ":memory:":
            private_file(Path(config["NAME"]))
        config["CONN_MAX_AGE"] = 0 if config["NAME"] == ":memory:" else 600
        config["OPTIONS"] = {
            "init_command": "".join(f"PRAGMA {k}={v};" for k, v in SQLITE_PRAGMAS.items()),
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_TIMEOUT_S,
        }
        config["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return config


DATABASES = {"default": database_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # cachalot imports psycopg when it can, which maps libpq and OpenSSL into every process
    # (~20 MB of RSS in the collector and each web worker). A SQLite deployment never needs it.
    sys.modules.setdefault("psycopg", None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Caches ---------------------------------------------------------------
# cachalot and the result cache must be shared by every process (the
# collector writes Member and Channel rows): files under var/ by default,
# Redis when REDIS_URL is set. A per-process cache would serve stale rows.
MOCHA_CACHE_MAX_BYTES = 64 * 1024 * 1024  # the file cache is culled above this
REDIS_URL = os.environ.get("REDIS_URL") or None
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mocha",
            "TIMEOUT": 3600,
        },
    }
else:
    CACHES = {
        "default": {
            # Culled in order, expired entries first, within both limits (mocha/file_cache.py).
            "BACKEND": "mocha.file_cache.OrderlyFileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "TIMEOUT": 3600,
            "OPTIONS": {"MAX_ENTRIES": 50000, "MAX_BYTES": MOCHA_CACHE_MAX_BYTES},
        },
    }
# No CHANNEL_LAYERS: each web worker polls the database and writes live frames straight to its own
# sockets (stats/live.py), so nothing crosses workers and no layer is needed, with or without Redis.

# cachalot knows backends by dotted path: ours is Django's FileBasedCache with another cull.
SILENCED_SYSTEM_CHECKS = ["cachalot.W001"]
CACHALOT_CACHE = "default"
CACHALOT_TIMEOUT = 3600
# Tables written on every flush are never worth caching by table version.
CACHALOT_UNCACHABLE_TABLES = frozenset(
    {
        "django_migrations",
        "django_session",
        "stats_hourlystat",
        "stats_hourlychannelstat",
        "stats_dailymemberstat",
        "stats_hourlyguildstat",
        "stats_dailyguildstat",
        "stats_channelmember",
        "stats_voicesession",
        "stats_memberevent",
        "stats_recentevent",
        "stats_messagecursor",
        "stats_collectorstate",
        "stats_scheduledtask",
        # Read by every flush for the numbers of its members and channels; written as new ones
        # appear.
        "stats_key_member",
        "stats_key_channel",
        "stats_key_guild",
    }
)

# --- Mocha ----------------------------------------------------------------
DISCORD_TOKEN = os.environ.get("DISCORD_TOKEN") or None
DISCORD_API_BASE = os.environ.get("DISCORD_API_BASE") or None
# Sign in with Discord (signin/): off until a client id is set; `make run`'s demo sets one for the
# simulator.
DISCORD_CLIENT_ID = os.environ.get("DISCORD_CLIENT_ID") or None
DISCORD_CLIENT_SECRET = os.environ.get("DISCORD_CLIENT_SECRET") or ""
DISCORD_OAUTH_API = (DISCORD_API_BASE or "https://discord.com/api/v10").rstrip("/")
DISCORD_OAUTH_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(DISCORD_OAUTH_API))
# Guilds and roles of a signed-in user are read again after this many seconds (and at each sign-in).
MOCHA_MEMBERSHIP_REFRESH_S = int(os.environ.get("MOCHA_MEMBERSHIP_REFRESH_S") or 300)
MOCHA_FLUSH_MS = int(os.environ.get("MOCHA_FLUSH_MS") or 1000)
# When Discord refuses the Server Members intent (close 4014): count without it instead of exiting.
MOCHA_ALLOW_MISSING_INTENTS = env_bool("MOCHA_ALLOW_MISSING_INTENTS", False)
MOCHA_CONFIG_POLL_S = 5  # guild configuration changes reach the collector within this
# How often each collector checks whether today's retention has run (once a day, by one process).
MOCHA_RETENTION_CHECK_S = float(os.environ.get("MOCHA_RETENTION_CHECK_S") or 3600)
MOCHA_RESULT_CACHE_TTL = 300  # backstop; entries normally go stale by data version
# Parts covering closed days only: they go stale by the guild's closed version, which few writes
# change.
MOCHA_CLOSED_CACHE_TTL = 3600
# Per-client budget of API work (stats.throttle): tokens per second, bucket size; 0 = off.
MOCHA_API_RATE = float(os.environ.get("MOCHA_API_RATE") or 20)
MOCHA_API_BURST = int(os.environ.get("MOCHA_API_BURST") or 40)
# Client addresses never limited: none unless set (dev.py exempts the local user on loopback).
MOCHA_API_RATE_EXEMPT = frozenset(env_list("MOCHA_API_RATE_EXEMPT"))
MOCHA_API_HOURLY_MAX_DAYS = 90  # longest window of an hourly series; longer ones are daily (400)
# Client address (stats.clients): X-Forwarded-For is read only from these proxies (addresses or
# networks), right to left, and the first hop that is not one of them is the client.
MOCHA_BEHIND_PROXY = env_bool("MOCHA_BEHIND_PROXY", False)
MOCHA_TRUSTED_PROXIES = env_list("MOCHA_TRUSTED_PROXIES", "127.0.0.1,::1")
# Websockets: open sockets per client per worker (frames are capped in mocha_site/workers.py).
MOCHA_WS_PER_CLIENT = int(os.environ.get("MOCHA_WS_PER_CLIENT") or 20)
MOCHA_WS_RECHECK_S = 5.0  # open sockets re-check their viewer's access this often
# /metrics, /metrics/prometheus, /health/ and /ws/health/: staff, or this bearer token (scrapers).
MOCHA_METRICS_TOKEN = os.environ.get("MOCHA_METRICS_TOKEN") or None
MOCHA_HEALTH_PANELS = [
    "stats.panels.memory.MemoryPanel",
    "stats.panels.cache.CachePanel",
    "stats.panels.collector.CollectorPanel",
    "stats.panels.database.DatabasePanel",
]

# --- Auth, i18n, static -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockout (django-axes), for the login page and the admin alike: after AXES_FAILURE_LIMIT
# wrong passwords an account is locked, and so is the address they came from, for an hour.
# Discord sign-ins (allauth) pass no password, so the lockout does not apply to them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "stats.clients.request_client"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# allauth serves only the Discord sign-in: no local sign-up, no e-mail, tokens kept by signin/
# (encrypted).
ACCOUNT_ADAPTER = "signin.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "signin.adapters.SocialAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*"]
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_QUERY_EMAIL = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False  # a POST from our own page starts it (CSRF)
SOCIALACCOUNT_PROVIDERS = {
    "discord": {
        "APPS": [{"client_id": DISCORD_CLIENT_ID, "secret": DISCORD_CLIENT_SECRET}]
        if DISCORD_CLIENT_ID
        else []
    },
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up until collectstatic has run
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Pages load only their own scripts, styles and sockets (no inline script anywhere in templates/);
# forms post to us, and "Sign in with Discord" is redirected on to the authorize page;
# set by stats.middleware.ContentSecurityPolicyMiddleware, as Django 5.2 has no CSP setting.
MOCHA_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    f"form-action 'self' {DISCORD_OAUTH_ORIGIN}; frame-ancestors 'none'"
)
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "discord": {"level": "WARNING"},
        # Mocha never joins voice: discord.py's notes about missing voice libraries are noise.
        "discord.client": {"level": "ERROR"},
        "django.db.backends": {"level": "WARNING"},
    },
}

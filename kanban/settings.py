"""Obeya's settings: every value comes from the environment.

With nothing set this is the embedded default a newcomer gets from `make run`: a SQLite file,
Channels' in-memory layer and Celery tasks run in-process. With `DATABASE_URL` and `REDIS_URL`
set it is the production shape: Postgres through psycopg's pool, channels-redis, a real broker.
"""

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
# Or from a file (a container's secret; `make run` generates var/secret_key once, git-ignored).
SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE", "")
if not SECRET_KEY and SECRET_KEY_FILE:
    try:
        SECRET_KEY = Path(SECRET_KEY_FILE).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SECRET_KEY_FILE is {SECRET_KEY_FILE!r}, which cannot be read: {exc.strerror}."
        ) from exc
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is off: set SECRET_KEY in the environment "
            "(or DEBUG=1 for local development) - Obeya refuses to start without a secret."
        )
    # Only reachable with DEBUG on: a fixed key is harmless for a local board.
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
# Proxies in front of the web processes that append the client's address to X-Forwarded-For
# (nginx: 1). 0: the client is the TCP peer, and X-Forwarded-For is ignored (kanban/clients.py).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# JSON 403 under /api/, Django's page elsewhere.
CSRF_FAILURE_VIEW = "kanban.api.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, not a CDN
    "channels",
    "accounts",
    "boards",
]

MIDDLEWARE = [
    "kanban.middleware.RequestBodyLimitMiddleware",
    "kanban.ratelimit.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After the security headers' middleware, so that its 400s carry them too.
    "kanban.middleware.QueryStringMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Replays the answer to a retried POST /api/... with the same Idempotency-Key.
    "boards.hooks.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kanban.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "kanban.asgi.application"
# Threads per server process running HTTP requests, and iterating streamed responses (CSV
# exports, static files) (kanban/http.py); each holds at most one database connection, so keep
# their sum within DB_POOL_MAX. Fewer request threads contended less for the GIL and the
# boards' locks: 4 served more moves than 8 (bench/RESULTS.md).
WEB_THREADS = int(os.environ.get("WEB_THREADS", "4"))
WEB_STREAM_THREADS = int(os.environ.get("WEB_STREAM_THREADS", "8"))

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

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # A web server and the demo loader may write at once; wait instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with psycopg's C loader for timestamps (kanban/postgres/base.py).
    DATABASES["default"]["ENGINE"] = "kanban.postgres"
    # Django's psycopg pool: measured to double the move endpoint's throughput (PITFALLS.md).
    # The pool requires CONN_MAX_AGE = 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})
    # Parameters bound by the server, and statements prepared on their third use on a connection
    # (which the pool keeps): a move's dozen short statements spent more of Postgres' time being
    # planned than run (bench/RESULTS.md). DB_PREPARE_THRESHOLD= (empty) turns preparing off,
    # e.g. behind a pooler in transaction mode that cannot keep prepared statements.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    threshold = os.environ.get("DB_PREPARE_THRESHOLD", "3")
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = int(threshold) if threshold else None
    if env_bool("DB_POOL", default=True):
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
            "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
            "timeout": 10,
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The history's covering index (INCLUDE) is a Postgres optimisation; on the embedded SQLite the
# index is made without its non-key column, which is all it needs.
# Likewise the deferred uniqueness of card positions (boards.models.Card) is Postgres' alone.
SILENCED_SYSTEM_CHECKS = ["models.W040", "models.W038"]
AUTH_USER_MODEL = "accounts.User"
# Username and password, behind the login lockout that every login path shares.
AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutModelBackend"]
# Failed logins of one account allowed in 15 minutes, from one address and from all together
# (a locked-out account cannot even try a right password until the window ends).
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "10"))
LOGIN_FAILURES_PER_USER = int(os.environ.get("LOGIN_FAILURES_PER_USER", "50"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Where collectstatic writes (and nginx serves /static/ from, deploy/nginx/obeya.conf.template).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "static"]
# npm installs front-end libraries here; only the files named in templates are served.
NODE_MODULES_DIR = BASE_DIR / "node_modules"
if NODE_MODULES_DIR.exists():
    STATICFILES_DIRS.append(("vendor", NODE_MODULES_DIR))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names after collectstatic, so that they can be cached for a year.
    "staticfiles": {"BACKEND": "kanban.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# A request body over this size answers 413 (see kanban.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))
# The one exception: imports of other tools' exports (a Trello board's JSON runs to several MB).
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))
# An import of more cards than this answers 400 before any work (a worker runs the import).
IMPORT_MAX_CARDS = int(os.environ.get("IMPORT_MAX_CARDS", "10000"))
# The import task's own (soft) time limit in seconds, far above the global one: 5,000 cards
# take about 15 s on a worker (bench/RESULTS.md); the limit is for a stuck run, not a slow one.
IMPORT_TIME_LIMIT = int(os.environ.get("IMPORT_TIME_LIMIT", str(30 * 60)))

# --- Redis: one URL for Channels and Celery --------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer lost no message where the core layer dropped 4 % (PITFALLS.md).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 defaults (5 s socket timeout, 100 connections) silently
                        # kill channels-redis consumers: undo both.
                        "socket_timeout": None,
                        "max_connections": 10_000,
                    }
                ],
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# How long a board's encoded snapshot may be served again while its seq stays (0: rebuilt for
# every read; boards.selectors.snapshot.board_snapshot_json).
SNAPSHOT_CACHE_SECONDS = float(os.environ.get("SNAPSHOT_CACHE_SECONDS", "60"))

# Broadcasting of committed events to viewers. Only benchmarks turn it off, to measure its cost.
PUBLISH_EVENTS = env_bool("PUBLISH_EVENTS", default=True)

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Embedded default: tasks run in-process, right after the commit that enqueued them.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "obeya")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# Longer than the longest task's time limit (the import's, IMPORT_TIME_LIMIT) plus the longest
# countdown (5 s), or Redis redelivers a task while it still runs: an import would then run
# twice. The cost is that what a killed worker held comes back only after this long (with
# prefetch 1, its task in flight): the WIP sweep below and the periodic metrics and ageing
# runs do not wait for that, and an import redelivered then restarts cleanly.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": max(300, IMPORT_TIME_LIMIT + 300)}
# A worker whose broker went away reconnects for as long as it takes (Celery's default gives
# up after 100 tries, and then the worker exits).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_IGNORE_RESULT = True
# With the broker down, a request enqueuing a task gives up after one quick retry (and logs)
# instead of hanging; the periodic tasks catch up once it is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BEAT_SCHEDULE = {
    # Every board changed since the last sweep gets its WIP checked again, whatever became of
    # the check its change queued (a worker killed while holding it, the broker down when it
    # was sent); a starting worker sweeps too (kanban/celery.py).
    "wip-sweep": {"task": "boards.sweep_wip", "schedule": 30},
    # Ageing alerts compare each card's time in its stage with the board's p85 cycle time.
    "ageing-alerts": {"task": "boards.check_ageing", "schedule": 15 * 60},
    # The rolling metrics window moves with the clock even when nothing changes.
    "refresh-metrics": {"task": "boards.refresh_all_metrics", "schedule": 60 * 60},
    # Boards' release policies: finished cards archived after the board's number of days.
    "release-done-cards": {"task": "boards.release_done_cards", "schedule": 60 * 60},
    # Webhooks: events no dispatch has taken yet, retries too far off for a countdown.
    "webhooks-sweep": {"task": "boards.hooks.sweep", "schedule": 10},
    "idempotency-purge": {"task": "boards.hooks.purge_idempotency_keys", "schedule": 3600},
    # Improvement experiments whose review date has come get their final result (hourly, so
    # that a beat down at midnight still closes them the same day).
    "kaizen-reviews": {"task": "boards.kaizen.close_due_reviews", "schedule": 3600},
    # Waits on a finished card whose end_waits task was lost (boards/services/waits.py).
    "waits-sweep": {"task": "boards.sweep_waits", "schedule": 60},
}

# --- Webhooks (boards/hooks/) -----------------------------------------------------------------
# Seconds between the attempts of a failing delivery (a 5xx, 408, 429, timeout or refused
# connection): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 16 h, 16 h (~2.5 days), and never
# later than WEBHOOK_RETRY_WINDOW after the delivery was made (or redelivered).
WEBHOOK_RETRY_DELAYS = [
    float(d)
    for d in os.environ.get(
        "WEBHOOK_RETRY_DELAYS", "5,300,1800,7200,18000,36000,36000,57600,57600"
    ).split(",")
]
WEBHOOK_RETRY_WINDOW = int(os.environ.get("WEBHOOK_RETRY_WINDOW", 3 * 24 * 3600))
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", 10))
# A retry this close is queued as a countdown; later ones wait for the sweep (a long ETA on
# Redis outlives the visibility timeout and is handed to a second worker).
WEBHOOK_COUNTDOWN_MAX = 120
WEBHOOK_SWEEP_SECONDS = 10
# A hook whose every attempt failed for this long (and at least this many) is disabled.
WEBHOOK_DISABLE_AFTER = int(os.environ.get("WEBHOOK_DISABLE_AFTER", 3 * 24 * 3600))
WEBHOOK_DISABLE_MIN_FAILURES = int(os.environ.get("WEBHOOK_DISABLE_MIN_FAILURES", 10))
# After a rotation the previous secret signs too, for this long.
WEBHOOK_ROTATION_GRACE = 24 * 3600
# Loopback, private, link-local and multicast targets are refused unless this is set (the
# tests' local receiver, a deployment whose receivers are on its own network).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Idempotency-Key: how long the answer to a POST is kept and replayed (kanban/idempotency.py).
IDEMPOTENCY_TTL = 24 * 3600

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first so that a request without credentials answers 401 with WWW-Authenticate.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "kanban.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["kanban.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kanban.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "kanban.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per token, per user, per address without credentials (kanban/ratelimit.py).
    "DEFAULT_THROTTLE_CLASSES": ["kanban.ratelimit.ApiRateThrottle"],
    # The client's address for throttles, by kanban.clients' rule (DRF's default of None trusts
    # whatever X-Forwarded-For a client sends).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

# API rate limits (kanban/ratelimit.py): requests per window, e.g. "1200/min".
API_RATE_TOKEN = os.environ.get("API_RATE_TOKEN", "1200/min")
API_RATE_USER = os.environ.get("API_RATE_USER", "2400/min")
API_RATE_ANON = os.environ.get("API_RATE_ANON", "120/min")
# Password tries on POST /api/v1/auth/token/ per client address.
LOGIN_RATE = os.environ.get("LOGIN_RATE", "20/min")

SPECTACULAR_SETTINGS = {
    "TITLE": "Obeya API",
    "DESCRIPTION": (
        "The organisation-wide Kanban board. Authenticate with `Authorization: Token <key>` "
        "(POST /api/v1/auth/token/) or a browser session. Errors are "
        '`{"code", "detail", "fields"}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two fields named `status`: an invitation's keeps its name, an import job's has its own.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "accounts.models.InvitationStatus",
        "ImportStatusEnum": "boards.models.ImportStatus",
        # a card's class and an improvement's scope: one choice set, one name
        "ClassOfServiceEnum": "boards.models.ClassOfService",
    },
}

# Shared by every process when Redis is there (login throttling, the metrics debounce).
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis keeps one connection pool per process (Django's own Redis cache made
            # a client and a connection per request: django/django#18459).
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "obeya"),
            "OPTIONS": {
                # An outage costs a request two seconds at most, never a hung thread.
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Security headers -------------------------------------------------------------------------
# Response headers, HTTPS and cookies, all here (tests/test_security_headers.py checks each).
# The middleware is added from here, so that this block is the whole change.
# Below WhiteNoise, whose static files keep their own caching and need no policy; above the
# session and CSRF middleware, whose cookies SecurityHeadersMiddleware marks Secure.
_below_whitenoise = MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1
MIDDLEWARE[_below_whitenoise:_below_whitenoise] = [
    "kanban.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
]
INSTALLED_APPS.append("csp")  # its system checks catch settings in django-csp 3's old format

# django-csp 4's format. Every script is a file of ours ('self'): no inline script, no eval, so
# markup injected into a page cannot run. The Swagger UI at /api/docs/ complies too: its init
# script is served as a file (SpectacularSwaggerSplitView) and its inline <style> is replaced
# (templates/api_docs.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Style *attributes* only, not <style> elements: the templates pass values to the CSS as
        # custom properties (style="--cols: 5", style="--label: #2563eb"), also in the card
        # fragments board.js inserts. An attribute cannot load anything or run script.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        # 'self' covers ws:/wss: of the page's own host in CSP3 browsers (Chromium, Firefox,
        # Safari 15.4+): the live board's websocket needs nothing more.
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# kanban.middleware.SecurityHeadersMiddleware: features no page uses, off for every page.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "camera", "display-capture", "geolocation", "gyroscope",
        "interest-cohort", "magnetometer", "microphone", "payment", "usb",
    )
)  # fmt: skip
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # for browsers without CSP's frame-ancestors
SESSION_COOKIE_HTTPONLY = True

# HTTPS=1: Obeya is served over HTTPS only (plain http is redirected) and its cookies are
# Secure. Off by default: docker-compose and the test servers speak plain http. Off or on, a
# request that came over HTTPS gets Secure cookies (SecurityHeadersMiddleware).
HTTPS = env_bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT: list[str] = []
# SECURE_COOKIES=1, the older switch, still makes the cookies Secure (and only that).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS or env_bool("SECURE_COOKIES", default=False)
# Trust X-Forwarded-Proto only when a proxy we run is in front (it must set the header,
# replacing any a client sent): otherwise any client could claim HTTPS. Not tied to HTTPS: with
# it off, a request that reached the proxy over HTTPS still gets Secure cookies.
if int(os.environ.get("TRUSTED_PROXY_COUNT", "0")) > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS in production. SecurityMiddleware sends it only on a secure request, so a deployment on
# plain http never sends it. The preload token alone commits to nothing (submitting the domain to
# browsers' preload list is a separate act); HSTS_PRELOAD=0 leaves it out.
if not DEBUG:
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 60 * 60)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", default=True)
# --- end of security headers ------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

"""Settings for the test suite: the production shape (Postgres, Redis) from the environment,
with only what makes tests fast and deterministic changed."""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/obeya")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

from kanban.settings import *  # noqa: F403

# Hashing with PBKDF2 costs ~100 ms a login; tests log in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Whitenoise's manifest is built by collectstatic, which tests do not run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run in-process on commit, so that tests see their effects deterministically; the tests
# that claim a real worker switch this off and start one (tests/test_celery_worker.py).
CELERY_TASK_ALWAYS_EAGER = True
# One test's debounce key must not hold back the next test's metrics run.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Whitenoise walking every static file for each new test client costs 50-75 ms a client.
WHITENOISE_USE_FINDERS = False
# Limits no ordinary test reaches; the tests of the limits set their own.
API_RATE_TOKEN = API_RATE_USER = API_RATE_ANON = LOGIN_RATE = "100000/min"

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import ApiToken, hash_token_key
from accounts.services import create_api_token

ROOT = Path(__file__).resolve().parent.parent


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "kanban.settings"
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_a_secret_key_refuses_to_start_with_a_clear_message():
    result = run_settings({"DEBUG": "0"}, "")
    assert result.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr


def test_embedded_default_is_sqlite_in_memory_layer_and_eager_tasks():
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = run_settings({"DEBUG": "1"}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "True",
    ]


def test_production_shape_reads_postgres_redis_and_hosts_from_the_environment():
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL, "
        "s.CELERY_TASK_ALWAYS_EAGER, ','.join(s.ALLOWED_HOSTS), s.DEBUG, "
        "'pool' in s.DATABASES['default']['OPTIONS'])"
    )
    env = {
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://u:p@db.example:5432/prod",
        "REDIS_URL": "redis://cache.example:6379/1",
        "ALLOWED_HOSTS": "obeya.example, www.obeya.example",
    }
    result = run_settings(env, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "kanban.postgres",
        "prod",
        "channels_redis.pubsub.RedisPubSubChannelLayer",
        "redis://cache.example:6379/1",
        "False",
        "obeya.example,www.obeya.example",
        "False",
        "True",
    ]


@pytest.mark.django_db
def test_api_tokens_are_stored_hashed_and_the_key_is_returned_once(world):
    token, key = create_api_token(user=world.alice, name="script")
    stored = ApiToken.objects.get(pk=token.pk)
    assert key not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == hash_token_key(key)
    assert stored.prefix == key[:8]
    assert len(key) >= 40


def test_make_test_stops_with_one_sentence_when_chromium_is_missing(tmp_path):
    # given the service check pointed at a Chromium that is not there
    code = (
        "import runpy, sys; sys.argv = ['check_services.py']; "
        "mod = runpy.run_path('scripts/check_services.py', run_name='not_main'); "
        f"mod['main'].__globals__['CHROMIUM'] = {str(tmp_path / 'chromium')!r}; "
        "sys.exit(mod['main']())"
    )
    # when it runs
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    # then it fails, saying what to install, in one line
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "apt-get install -y chromium" in result.stderr


def test_the_secret_key_may_come_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 50 + "\n")
    code = "from django.conf import settings as s; print(s.SECRET_KEY, s.DEBUG)"
    result = run_settings({"DEBUG": "0", "SECRET_KEY_FILE": str(key_file)}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["k" * 50, "False"]


def test_an_unreadable_secret_key_file_refuses_to_start_with_a_clear_message(tmp_path):
    result = run_settings({"DEBUG": "0", "SECRET_KEY_FILE": str(tmp_path / "missing")}, "")
    assert result.returncode != 0
    assert "SECRET_KEY_FILE" in result.stderr and "cannot be read" in result.stderr


def test_make_run_serves_with_debug_off_and_a_generated_key():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:") :]
    assert "run: export DEBUG ?= 0" in run
    assert "SECRET_KEY_FILE ?= $(SECRET_KEY_PATH)" in run
    assert "collectstatic --no-input" in run
    assert "var/" in (ROOT / ".gitignore").read_text().split()

# Obeya: two commands on a fresh machine.
#   make run   - the embedded default (SQLite, in-memory channel layer, in-process tasks)
#   make test  - the whole suite against Postgres and Redis (DATABASE_URL / REDIS_URL)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/obeya
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint format worker beat bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Front-end libraries (SortableJS) from the npm registry, exactly as package-lock.json pins them;
# Django serves them from node_modules as static files under vendor/ (no build step).
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

# A secret of this checkout's own, made once and never committed (var/ is git-ignored).
SECRET_KEY_PATH := var/secret_key

$(SECRET_KEY_PATH):
	@mkdir -p $(dir $@)
	@umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@echo "Generated a secret key in $@ (git-ignored; delete it to sign everyone out)."

# The embedded default: no Postgres, no Redis, but served as in production: DEBUG off (error
# pages, not tracebacks), the key from var/secret_key, static files collected under their
# content-hashed names and served by WhiteNoise with long-lived caching.
run: export DEBUG ?= 0
run: export SECRET_KEY_FILE ?= $(SECRET_KEY_PATH)
run: export ALLOWED_HOSTS ?= 127.0.0.1,localhost,[::1],$(HOST)
run: install $(NODE_STAMP) $(SECRET_KEY_PATH)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py load_demo
	@echo "Obeya on http://$(HOST):$(PORT)/ - log in as alice / demo (owner), bob / demo, victor / demo"
	$(BIN)/uvicorn kanban.asgi:application --host $(HOST) --port $(PORT) --no-proxy-headers

test: export DATABASE_URL ?= $(TEST_DATABASE_URL)
test: export REDIS_URL ?= $(TEST_REDIS_URL)
test: install $(NODE_STAMP)
	@$(BIN)/python scripts/check_services.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	# No pool: the check would wait 10 s for a pooled connection to a database it only peeks at.
	DB_POOL=0 DJANGO_SETTINGS_MODULE=kanban.test_settings $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The production shape by hand (with DATABASE_URL, REDIS_URL and SECRET_KEY set):
worker: install
	$(BIN)/celery -A kanban worker --loglevel=info

beat: install
	$(BIN)/celery -A kanban beat --loglevel=info

clean:
	rm -rf $(VENV) node_modules db.sqlite3 staticfiles .pytest_cache .ruff_cache .mypy_cache

# The production image: one image for web (ASGI: HTTP + websockets), worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .

COPY package*.json ./
RUN if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; fi

COPY . .
RUN useradd --create-home obeya
# Owned by the app's user: docker-compose.yml's `static` volume starts as a copy of this
# directory, and collectstatic (as obeya) writes each release's files into it.
RUN DEBUG=1 python manage.py collectstatic --no-input && chown -R obeya /app/staticfiles

USER obeya
EXPOSE 8000
CMD ["uvicorn", "kanban.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-proxy-headers"]

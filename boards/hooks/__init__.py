"""Webhooks: the board's events POSTed to scripts, signed as Standard Webhooks say.

models (in boards/models.py): Webhook, WebhookCursor, WebhookDelivery. signing.py signs;
network.py refuses private targets and sends; services.py makes deliveries from the event log
and records attempts; selectors.py reads; tasks.py runs them in Celery; api.py and pages.py
are the edges. See DEVELOPERS.md, "Webhooks".
"""

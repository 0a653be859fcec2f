"""Kaizen: improvement experiments on a board's flow (models.Improvement). xmr.py the
arithmetic, measures.py the figures (through boards.flow.metrics), services.py the writes,
selectors.py the reads, api.py + urls.py the REST API, pages.py the page, tasks.py the beat
task that closes due reviews."""

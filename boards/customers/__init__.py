"""The customer view: all the work for one customer (Card.customer, free text) across the
organisation's boards. selectors.py the reads (fixed query counts), api.py + urls.py the REST
API, pages.py the pages (/o/{slug}/customers/...)."""

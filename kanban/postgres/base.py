"""Django's Postgres backend, with psycopg's C loader for timestamps.

Django registers a loader of its own for `timestamptz` (a subclass of psycopg's pure-Python one,
to set the connection's time zone on every value): reading the 500-card board, 1,600 timestamps,
spent ~17 ms in it, half the request. With USE_TZ and UTC, psycopg's C loader gives the same
instants already in UTC (the session's zone, which Django sets), so it is used instead; Django's
cursors, which look for their loader's zone, are told it is UTC.
"""

import datetime

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.pq import Format

TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid
# psycopg's own loader: the C one where psycopg-binary is installed.
C_TIMESTAMPTZ_LOADER = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class DatabaseWrapper(base.DatabaseWrapper):
    def _fast_timestamps(self) -> bool:
        return settings.USE_TZ and self.timezone == datetime.UTC

    def _configure_connection(self, connection):
        # A private hook of Django's psycopg backend, which django-stubs does not declare.
        commit = super()._configure_connection(connection)  # type: ignore[misc]
        if self._fast_timestamps():
            connection.adapters.register_loader("timestamptz", C_TIMESTAMPTZ_LOADER)
        return commit

    def create_cursor(self, name=None):
        if not self._fast_timestamps():
            return super().create_cursor(name)
        # Django's, less its check of the loader's zone (the C loader has no such attribute;
        # what it loads is UTC, as _fast_timestamps requires).
        if not name:
            return self.connection.cursor()
        if self.settings_dict["OPTIONS"].get("server_side_binding") is not True:
            return base.ServerSideCursor(  # type: ignore[attr-defined]  # not in django-stubs
                self.connection, name=name, scrollable=False, withhold=self.connection.autocommit
            )
        return self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)

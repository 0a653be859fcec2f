"""Static files named by their content, so that a proxy (or WhiteNoise) may cache them for a
year: collectstatic writes `js/board.39b035e468b8.js` beside `js/board.js` and a manifest, and
`{% static 'js/board.js' %}` names the hashed copy. A new release's file has a new name, so no
browser keeps last release's script. Compressed copies (.gz) are written for nginx's
gzip_static and WhiteNoise alike.

Where collectstatic has not run (the test servers, a checkout served with DEBUG off) there is
no manifest: the pages then name the files plainly and WhiteNoise serves them from the finders,
as before, rather than every page failing on a missing manifest entry.
"""

from whitenoise.storage import (  # type: ignore[import-untyped]  # whitenoise has no stubs
    CompressedManifestStaticFilesStorage,
)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # no manifest at all, not a file missing from one
            return name
        return super().stored_name(name)

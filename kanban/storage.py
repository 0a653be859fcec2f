"""Static files named by their content, so that a proxy (or WhiteNoise) may cache them for a
year: collectstatic writes `js/global.39b035e468b8.js` beside `js/global.js` and a manifest,
and `{% static 'js/global.js' %}` names the hashed copy. A new release's file has a new name, so no
browser keeps last release's script. Compressed copies (.gz) are written for nginx's
gzip_static and WhiteNoise alike.

The pages' scripts are ES modules that import each other by relative URL (`./lib/socket.js`):
Django's ES module support (`support_js_module_import_aggregation`, since 4.2) rewrites those
imports in the hashed copies to the hashed names, so a hashed module only ever loads hashed
modules of the same release (tests/test_static_modules.py checks the collected files). Its
patterns match `import ... from "./x.js";` with the semicolon, and relative or /static/ URLs
only: a bare name ("@kurkle/color", Chart.js' ES build) is left alone, which is why the metrics
page loads Chart.js' UMD build as a classic script.

Where collectstatic has not run (the test servers, a checkout served with DEBUG off) there is
no manifest: the pages then name the files plainly and WhiteNoise serves them from the finders,
as before, rather than every page failing on a missing manifest entry.
"""

from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.storage import (  # type: ignore[import-untyped]  # whitenoise has no stubs
    CompressedManifestStaticFilesStorage,
)

# The replacement templates of Django's ES module patterns (a private attribute of Django's,
# read here rather than copied, so that a fix to the patterns reaches us).
_MODULE_TEMPLATES = frozenset(
    template
    for _, template in HashedFilesMixin._js_module_import_aggregation_patterns[1]  # type: ignore[attr-defined]  # private, not in the stubs
)
# Third-party files (node_modules, served as vendor/) are hashed but their imports are left as
# they are: SortableJS' src/ imports itself in a cycle, which no content hash can settle
# (collectstatic fails with "Max post-process passes exceeded"), and the pages load none of
# them but through our own modules, whose imports are rewritten.
_THIRD_PARTY = "vendor/"


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
    # A module's hash covers the hashed names it imports, so each pass settles one more level
    # of the import graph (board/index.js -> keys.js -> dialog.js -> moves.js -> cards.js ->
    # filters.js -> context.js is seven deep); Django's default of 5 passes stops short.
    max_post_process_passes = 12

    def url_converter(self, name, hashed_files, template=None):
        if template in _MODULE_TEMPLATES and name.startswith(_THIRD_PARTY):
            return lambda match: match["matched"]
        return super().url_converter(name, hashed_files, template)

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # no manifest at all, not a file missing from one
            return name
        return super().stored_name(name)

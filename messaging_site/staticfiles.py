"""How `collectstatic` stores the static files for production (DEBUG off)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ParleyStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed, compressed files, with the ES module imports of static/js/*.js
    rewritten to the hashed names as well.

    Without the rewrite the hashed inbox.js would import the unhashed modules: those are cached
    for a minute only, and right after a deploy a browser could run old and new modules together.
    """

    support_js_module_import_aggregation = True
    # A module's hash includes the hashed names of the modules it imports, which settle one level
    # of the import graph per pass; the inbox's is about eight levels deep (Django's default: 5).
    max_post_process_passes = 20

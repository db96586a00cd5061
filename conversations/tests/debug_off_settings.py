"""Parley's settings as production runs them (DEBUG off), serving the static files that
`collectstatic` wrote to PARLEY_TEST_STATIC_ROOT. Used by test_inbox_static_build.py only."""

import os

from messaging_site.settings import *  # noqa: F403

STATIC_ROOT = os.environ["PARLEY_TEST_STATIC_ROOT"]

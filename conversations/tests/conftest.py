from conversations.tests.browser import pages, server  # noqa: F401 (fixtures for the browser tests)

"""The browser test drives a real host daemon: share the CLI tests' ``xlhost`` fixture."""

from tests.cli.conftest import xlhost  # noqa: F401  (a fixture, used by name)

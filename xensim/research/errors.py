"""One exception for the research tools' user errors (printed in one line, exit 2)."""

from __future__ import annotations


class ResearchError(ValueError):
    """A bad file, key or option given to ``trace``, ``plot`` or ``sweep``."""

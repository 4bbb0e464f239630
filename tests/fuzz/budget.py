"""How hard the parser fuzz tests try: a CI-sized budget by default, a deep one for
``make fuzz`` (``XENSIM_FUZZ=deep``, or ``XENSIM_FUZZ_EXAMPLES=N`` for any count)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_DEEP = os.environ.get("XENSIM_FUZZ") == "deep"
_EXAMPLES = os.environ.get("XENSIM_FUZZ_EXAMPLES")


def fuzz(ci_examples: int) -> settings:
    """Settings for one fuzz test: *ci_examples* in CI, 30 times as many when deep."""
    n = int(_EXAMPLES) if _EXAMPLES else ci_examples * (30 if _DEEP else 1)
    return settings(max_examples=n, deadline=None, derandomize=not _DEEP,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

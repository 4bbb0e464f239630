"""The build the tests run against is the one asked for: pure Python by default,
every module of ``xensim.compiled.MYPYC_MODULES`` compiled under ``make test-fast``."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from xensim.compiled import MYPYC_MODULES, build_name, compiled_modules


def test_every_listed_module_has_its_python_source() -> None:
    for name in MYPYC_MODULES:
        module = importlib.import_module(name)
        source = Path(str(module.__file__)).with_name(name.rsplit(".", 1)[1] + ".py")
        assert source.is_file(), name


def test_the_build_under_test_is_the_one_asked_for() -> None:
    if os.environ.get("XENSIM_BUILD", "pure") == "compiled":
        assert compiled_modules() == list(MYPYC_MODULES)
        assert build_name() == f"compiled (mypyc): {len(MYPYC_MODULES)} of " \
                               f"{len(MYPYC_MODULES)} modules"
    else:
        assert compiled_modules() == []
        assert build_name() == "pure Python"

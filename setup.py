"""Build hook for the optional compiled build; ``pyproject.toml`` holds the metadata.

``pip install .`` and ``pip install -e .`` (``make demo``, ``make test``) build
the pure-Python package: nothing is compiled and nothing beyond setuptools is
needed.  With ``XENSIM_MYPYC=1`` (``make fast``), the modules listed in
``xensim/compiled.py`` are compiled by mypyc into C extensions that the same
package imports instead of their ``.py`` files; that needs mypy, a C compiler
and Python's headers, and ``--no-build-isolation`` with mypy, simpy and rich
installed, since mypyc type-checks against them.
"""

from __future__ import annotations

import os
import runpy

from setuptools import setup

ext_modules = []
if os.environ.get("XENSIM_MYPYC") == "1":
    from mypyc.build import mypycify

    modules = runpy.run_path(os.path.join("xensim", "compiled.py"))["MYPYC_MODULES"]
    # Only the compiled modules must type-check cleanly; the rest is read for its types.
    ext_modules = mypycify(["--follow-imports=silent",
                            *(m.replace(".", "/") + ".py" for m in modules)], opt_level="3")

setup(ext_modules=ext_modules)

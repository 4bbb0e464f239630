# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install xensim, run the demo scenario
#   make test   - create .venv, install xensim with its test extras, run the tests; then
#                 the same package compiled by mypyc (.venv-fast, make test-fast)
# .ci/run calls `make test`.
#   make fast       - optional: .venv-fast, the same package with its hot modules compiled
#                     by mypyc (needs a C compiler and Python's headers); see README, Speed

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test fast test-fast bench bench-fast fuzz fuzz-protocol mutation soak readme clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/xensim run scenarios/demo.toml

test: $(VENV)/.installed
	$(BIN)/python -m pytest
	$(MAKE) test-fast

# The compiled build: a second venv with a regular (not editable) install whose modules
# listed in xensim/compiled.py are C extensions built by mypyc. It is rebuilt when any
# source changes, from a clean build/ (setuptools would otherwise pack the extensions
# of an earlier build, of modules no longer listed, into the new wheel). mypyc type-checks against simpy and rich, so they come first.
FAST_VENV ?= .venv-fast
FAST_BIN := $(FAST_VENV)/bin
MYPY_VERSION ?= 2.4.1
XENSIM_SOURCES := $(shell find xensim -type f ! -path '*/__pycache__/*')

$(FAST_VENV)/.installed: pyproject.toml setup.py $(XENSIM_SOURCES)
	test -x $(FAST_BIN)/python || $(PYTHON) -m venv $(FAST_VENV)
	$(FAST_BIN)/python -m pip install -q --upgrade pip
	$(FAST_BIN)/python -m pip install -q 'mypy==$(MYPY_VERSION)' setuptools wheel pytest hypothesis \
		$$($(FAST_BIN)/python -c "import tomllib; \
		print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))")
	rm -rf build/lib.* build/temp.* build/bdist.* build/__native* build/ops.txt
	XENSIM_MYPYC=1 $(FAST_BIN)/python -m pip install -q --no-build-isolation --no-deps \
		--force-reinstall .
	cd /tmp && $(CURDIR)/$(FAST_BIN)/python -c \
		"from xensim.compiled import build_name; print('$(FAST_VENV):', build_name())"
	touch $@

fast: $(FAST_VENV)/.installed

# The tests that exercise the compiled modules, run against the compiled build (-P and
# --import-mode=append: the installed package, not the source tree, is imported), then
# every case of same_results.py recorded pure and checked compiled: identical to the ns.
FAST_TESTS ?= tests/hypervisor tests/domains tests/test_scenario.py tests/test_compiled.py
test-fast: $(VENV)/.installed $(FAST_VENV)/.installed
	XENSIM_BUILD=compiled $(FAST_BIN)/python -P -m pytest --import-mode=append \
		-p no:cacheprovider $(FAST_TESTS)
	rm -rf build/same-results
	$(BIN)/python benchmarks/same_results.py record build/same-results
	$(FAST_BIN)/python benchmarks/same_results.py check build/same-results

# the reference host, pure and compiled in alternation, CPU time side by side
bench-fast: $(VENV)/.installed $(FAST_VENV)/.installed
	$(BIN)/python benchmarks/bench_host.py --vs $(FAST_BIN)/python

# The parser fuzz tests (xl.cfg, scenarios, xl arguments) with 30 times their CI budget
# and per-test counts; about five minutes on a quiet 2-core machine.
fuzz: $(VENV)/.installed
	XENSIM_FUZZ=deep $(BIN)/python -m pytest tests/fuzz -q -p no:cacheprovider \
		--hypothesis-show-statistics

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_host.py

# Mutation testing of the schedulers (credit, credit2 and their run queues, rt, null, core)
# with the scheduler tests only; bounded per file (MUTATION_MINUTES); scores per file at the end.
MUTATION_MINUTES ?= 20
mutation: $(VENV)/.installed
	$(BIN)/python -c "import mutmut" 2>/dev/null || $(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python tools/mutation.py --minutes $(MUTATION_MINUTES) $(FILES)

# a deeper run of the socket-protocol fuzzing than the suite's (issue #16)
fuzz-protocol: $(VENV)/.installed
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-3000} $(BIN)/python -m pytest -q -s tests/toolstack/test_protocol_fuzz.py

# create/destroy cycles and a long run, printing memory over time (issue #16)
soak: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_soak.py

# re-run the README's xensim compare/run/migrate-sweep blocks; fails if one is stale
# (tools/readme_outputs.py --write rewrites them)
readme: $(VENV)/.installed
	$(BIN)/python tools/readme_outputs.py

clean:
	rm -rf $(VENV) $(FAST_VENV) build *.egg-info mutants .mypy_cache

# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install xensim, run the demo scenario
#   make test   - create .venv, install xensim with its test extras, run the tests
# .ci/run calls `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench fuzz fuzz-protocol mutation soak readme clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/xensim run scenarios/demo.toml

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# The parser fuzz tests (xl.cfg, scenarios, xl arguments) with 30 times their CI budget
# and per-test counts; about five minutes on a quiet 2-core machine.
fuzz: $(VENV)/.installed
	XENSIM_FUZZ=deep $(BIN)/python -m pytest tests/fuzz -q -p no:cacheprovider \
		--hypothesis-show-statistics

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_host.py

# Mutation testing of the schedulers (credit, credit2, rt, null, core) with the scheduler
# tests only; bounded per file (MUTATION_MINUTES); scores per file at the end.
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
	rm -rf $(VENV) build *.egg-info mutants

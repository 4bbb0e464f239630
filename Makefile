# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install xensim, run the demo scenario
#   make test   - create .venv, install xensim with its test extras, run the tests
# .ci/run calls `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench fuzz-protocol soak clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/xensim run scenarios/demo.toml

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_host.py

# a deeper run of the socket-protocol fuzzing than the suite's (issue #16)
fuzz-protocol: $(VENV)/.installed
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-3000} $(BIN)/python -m pytest -q -s tests/toolstack/test_protocol_fuzz.py

# create/destroy cycles and a long run, printing memory over time (issue #16)
soak: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_soak.py

clean:
	rm -rf $(VENV) build *.egg-info

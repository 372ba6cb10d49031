# make demo: the main job on the bundled catalogue and an example topology (HTML report in reports/).
# make test: everything the suite needs (virtualenv, package, PostgreSQL, PgBouncer), then the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install system-deps catalog bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# PostgreSQL and PgBouncer from Debian's packages, only when missing (tests start their own servers).
system-deps:
	@scripts/ensure-system-deps.sh

demo: $(STAMP)
	$(BIN)/planner check examples/shared-instance.yaml || true
	$(BIN)/planner plan examples/beanstalk-flask.yaml --top 3
	$(BIN)/planner recommend examples/shared-instance.yaml
	$(BIN)/planner report examples/shared-instance.yaml -o reports/shared-instance.html

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

catalog: $(STAMP)
	$(BIN)/python scripts/build_catalog.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

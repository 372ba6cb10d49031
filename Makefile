# make demo: the main job on the bundled catalogue and an example topology (HTML report in reports/: the
# report extra).
# make test: everything the suite needs (virtualenv, package, PostgreSQL, PgBouncer, Pgpool-II), then the suite.
# Every install takes its versions from requirements.lock (`make lock` refreshes it), so a fresh
# clone installs today what it installed the day the lock was written.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# The build tools come from the lock too, so the package is built without an isolated, unpinned
# build environment.
PIP_LOCKED := $(BIN)/python -m pip install --quiet --constraint $(LOCK)

.PHONY: demo test install install-run system-deps catalog bench lock clean dist docs-report-png release

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP_LOCKED) pip setuptools wheel poetry-core
	$(PIP_LOCKED) --no-build-isolation -e ".[report]"
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP_LOCKED) --no-build-isolation -e ".[all,test]"
	touch $@

install-run: $(RUN_STAMP)
install: $(TEST_STAMP)

# PostgreSQL, PgBouncer and Pgpool-II from Debian's packages, only when missing (tests start their own servers).
system-deps:
	@scripts/ensure-system-deps.sh

demo: $(RUN_STAMP)
	$(BIN)/planner check examples/shared-instance.yaml || true
	$(BIN)/planner plan examples/beanstalk-flask.yaml --engine-version 16 --top 3
	$(BIN)/planner recommend examples/shared-instance.yaml
	$(BIN)/planner report examples/shared-instance.yaml -o reports/shared-instance.html

test: $(TEST_STAMP) system-deps
	$(BIN)/python -m pytest -q

# Resolve the newest versions the pyproject ranges allow, in a throwaway virtualenv, and record
# them. Review the diff, run `make test`, commit both.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel poetry-core
	.lock-venv/bin/python -m pip install --quiet ".[all,test]"
	{ echo "# Exact versions for make install/demo/test (pip --constraint). Refresh with: make lock"; \
	  echo "# Python $$(.lock-venv/bin/python -c 'import platform; print(platform.python_version())'), written $$(date -u +%Y-%m-%d)"; \
	  .lock-venv/bin/python -m pip freeze --all --exclude planner | LC_ALL=C sort -f; } > $(LOCK)
	rm -rf .lock-venv

catalog: $(TEST_STAMP)
	$(BIN)/python scripts/build_catalog.py

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_sources.py
	$(BIN)/python benchmarks/bench_check_small.py

# docs/report.png: the report of examples/shared-instance.yaml photographed in headless Chromium (a test
# fails when the recommendation it shows is no longer the one planner makes).
docs-report-png: $(TEST_STAMP) system-deps
	$(BIN)/python scripts/report_png.py --out docs/report.png --production-out docs/production.png

# The wheel and the sdist, built with the locked setuptools and wheel (no isolated, unpinned build environment).
dist: $(TEST_STAMP)
	$(BIN)/python -m build --no-isolation --outdir dist

# A release (RELEASING.md): the tree clean and on main, the suite, sdist and wheel built from HEAD into dist/
# and checked (twine check --strict, check-wheel-contents), then the tags vX.Y.Z and vX (moved). Nothing is
# pushed or uploaded: it prints the commands that do. DRY_RUN=1 writes no tag; RELEASE_TESTS replaces the
# suite's command. It installs nothing (run make install first): it must not touch a virtualenv it is given.
release:
	$(BIN)/python scripts/release.py $(if $(DRY_RUN),--dry-run) $(if $(RELEASE_TESTS),--tests '$(RELEASE_TESTS)')

clean:
	rm -rf $(VENV) .lock-venv build dist *.egg-info .pytest_cache

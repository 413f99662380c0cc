# The README's two commands. Both create or reuse the project virtualenv (.venv, or
# $LATENTFLOW_VENV) through scripts/bootstrap.sh, which re-installs only when
# pyproject.toml, constraints/ or the set-up scripts change.
#   make verify   the claims in specs/ (plus the official parity check)
#   make test     the whole test suite
#   make lint     ruff and mypy with the configuration in pyproject.toml (CI runs it before make test)
# Extra pytest arguments: make test PYTEST_ARGS="-k parity -x"

export LATENTFLOW_VENV := $(abspath $(or $(LATENTFLOW_VENV),.venv))
VENV_PYTHON := $(LATENTFLOW_VENV)/bin/python

.PHONY: setup verify test lint

setup:
	@bash scripts/bootstrap.sh

verify: setup
	@"$(VENV_PYTHON)" scripts/run_checks.py verify $(PYTEST_ARGS)

test: setup
	@"$(VENV_PYTHON)" scripts/run_checks.py test $(PYTEST_ARGS)

# Both linters run even when the first one fails, so one run shows every finding.
lint: setup
	@status=0; \
	"$(LATENTFLOW_VENV)/bin/ruff" check || status=1; \
	"$(VENV_PYTHON)" -m mypy || status=1; \
	exit $$status

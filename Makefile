# Entry points, each doing its own set-up first (venv, install; Go build for gate and test):
#   make gate   run the chaos gate on the local platform
#   make gate-kind  the same gate on a kind cluster made for it (root; brings up its own dockerd, kind
#               and, on first use, an offline node image: 15-25 min cold, about 2 min warm)
#   make test   run every test: Go (vet, race) and Python (unit, integration, and the
#               Kubernetes e2e tests on a real kind cluster; GOCHAOS_E2E_KUBERNETES=0 skips those)
#   make check  the quick loop while editing: lint, types (chaos and tests), unit tests; builds no Go
PYTHON ?= python3
# The kind e2e tests need root, Docker (installed and started by the tests themselves) and, on a
# fresh machine, 15-25 min to build the offline node image; later runs reuse it.
export GOCHAOS_E2E_KUBERNETES ?= 1
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup gate gate-kind test test-go test-python check clean

$(BIN)/gochaos: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	@touch $@

setup: $(BIN)/gochaos
	cd go_targets && go mod download
	$(BIN)/python -c "from chaos.build import build; build(progress=print)"

gate: setup
	$(BIN)/gochaos run gate --report-dir reports

gate-kind: setup
	PYTHONPATH=tests/e2e $(BIN)/python -m kind_offline run -- \
		$(BIN)/gochaos run gate --platform kubernetes --report-dir reports-kind

test: test-go test-python

test-go: setup
	cd go_targets && go vet ./... && go test -race -count=1 ./...

test-python: setup
	$(BIN)/ruff check chaos tests
	$(BIN)/mypy
	$(BIN)/pytest

check: $(BIN)/gochaos
	$(BIN)/ruff check chaos tests
	$(BIN)/mypy
	$(BIN)/pytest tests/unit -q

clean:
	rm -rf $(VENV) build *.egg-info

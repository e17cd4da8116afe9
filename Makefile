# The README's commands are targets here.  Each installs what it needs into
# .venv (from PyPI) the first time, so a fresh machine needs only Python 3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-all proto lint bench clean image lock FORCE

# editable_mode=strict: a plain .pth line names build/__editable__.*, a tree of links to
# the source files, so no import hook is loaded at every start (the default mode's hook
# made a one-shot command 10 to 13 per cent slower) and no deprecated mode is used (compat).  An edit is
# seen at once; a file added or removed needs its link made or unmade: $(VENV)/.sources lists
# the packages' files and is rewritten only when that list changes, which installs again.
# setuptools says where the links are with a warning on every install; that one is not shown.
SOURCES := $(sort $(shell find smclient sdamanager_stub -type f -not -path '*/__pycache__/*' -not -name '*.pyc'))

$(VENV)/.sources: FORCE
	@mkdir -p $(VENV)
	@echo '$(SOURCES)' | cmp -s - $@ || echo '$(SOURCES)' > $@

$(STAMP): pyproject.toml $(VENV)/.sources
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" \
	    $(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=strict
	touch $(STAMP)

FORCE:

## run: open the shell on an embedded simulator with a demo cluster
run: $(STAMP)
	$(BIN)/moreh_smclient --simulator

# The suite on every core (pytest-xdist); tests that share something (a module's
# costly fixture) are pinned to one worker with xdist_group.  PYTEST_PARALLEL= runs it serially.
PYTEST_PARALLEL ?= -n auto --dist loadgroup

## test: the whole test suite, the slow tests (kill -9 loops) with fewer rounds
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

## test-all: the whole test suite, the slow tests at full strength (what CI runs)
test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --slow

## proto: regenerate smclient/api from proto/ (the generated code is committed)
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc \
	    -Ismclient/api=proto/sdamanager/v1 \
	    -I$$($(BIN)/python -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))') \
	    --python_out=. --pyi_out=. --grpc_python_out=. \
	    proto/sdamanager/v1/sdamanager.proto

## bench: performance figures (medians and ratios against baselines measured in the same run)
bench: $(STAMP)
	$(BIN)/python bench/run.py

## lock: pin the image's dependencies and its build backend, with hashes (deploy/requirements.lock;
## the Dockerfile installs from it with --require-hashes).  Run it after changing pyproject's
## dependencies; it resolves with this venv's Python (tests/test_deploy_manifests.py checks the lock
## covers pyproject.toml).
lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
	    --strip-extras --build-deps-for wheel --no-emit-find-links --no-emit-index-url \
	    --output-file deploy/requirements.lock pyproject.toml

## image: the container image (needs Docker; README "Deploy"), tagged with the project's version
IMAGE ?= sdamanager-stub:$(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' smclient/__init__.py)
image:
	docker build -t $(IMAGE) .

## lint: ruff on everything, then mypy --strict on both packages (pyproject's [tool.mypy])
lint: $(STAMP)
	$(BIN)/ruff check smclient sdamanager_stub tests bench
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

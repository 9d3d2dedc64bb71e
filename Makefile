# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test bench lint clean messages translations hub fuzz audit load chaos

# constraints.txt pins every dependency to the version the tests passed with (docs/
# reliability.md, "Supply chain"); each install below uses it.
CONSTRAINTS := -c constraints.txt

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(CONSTRAINTS)
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/passport serve --load-default --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

# The program office's hub (README, "Running a program network"): gunicorn on the
# PostgreSQL database named by $$PASSPORT_HUB_DATABASE_URL (run `passport hub init` first).
HUB_PORT    ?= 8000
HUB_WORKERS ?= 2

hub: $(STAMP)
	$(BIN)/passport hub serve --host $(HOST) --port $(HUB_PORT) --workers $(HUB_WORKERS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]' $(CONSTRAINTS)
	$(BIN)/passport bench

# Load and crashes, on loopback only and bounded (docs/reliability.md, "Load" and "Crashes
# and faults"): `make load` serves with 1 and LOAD_WORKERS processes and measures check and
# check-ins beside /healthz at 1-64 clients; `make chaos` kills the server, a list publish
# and a roster issue with kill -9, CHAOS_TRIALS times each. Results in bench/results/.
LOAD_WORKERS ?= 2
LOAD_SECONDS ?= 4
CHAOS_TRIALS ?= 3

load: $(STAMP)
	$(BIN)/python -m bench.load --workers 1,$(LOAD_WORKERS) --seconds $(LOAD_SECONDS) \
		--json bench/results/load.json

chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --trials $(CHAOS_TRIALS) --json bench/results/chaos.json

# The long fuzzing runs (docs/reliability.md, "Fuzzing"): atheris on the card decoder and
# the list importer, schemathesis on the API against a real server on loopback, each for
# FUZZ_SECONDS; findings and corpora go to build/fuzz/. The short versions run in `make test`.
FUZZ_SECONDS ?= 60

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,fuzz]' $(CONSTRAINTS)
	$(BIN)/python tests/fuzz/run.py cards lists api --seconds $(FUZZ_SECONDS)

# The member pages' languages (README, "Languages"): `make messages` extracts every marked
# text into kiosk/translations/messages.pot and merges it into each language's messages.po;
# `make translations` compiles the .po files into the .mo files the kiosk reads (kept in the
# repository beside them, so a fresh clone runs as it is; tests/test_i18n.py fails on a
# stale one).
TRANSLATIONS := kiosk/translations

messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header \
		-o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete

translations: $(STAMP)
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

# Known vulnerabilities in the pinned versions (pip-audit; .ci/audit.py): fails on a finding,
# one line and success when the vulnerability service cannot be reached. AUDIT_SERVICE=osv
# asks OSV instead of PyPI.
AUDIT_SERVICE ?= pypi

audit: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[audit]' $(CONSTRAINTS)
	$(BIN)/python .ci/audit.py $(AUDIT_SERVICE)

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info

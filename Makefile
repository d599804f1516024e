# The courtroom pod. `make run` starts a demo hearing; `make test` runs every test.
PY := .venv/bin/python
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: setup run test lint bench clean court court-down

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m courtroom serve --host $(HOST) --port $(PORT) --data $(DATA) --demo

test: setup
	$(PY) -m pytest -q tests

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

court: setup
	$(PY) -m localcourt up --dir .court

court-down:
	$(PY) -m localcourt down --dir .court

bench: setup
	$(PY) -m loadtest --hearings 1 --participants 5 --seconds 30 --resolution 640x360 --fps 15

clean:
	rm -rf .venv build *.egg-info

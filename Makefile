# The courtroom pod. `make run` starts a demo hearing; `make test` runs every test.
PY := .venv/bin/python
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 8080
ARGS ?=

.PHONY: setup run test lint bench bench-court clean court court-down

setup:
	@bash scripts/setup.sh

# On an address other than loopback, browsers give the camera only to HTTPS: a self-signed
# certificate is made once in $(DATA)/tls (pass TLS="--tls-cert F --tls-key K" for a real one).
run: setup
	@case "$(HOST)" in 127.0.0.1|localhost|::1) tls="$(TLS)" ;; \
	  *) tls="$(TLS)"; [ -n "$$tls" ] || tls="$$($(PY) -m courtroom tls self-signed --data $(DATA) --host $(HOST) --port $(PORT))" || exit 1 ;; esac; \
	  set -x; $(PY) -m courtroom serve --host $(HOST) --port $(PORT) --data $(DATA) --demo $$tls $(ARGS)

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

# Hearings per box, one pod against one pod per core: a whole court on loopback, ramped (docs/capacity.md).
bench-court: setup
	for pods in 1 2; do $(PY) -m loadtest --court --pods $$pods --ramp --max-hearings 5 --participants 5 \
	  --resolution 640x360 --fps 15 --asr-engine off --seconds 20 --json results/court-$${pods}pod.json || exit 1; done

clean:
	rm -rf .venv build *.egg-info

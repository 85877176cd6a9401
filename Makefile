# Every target sets up what it needs: a fresh machine with python3 and make is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test soak browser-test serve screenshots bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,load]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/softphone demo

serve: $(STAMP)
	$(BIN)/softphone serve

test: $(STAMP)
	$(BIN)/ruff check softphone tests benchmarks
	$(BIN)/python -m pytest -q

# The proofs (tests marked soak) at full size: 500 convergence runs under faults, 1,000 races, 50
# crashes, thousands of model steps and fuzzed frames, 100 schemathesis examples per operation. The
# figures go to soak-results.md and into RELIABILITY.md. SOFTPHONE_SEED=N replays one seed of each.
soak: $(STAMP)
	SOFTPHONE_SOAK=1 SOFTPHONE_SOAK_RESULTS=soak-results.md $(BIN)/python -m pytest -q -m soak

# /docs and `softphone web` in a real browser with nothing reachable beyond loopback: Debian's chromium
# (installed here as root), driven by Playwright from the test extras; Playwright never downloads a browser.
browser-test: $(STAMP)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } || \
		{ echo "the browser test needs Debian's chromium: apt-get install chromium"; exit 1; }
	$(BIN)/python -m pytest -q -rs tests/server/test_docs.py tests/web/test_browser.py

# SVG and PNG of every screen from the scripted scenarios in tests/tui/scenarios.py.
screenshots: $(STAMP)
	@command -v rsvg-convert >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq librsvg2-bin fonts-firacode fonts-wqy-microhei; } || \
		{ echo "screenshots need rsvg-convert: apt-get install librsvg2-bin fonts-firacode fonts-wqy-microhei"; exit 1; }
	cd tests && ../$(BIN)/python -m tui.make_screenshots ../screenshots

# Push latency, fan-out, memory, request cost, sustained calls and the TUI, each against a baseline of the
# same run (about seven minutes; needs Debian's wrk, installed here as root): benchmarks/results.md,
# results.json and profile.txt.
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; } || \
		{ echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m pip install -q -e '.[test,load,bench]'
	$(BIN)/python -m benchmarks.bench_scale --out benchmarks/results.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

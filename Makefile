# Everything goes through uv and the committed uv.lock. If uv is missing it is
# pip-installed; pip may put it in a bin dir that is not on PATH, hence the
# `python3 -m uv` fallback.

# Recursively expanded (=): evaluated when a recipe runs, i.e. after `uv-tool`
# had its chance to install uv.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)

# Use the Python already on the machine; never download one.
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := run
.PHONY: run test lint bench bench-scale install uv-tool chromium i18n

run: install
	$(UV) run kameng run

# Parallel test processes (pytest-xdist), each with databases of its own; a
# file's tests stay in one process (the browser tests share one chromium).
# PYTEST_WORKERS=0 runs everything in this process.
PYTEST_WORKERS ?= 2

test: install chromium
	$(UV) run pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile

lint: install
	$(UV) run ruff format --check src tests scripts
	$(UV) run ruff check src tests scripts
	$(UV) run mypy
	$(UV) run mypy scripts
	$(UV) run lint-imports

# Options after BENCH_ARGS, e.g. make bench BENCH_ARGS="--orders 20000 --seconds 60".
# make bench BENCH_ARGS=--scale (same as make bench-scale): the hot paths at
# 10 k / 100 k / 1 M orders and keys, filled with COPY (scripts/benchlib/scale.py).
# (make itself refuses a literal `make bench --scale`: it parses --options as its own.)
bench: install
	$(UV) run python scripts/bench.py $(BENCH_ARGS)
	$(UV) run python scripts/bench_notify.py
ifeq ($(filter --scale,$(BENCH_ARGS)),)
	$(UV) run python scripts/bench_supply.py
	$(UV) run python scripts/bench_sse.py
	# Issue 11: the lookup by identifier kind with 1 M orders in the database.
	$(UV) run python scripts/bench.py --scale --sizes 1000000 --seconds 2 --notifies 500
endif

bench-scale: install
	$(UV) run python scripts/bench.py --scale $(BENCH_ARGS)

install: uv-tool
	$(UV) sync --locked

# Translations (README, "Translations"): extract every marked string from the
# code and templates, merge it into each language's catalogue, compile. The
# compiled .mo files are not committed; the app compiles a .po in memory when
# its .mo is missing or older (so a fresh clone needs no step).
# tests/test_translations.py fails when a catalogue and the code disagree.
LOCALES_DIR = src/kameng/locale
i18n: install
	$(UV) run pybabel extract -F babel.cfg --no-location --sort-output --add-comments=TRANSLATORS: \
		--project=kameng -o $(LOCALES_DIR)/kameng.pot src
	$(UV) run pybabel update -i $(LOCALES_DIR)/kameng.pot -d $(LOCALES_DIR) -D kameng \
		--ignore-obsolete
	@# A timestamp per run would make every catalogue change conflict with every other.
	sed -i '/^"POT-Creation-Date: /d' $(LOCALES_DIR)/*/LC_MESSAGES/kameng.po
	$(UV) run pybabel compile -d $(LOCALES_DIR) -D kameng --statistics

uv-tool:
	@command -v uv >/dev/null || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv

# The browser tests (tests/browser) drive Debian's chromium. Installed here
# when missing and possible (root with apt-get); otherwise a warning, and
# those tests skip saying chromium is missing. Never fails the build.
CHROMIUM_WARNING = WARNING: /usr/bin/chromium is missing and could not be installed \
	(needs root and apt-get: apt-get install chromium fonts-wqy-microhei); \
	the browser tests in tests/browser will be skipped.

# The CJK font is checked on its own: without it every Chinese text in the
# screenshots renders as empty boxes.
CJK_FONT = /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

chromium:
	@if [ -x /usr/bin/chromium ] && [ -e $(CJK_FONT) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium for the browser tests (apt-get)..."; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium fonts-wqy-microhei; } || true; \
		[ -x /usr/bin/chromium ] || echo "$(CHROMIUM_WARNING)" >&2; \
	else \
		[ -x /usr/bin/chromium ] || echo "$(CHROMIUM_WARNING)" >&2; \
	fi

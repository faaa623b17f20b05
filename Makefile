# Conventional verbs over CMake + ctest. The Debian packages medstream needs
# are listed once, in deps/debian-packages.txt; `make deps`, `make run` and
# .ci/run all read it.

BUILD      ?= build
SANITIZE   ?= 0
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PACKAGES   := $(shell grep -v '^\s*\#' deps/debian-packages.txt | grep -v '^\s*$$')
SERVE_ARGS ?=

CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
ifeq ($(SANITIZE),1)
CMAKE_FLAGS += -DMS_SANITIZE=ON
endif
ifeq ($(TSAN),1)
CMAKE_FLAGS += -DMS_TSAN=ON
endif

# make fuzz: seconds per target, and which targets (default: every
# fuzz/corpus/<name>). make test-tsan: the e2e files run under TSan.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
TSAN_E2E     ?= tests/e2e/test_streaming.py tests/e2e/test_idempotency.py tests/e2e/test_cancel.py \
                tests/e2e/test_resume.py tests/e2e/test_crash_recovery.py tests/e2e/test_auth.py \
                tests/e2e/test_rest_api.py tests/e2e/test_spine.py tests/e2e/test_attachments.py
# make tidy: MS_TIDY_STRICT=1 (the default, and .ci/run's) fails on any
# finding; 0 reports them without failing.
MS_TIDY_STRICT ?= 1
TIDY_FILES   ?= $(shell git ls-files 'src/*.c' 'tests/unit/*.c' 'bench/*.c' 2>/dev/null || \
                  find src tests/unit bench -name '*.c')

.PHONY: all build deps run test test-asan test-tsan fuzz tidy bench-retrieval clean ui ui-deps ui-check \
        screenshots

all: build

# Installs missing packages when run as root; otherwise prints the one line to run.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "Installing:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "Missing Debian packages. Run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# Starts the server with the embedded defaults (SQLite in ./medstream-data,
# offline provider, starter knowledge base, 127.0.0.1:8080).
run: deps build
	./$(BUILD)/medstream serve $(SERVE_ARGS)

# The web client (ui/src, Preact + TypeScript) is built by Vite into the
# committed, gzip-compressed ui/dist that the binary embeds, so `make run`
# needs no Node. `make ui` rebuilds it; `make ui-check` fails when ui/dist
# is not the build of ui/src (CI runs it). Both need Node >= 20.19 and npm.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

ui-deps: node_modules/.package-lock.json

ui: ui-deps
	npm run build

ui-check: ui-deps
	npm run check

# PNGs of the main screens in both themes into docs/screenshots (chromium).
screenshots: ui-deps build
	MEDSTREAM_BIN=$(BUILD)/medstream node tests/browser/screenshots.mjs docs/screenshots

# Unit (cmocka), end-to-end (pytest), web client unit (vitest) and browser
# (Playwright) tests through ctest.
test: build
	ctest --test-dir $(BUILD) --output-on-failure

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer;
# lsan.supp lists the leaks of libraries we do not own, each with why.
test-asan:
	LSAN_OPTIONS="suppressions=$(CURDIR)/lsan.supp:print_suppressions=0" \
	  $(MAKE) test BUILD=build-asan SANITIZE=1 BUILD_TYPE=Debug

# Unit tests and an e2e subset (thread pool, group-commit writer, concurrent
# streams, cancel, resume, crash recovery, password hashing and REST on the
# pool) under ThreadSanitizer. tsan.supp
# lists the reports of uninstrumented libraries we do not own, each with why.
test-tsan:
	$(MAKE) build BUILD=build-tsan TSAN=1 BUILD_TYPE=RelWithDebInfo
	TSAN_OPTIONS="suppressions=$(CURDIR)/tsan.supp halt_on_error=0 second_deadlock_stack=1 history_size=4 $$TSAN_OPTIONS" \
	  ctest --test-dir build-tsan -R '^unit_' --output-on-failure
	TSAN_OPTIONS="suppressions=$(CURDIR)/tsan.supp halt_on_error=0 second_deadlock_stack=1 history_size=4 $$TSAN_OPTIONS" \
	  MEDSTREAM_BIN=$(CURDIR)/build-tsan/medstream \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider $(TSAN_E2E)

# libFuzzer targets (fuzz/): builds them with clang, ASan and UBSan in
# build-fuzz/, then runs each for FUZZ_SECONDS on its seed corpus; fails on
# any crash, leak, timeout or out-of-memory (fuzz/run.sh).
build-fuzz/CMakeCache.txt:
	CC=clang cmake -S . -B build-fuzz -DMS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo

fuzz: build-fuzz/CMakeCache.txt
	cmake --build build-fuzz -j$(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh --build build-fuzz $(FUZZ_TARGETS)

# clang-tidy with .clang-tidy over every C source, through the compile
# commands of $(BUILD). The findings go to $(BUILD)/tidy.txt.
tidy: $(BUILD)/CMakeCache.txt
	@command -v run-clang-tidy >/dev/null || { echo "run-clang-tidy not found (Debian clang-tidy)"; exit 1; }
	@out=$(BUILD)/tidy.txt; \
	run-clang-tidy -p $(BUILD) -quiet -j $(JOBS) $(addprefix $(CURDIR)/,$(TIDY_FILES)) >$$out 2>&1; \
	sed -i 's/\x1b\[[0-9;]*m//g' $$out; \
	n=$$(grep -cE ': (warning|error): .*\[[a-zA-Z0-9.,-]+\]$$' $$out); \
	grep -E ': (warning|error): .*\[[a-zA-Z0-9.,-]+\]$$' $$out | sort -u; \
	echo "clang-tidy: $$n finding(s) in $(words $(TIDY_FILES)) files (details: $$out)"; \
	if [ "$$n" != 0 ] && [ "$(MS_TIDY_STRICT)" = 1 ]; then exit 1; fi

# Retrieval quality on LiveQA-Med and PubMedQA (needs ../shared/data).
bench-retrieval: build
	/usr/bin/python3 bench/retrieval.py $(BUILD)/medstream --write docs/performance.md

# The offline answerer on real questions: abstention on everyday questions,
# answers to LiveQA and MedQuAD questions, verbatim quoting, time to first
# chunk (needs ../shared/data; about a minute). Results in docs/retrieval.md.
.PHONY: eval-answerer
eval-answerer: build
	nice -n 10 /usr/bin/python3 bench/answerer.py $(BUILD)/medstream

# Load: medstream and the two peers under the same load; writes the "## Load"
# section of docs/performance.md (bench/run.sh; about 15 minutes on 2 cores).
# Gateway overhead on the OpenAI-compatible path: nginx as the upstream,
# wrk and hey as the load (bench/overhead.sh; needs nginx-light wrk hey; about
# 2 minutes). Not run by .ci/run.
.PHONY: bench-overhead
bench-overhead: build
	nice -n 10 bench/overhead.sh --bin $(BUILD)/medstream --out $(BUILD)/overhead.md

.PHONY: bench
bench: build
	bench/run.sh --bin $(BUILD)/medstream --write docs/performance.md

clean:
	rm -rf build build-asan build-tsan build-fuzz

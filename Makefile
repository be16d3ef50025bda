# SPDX-License-Identifier: Apache-2.0
# gpuvisor: a thin driver over CMake. Everything is built under build/; the sanitizer build of the
# unit tests lives in build-asan/, the fuzzers in build-fuzz/. PREFIX and DESTDIR are honoured by
# `make install`.

PREFIX    ?= /usr/local
BUILD     ?= build
ASAN      ?= build-asan
FUZZ      ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all check test asan-check install bench demo fuzz format clean deps

all: $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

$(ASAN)/CMakeCache.txt:
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DGV_SANITIZE=ON $(CMAKE_ARGS)

deps:
	@scripts/deps.sh

# Every test through CTest: first all but those that measure time, in parallel, then those labelled
# `timing` one at a time; then the unit tests, the fuzzers' seed replays, remoting's tests
# against a hostile client and the daemon's live streams again under AddressSanitizer and UBSan.
check: all asan-check
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE timing
	@cd $(BUILD) && ctest --output-on-failure -j 1 -L timing

test: check

asan-check: $(ASAN)/CMakeCache.txt
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz-replay' -LE timing
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) -L remote -LE timing -R '^test_remote_'
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) -R '^daemon_(page|stream)$$'
	@cd $(ASAN) && ctest --output-on-failure -j 1 -L timing -R '^test_'

install: all
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

bench: all
	@cmake --build $(BUILD) --target bench

# Each parser's fuzzer for FUZZ_SECONDS seconds (clang and libFuzzer; never part of `make check`).
fuzz:
	@FUZZ_BUILD=$(FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

demo: all
	@scripts/demo.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(ASAN) $(FUZZ)

# gpuvisor: a thin driver over CMake. Everything is built under build/; the sanitizer build of the
# unit tests lives in build-asan/. PREFIX and DESTDIR are honoured by `make install`.

PREFIX    ?= /usr/local
BUILD     ?= build
ASAN      ?= build-asan
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all check test asan-check install bench demo format clean deps

all: $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

$(ASAN)/CMakeCache.txt:
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DGV_SANITIZE=ON $(CMAKE_ARGS)

deps:
	@scripts/deps.sh

# Every test through CTest, then the unit tests again under AddressSanitizer and UBSan.
check: all asan-check
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test: check

asan-check: $(ASAN)/CMakeCache.txt
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) -L unit

install: all
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

bench: all
	@cmake --build $(BUILD) --target bench

demo: all
	@scripts/demo.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(ASAN)

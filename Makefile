# tributary - one Makefile for the whole tree (no per-folder Makefiles).
#
#   make            build build/tributary
#   make check      install missing packages (as root), build, run all tests,
#                   then the same suite under ASan+UBSan
#   make demo       run the demo on throwaway servers
#   make bench      build and run the benchmarks in bench/
#   make style      clang-format the sources in place
#   make clean      remove everything built

BUILD   ?= build
CC      ?= cc
PKGS    := libpq libmariadb rdkafka avro-c jansson libzstd
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wno-missing-field-initializers
OPT     ?= -O2 -g
SAN     ?=
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
CFLAGS  += -DTB_HAVE_ZSTD $(CSTD) $(WARN) $(OPT) $(SAN) -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lpthread -lm
LDFLAGS += $(SAN)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS  += -DTB_VERSION='"$(VERSION)"'

LIB_SRC   := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard connectors/*/*.c)
LIB_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
MAIN_OBJ  := $(BUILD)/obj/src/main.o
TEST_SRC  := $(wildcard tests/unit/test_*.c) $(wildcard tests/integration/test_*.c)
TEST_BIN  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_UTIL := $(wildcard tests/util/*.c)
TEST_UTIL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_UTIL))
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps check test demo bench style style-check clean
all: $(BUILD)/tributary

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtb.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tributary: $(MAIN_OBJ) $(BUILD)/libtb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libtb.a $(TEST_UTIL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(TEST_UTIL_OBJ) $(BUILD)/libtb.a $(LDFLAGS) $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtb.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtb.a $(LDFLAGS) $(LDLIBS)

tests: $(BUILD)/tributary $(TEST_BIN)

deps:
	@scripts/deps.sh

# The full suite: normal build, then ASan+UBSan build, one summary line last.
check: deps style-check
	@scripts/check.sh

# Run the suite against an already-built tree (used by scripts/check.sh).
test: tests
	@tests/run.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: $(BUILD)/tributary $(BENCH_BIN)
	@scripts/bench.sh $(BUILD)

STYLE_SRC = $(wildcard src/*.c src/*.h include/*.h connectors/*/*.c connectors/*/*.h tests/*/*.c tests/*/*.h bench/*.c)
style:
	clang-format -i $(STYLE_SRC)

# Checks the files git tracks (all files outside a git checkout).
STYLE_TRACKED = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
style-check:
	@if command -v clang-format >/dev/null; then \
	  clang-format --dry-run -Werror $(or $(STYLE_TRACKED),$(STYLE_SRC)) || { echo "unformatted code: run 'make style'"; exit 1; }; \
	else echo "clang-format not installed; style check skipped"; fi

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# docs/configuration.md is generated from the property table in src/config.c.
docs: $(BUILD)/tributary
	$(BUILD)/tributary check-config --docs > docs/configuration.md
.PHONY: docs

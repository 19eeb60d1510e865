# clonebay: one Makefile. `make` builds, `make check` installs deps, builds and
# runs every test, `make demo` opens the station on a practice bench.
VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
SANITIZE   ?= 0
PKGS       := ncursesw libudev libzstd libcrypto blkid ext2fs com_err libntfs-3g fuse3

V          ?= 0
Q          := $(if $(filter 1,$(V)),,@)
BUILD      := build
ifeq ($(SANITIZE),1)
BUILD      := build-san
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

CC         ?= cc
CFLAGS     ?= -O2 -g
# snprintf truncation of labels is deliberate; clang has no such warning to turn off.
NOTRUNC    := $(shell $(CC) -Werror -Wno-format-truncation -E -x c /dev/null >/dev/null 2>&1 && \
                echo -Wno-format-truncation)
WARNFLAGS  := -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wno-format-nonliteral $(NOTRUNC)
CPPFLAGS   += -I. -D_GNU_SOURCE -DCLONEBAY_VERSION=\"$(VERSION)\" \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS     += -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
ALLCFLAGS   = $(WARNFLAGS) $(CFLAGS) $(SANFLAGS) $(CPPFLAGS)

LIB_SRCS   := $(wildcard common/*.c devices/*.c clone/*.c clone/fs/*.c jobs/*.c)
UI_SRCS    := $(filter-out ui/main.c,$(wildcard ui/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UI_OBJS    := $(UI_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ   := $(BUILD)/ui/main.o
BIN        := $(BUILD)/clonebay

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: iso netboot fuzz fuzz-run all deps check check-unit check-integration check-deps tests install demo demo-clean clean

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(LIB_OBJS) $(UI_OBJS) $(MAIN_OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)
	@ln -sf $(BUILD)/clonebay clonebay 2>/dev/null || true

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLCFLAGS) $(shell pkg-config --cflags fuse3 2>/dev/null) -o $@ $^ $(LDLIBS) \
	    $(shell pkg-config --libs fuse3 2>/dev/null)

tests: $(BIN) $(UNIT_BINS) $(TOOL_BINS)

# libFuzzer targets (clang): the image reader and the mapfile reader.
# `make fuzz-run FUZZ_SECONDS=300` fuzzes each from its seed corpus; new inputs
# go to build-fuzz/corpus/NAME (merge the interesting ones into
# tests/fuzz/corpus/NAME with -merge=1).
FUZZ_SRCS  := clone/image_read.c clone/image_format.c clone/part_file.c clone/http_range.c clone/hash.c clone/engine_source.c clone/io.c \
              clone/progress.c clone/block_map.c common/cb_error.c common/safe_file.c
FUZZ_MAP_SRCS := clone/block_map.c common/cb_error.c common/safe_file.c
FUZZ_SECONDS ?= 120
FUZZ_CC    = clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 \
	    -Wall -Wextra -Werror -I. -D_GNU_SOURCE -DCLONEBAY_VERSION=\"$(VERSION)\"
build-fuzz/fuzz_image: tests/fuzz/fuzz_image.c $(FUZZ_SRCS) $(wildcard clone/*.h common/*.h)
	@mkdir -p build-fuzz/corpus/image
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) -o $@ tests/fuzz/fuzz_image.c $(FUZZ_SRCS) $(shell pkg-config --libs libzstd libcrypto)

build-fuzz/fuzz_map: tests/fuzz/fuzz_map.c $(FUZZ_MAP_SRCS) $(wildcard clone/*.h common/*.h)
	@mkdir -p build-fuzz/corpus/map
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) -o $@ tests/fuzz/fuzz_map.c $(FUZZ_MAP_SRCS)

fuzz: build-fuzz/fuzz_image build-fuzz/fuzz_map

fuzz-run: fuzz
	build-fuzz/fuzz_image -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus/image tests/fuzz/corpus/image
	build-fuzz/fuzz_map -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build-fuzz/corpus/map tests/fuzz/corpus/map

deps:
	scripts/install-deps

# The live ISO (iso/build.sh): always from the plain build, whatever SANITIZE says.
# The kernel comes from the Debian archive, so the first build needs the mirror.
ISO        := build/clonebay-live.iso
iso:
	$(MAKE) SANITIZE=0 $(ISO)

build/clonebay-live.iso: build/clonebay $(wildcard iso/*)
	@$(if $(Q),echo "  ISO     $@")
	$(Q)iso/build.sh build/clonebay $@
	$(Q)mkdir -p build/netboot
	$(Q)cp build/iso-work/media/boot/vmlinuz build/iso-work/media/boot/initrd.zst build/netboot/

# The live system's kernel and initramfs as files of their own, for `clonebay
# netboot` (PXE): $(BUILD)/netboot/, where clonebay looks beside itself (the
# ISO's rule leaves them in build/netboot too, so make check boots them).
netboot: $(BIN)
	$(Q)iso/build.sh $(BIN) $(BUILD)/clonebay-live.iso $(BUILD)/iso-work
	$(Q)mkdir -p $(BUILD)/netboot
	$(Q)cp $(BUILD)/iso-work/media/boot/vmlinuz $(BUILD)/iso-work/media/boot/initrd.zst $(BUILD)/netboot/

# The README's test command: installs what is missing, builds, runs everything
# (the live-ISO tests boot $(ISO) in QEMU; NO_ISO=1 leaves it out and they skip).
check: deps
	$(MAKE) tests
	$(MAKE) check-deps
	$(if $(NO_ISO),,$(MAKE) iso)
	NO_ISO=$(NO_ISO) BUILD=$(BUILD) tests/run-all

check-unit: tests
	BUILD=$(BUILD) tests/run-all unit

check-integration: tests
	BUILD=$(BUILD) tests/run-all integration

check-deps:
	scripts/check-layers

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/clonebay
	install -D -m 0644 doc/clonebay.1 $(DESTDIR)$(PREFIX)/share/man/man1/clonebay.1

demo: deps
	$(MAKE) tests
	scripts/demo

demo-clean:
	scripts/demo --clean

clean:
	rm -rf build build-san build-fuzz clonebay

-include $(LIB_OBJS:.o=.d) $(UI_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)

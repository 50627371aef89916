# Builds the three parts: the CO-RE BPF objects (clang), the N-API addon
# (node-gyp, from binding.gyp, run by prebuildify) and the TypeScript (tsc).
# The addon links a pinned libbpf (with libelf and zlib) statically; the
# headers and archives come from scripts/libbpf, built once into .cache/.
#
# Every architecture the package ships (x64, arm64: Node's names) gets its own
# BPF object and prebuilt addon; the one this machine is not is cross-compiled
# with Debian's gcc/g++ for it (g++-aarch64-linux-gnu on x64).

CLANG ?= clang
HOST_ARCH := $(shell node -p process.arch)
ARCHES := x64 arm64
OTHER_ARCHES := $(filter-out $(HOST_ARCH),$(ARCHES))
# Per architecture: bpf_tracing.h's name for it, its GNU triplet.
BPF_ARCH_x64 := x86
BPF_ARCH_arm64 := arm64
TRIPLET_x64 := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
libbpf_dir = .cache/libbpf/$(1)/prefix
# asm/types.h and friends: the system's for its own architecture, the cross
# compiler's for the other (the BPF programs use only arch-neutral ones).
arch_include = $(firstword $(wildcard /usr/include/$(TRIPLET_$(1)) /usr/$(TRIPLET_$(1))/include) /usr/include/$(TRIPLET_$(HOST_ARCH)))

LIBBPF_DIR := $(call libbpf_dir,$(HOST_ARCH))
LIBBPF := $(LIBBPF_DIR)/versions
BPF_CFLAGS := -target bpf -g -O2 -Wall -I$(LIBBPF_DIR)/include -Ibpf
BPF_OBJECTS := $(foreach a,$(ARCHES),dist/bpf/$(a)/kprobe_node.bpf.o)
# Examples of users' own BPF programs (examples/<name>/<name>.bpf.c), loaded with openObject().
EXAMPLE_OBJECTS := $(patsubst examples/%.bpf.c,dist/examples/%.bpf.o,$(wildcard examples/*/*.bpf.c))
ADDON := build/Release/kprobe_node.node
# What ships: node-gyp-build loads it where no build/ exists (N-API, any Node >= 18).
PREBUILD = prebuilds/linux-$(1)/kprobe-node.glibc.node
CROSS_PREBUILDS := $(foreach a,$(OTHER_ARCHES),$(call PREBUILD,$(a)))
NATIVE_SOURCES := binding.gyp $(wildcard native/*.cc native/*.h) bpf/kprobe_node.h
FIXTURE_BTF := dist/test/fixtures/kernel.btf

.PHONY: all bpf addon cross libbpf ts fixtures pack test test-unit test-host vmtest vmtest-arm64 bench clean setup example-types

all: bpf addon cross ts fixtures

bpf: $(BPF_OBJECTS) $(EXAMPLE_OBJECTS)

dist/bpf/%/kprobe_node.bpf.o: bpf/kprobe_node.bpf.c bpf/kprobe_node.h bpf/arch.h $(LIBBPF)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(BPF_ARCH_$*) -I$(call arch_include,$*) -c $< -o $@

# Built for this machine's architecture, as a user builds theirs.
dist/examples/%.bpf.o: examples/%.bpf.c $(wildcard examples/*/*.h) $(LIBBPF)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(BPF_ARCH_$(HOST_ARCH)) -I$(call arch_include,$(HOST_ARCH)) -I$(dir $<) -c $< -o $@

# The examples' typings, generated from their objects as a user would
# (committed; test/unit/examples.test.ts checks they are current).
example-types: bpf
	-npx tsc -p . > /dev/null # emits the CLI even while the examples' old typings do not fit
	for o in $(EXAMPLE_OBJECTS); do node dist/lib/cli/main.js types $$o -o examples/$$(basename $$(dirname $$o))/$$(basename $$o .o).d.ts; done

libbpf: $(LIBBPF)

$(LIBBPF): scripts/libbpf
	scripts/libbpf --arch $(HOST_ARCH)
	@touch $@

addon: $(ADDON)

# prebuildify runs node-gyp and moves the stripped addon into prebuilds/; the
# copy in build/Release is the same file, for tools that look there.
$(ADDON): $(NATIVE_SOURCES) $(LIBBPF)
	KPROBE_NODE_LIBBPF_DIR=$(CURDIR)/$(LIBBPF_DIR) npx prebuildify --napi --strip --tag-libc
	@mkdir -p $(dir $@)
	cp $(call PREBUILD,$(HOST_ARCH)) $@

# The other architectures' prebuilds, built from a copy of the sources in
# .cache/addon/<arch>, so that their build/ does not replace this machine's.
cross: $(CROSS_PREBUILDS)

prebuilds/linux-%/kprobe-node.glibc.node: $(NATIVE_SOURCES) package.json scripts/libbpf
	scripts/libbpf --arch $*
	rm -rf .cache/addon/$*
	mkdir -p .cache/addon/$*/native .cache/addon/$*/bpf
	cp binding.gyp package.json .cache/addon/$*/
	cp native/*.cc native/*.h .cache/addon/$*/native/
	cp bpf/kprobe_node.h .cache/addon/$*/bpf/
	CC=$(TRIPLET_$*)-gcc CXX=$(TRIPLET_$*)-g++ LINK=$(TRIPLET_$*)-g++ AR=$(TRIPLET_$*)-ar \
	KPROBE_NODE_LIBBPF_DIR=$(CURDIR)/$(call libbpf_dir,$*) \
		npx prebuildify --napi --strip --strip-bin $(TRIPLET_$*)-strip --tag-libc --arch $* \
		--cwd .cache/addon/$* --out $(CURDIR)

ts:
	npx tsc -p .

fixtures: $(FIXTURE_BTF)

# The unit tests' kernel BTF, made the way the kernel's build makes vmlinux's:
# gcc's DWARF, encoded by pahole (dwarves). gcc, not clang: the base types get
# the kernel's names (`long unsigned int`).
$(FIXTURE_BTF): test/fixtures/kernel.c
	@mkdir -p $(dir $@)
	gcc -g -O0 -Wall -Werror -fno-eliminate-unused-debug-types -c $< -o $(@:.btf=.o)
	pahole -J --btf_gen_floats --btf_encode_detached=$@.tmp $(@:.btf=.o)
	mv $@.tmp $@

setup:
	scripts/setup

# The npm package (kprobe-node-<version>.tgz): see package.json "files".
pack: all
	npm pack --ignore-scripts

# Host tests (unit + real kernel as root), then kernel tests in a VM with
# kprobes, then the smoke tests in an emulated arm64 VM.
test: all
	scripts/test

test-unit: all
	npx jest --selectProjects unit

test-host: all
	npx jest --selectProjects host

vmtest: all
	scripts/vmtest

# Packs the package, cross-compiles the test program, boots the arm64 VM.
vmtest-arm64: all
	node dist/test/arm64/smoke.js

bench: all
	node dist/bench/run.js

# Keeps .cache/ (the static libbpf takes a while to build).
clean:
	rm -rf build dist prebuilds

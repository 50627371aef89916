# Builds the three parts: the CO-RE BPF objects (clang), the N-API addon
# (node-gyp, from binding.gyp, run by prebuildify) and the TypeScript (tsc).
# The addon links a pinned libbpf (with libelf and zlib) statically; the
# headers and archives come from scripts/libbpf, built once into .cache/.

CLANG ?= clang
ARCH_INCLUDE := /usr/include/$(shell uname -m)-linux-gnu
LIBBPF_DIR := .cache/libbpf/prefix
LIBBPF := $(LIBBPF_DIR)/versions
BPF_CFLAGS := -target bpf -g -O2 -Wall -D__TARGET_ARCH_x86 -I$(LIBBPF_DIR)/include -I$(ARCH_INCLUDE) -Ibpf
BPF_OBJECTS := dist/bpf/kprobe_node.bpf.o
# Examples of users' own BPF programs (examples/<name>/<name>.bpf.c), loaded with openObject().
EXAMPLE_OBJECTS := $(patsubst examples/%.bpf.c,dist/examples/%.bpf.o,$(wildcard examples/*/*.bpf.c))
ADDON := build/Release/kprobe_node.node
# What ships: node-gyp-build loads it where no build/ exists (N-API, any Node >= 18).
PREBUILD := prebuilds/linux-$(shell node -p process.arch)/kprobe-node.glibc.node

.PHONY: all bpf addon libbpf ts pack test test-unit test-host vmtest bench clean setup example-types

all: bpf addon ts

bpf: $(BPF_OBJECTS) $(EXAMPLE_OBJECTS)

dist/bpf/%.bpf.o: bpf/%.bpf.c bpf/kprobe_node.h $(LIBBPF)
	@mkdir -p dist/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

dist/examples/%.bpf.o: examples/%.bpf.c $(wildcard examples/*/*.h) $(LIBBPF)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -I$(dir $<) -c $< -o $@

# The examples' typings, generated from their objects as a user would
# (committed; test/unit/examples.test.ts checks they are current).
example-types: bpf
	-npx tsc -p . > /dev/null # emits the CLI even while the examples' old typings do not fit
	for o in $(EXAMPLE_OBJECTS); do node dist/lib/cli/main.js types $$o -o examples/$$(basename $$(dirname $$o))/$$(basename $$o .o).d.ts; done

libbpf: $(LIBBPF)

$(LIBBPF): scripts/libbpf
	scripts/libbpf
	@touch $@

addon: $(ADDON)

# prebuildify runs node-gyp and moves the stripped addon into prebuilds/; the
# copy in build/Release is the same file, for tools that look there.
$(ADDON): binding.gyp $(wildcard native/*.cc native/*.h) bpf/kprobe_node.h $(LIBBPF)
	KPROBE_NODE_LIBBPF_DIR=$(CURDIR)/$(LIBBPF_DIR) npx prebuildify --napi --strip --tag-libc
	@mkdir -p $(dir $@)
	cp $(PREBUILD) $@

ts:
	npx tsc -p .

setup:
	scripts/setup

# The npm package (kprobe-node-<version>.tgz): see package.json "files".
pack: all
	npm pack --ignore-scripts

# Host tests (unit + real kernel as root), then kernel tests in a VM with kprobes.
test: all
	scripts/test

test-unit: all
	npx jest --selectProjects unit

test-host: all
	npx jest --selectProjects host

vmtest: all
	scripts/vmtest

bench: all
	node dist/bench/run.js

# Keeps .cache/ (the static libbpf takes a while to build).
clean:
	rm -rf build dist prebuilds

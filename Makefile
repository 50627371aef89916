# Builds the three parts: the CO-RE BPF objects (clang), the N-API addon
# (node-gyp, from binding.gyp) and the TypeScript (tsc).

CLANG ?= clang
ARCH_INCLUDE := /usr/include/$(shell uname -m)-linux-gnu
BPF_CFLAGS := -target bpf -g -O2 -Wall -D__TARGET_ARCH_x86 -I$(ARCH_INCLUDE) -Ibpf
BPF_OBJECTS := dist/bpf/kprobe_node.bpf.o
ADDON := build/Release/kprobe_node.node

.PHONY: all bpf addon ts test test-unit test-host vmtest bench clean setup

all: bpf addon ts

bpf: $(BPF_OBJECTS)

dist/bpf/%.bpf.o: bpf/%.bpf.c bpf/kprobe_node.h
	@mkdir -p dist/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

addon: $(ADDON)

$(ADDON): binding.gyp $(wildcard native/*.cc native/*.h) bpf/kprobe_node.h
	npx node-gyp rebuild

ts:
	npx tsc -p .

setup:
	scripts/setup

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

clean:
	rm -rf build dist

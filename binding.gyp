{
  "variables": {
    # The static, -fPIC libbpf/libelf/zlib that scripts/libbpf builds (the
    # development build and the prebuilds use it, so the shipped addon needs
    # none of them); without it (a from-source install) the system's shared
    # libraries are linked instead. Cross builds (the Makefile) name theirs.
    "libbpf_dir%": "<!(node -p \"process.env.KPROBE_NODE_LIBBPF_DIR || (require('fs').existsSync('.cache/libbpf/' + process.arch + '/prefix/lib/libbpf.a') ? require('path').resolve('.cache/libbpf/' + process.arch + '/prefix') : '')\")"
  },
  "targets": [
    {
      "target_name": "kprobe_node",
      "sources": [
        "native/addon.cc",
        "native/perf_reader.cc",
        "native/errors.cc",
        "native/libbpf_log.cc",
        "native/ring.cc",
        "native/object.cc",
        "native/tracer.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "bpf"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["libbpf_dir!=''", {
          "include_dirs": ["<(libbpf_dir)/include"],
          "libraries": [
            "<(libbpf_dir)/lib/libbpf.a",
            "<(libbpf_dir)/lib/libelf.a",
            "<(libbpf_dir)/lib/libz.a"
          ],
          # Keeps the bundled libraries' symbols out of the addon's dynamic
          # symbol table, so they cannot clash with another libbpf in the process.
          "ldflags": ["-Wl,--exclude-libs,ALL"]
        }, {
          "libraries": ["-lbpf", "-lelf", "-lz"]
        }]
      ]
    }
  ]
}

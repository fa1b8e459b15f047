{
  # The agent's libbpf addon: build/Release/dfs_bpf.node (see remote-agent/src/native.ts).
  # libbpf 1.7.0 is linked in statically, with its own headers, from the pinned cache that
  # scripts/libbpf.mjs fetches and builds (the same headers bpf/Makefile uses), and so are the
  # libelf and zlib it was compiled against, built there with -fPIC from the same crate (Debian's
  # libelf.a is not position-independent). Their symbols stay hidden (--exclude-libs), so a
  # system libbpf.so, libelf.so or libz.so can never interpose, and the addon needs nothing on
  # a node but glibc and libstdc++ (test/unit/addon-deps.test.ts). Order matters: each archive
  # after the ones that use it.
  "variables": {
    "libbpf_dir": "<!(node ../../scripts/libbpf.mjs dir)"
  },
  "targets": [
    {
      "target_name": "dfs_bpf",
      "sources": [
        "addon.cc",
        "errors.cc",
        "inspect_ids.cc",
        "inspect_ops.cc",
        "inspect_sockets.cc",
        "kernel_ops.cc",
        "link.cc",
        "names.cc",
        "object.cc",
        "object_load.cc",
        "object_vars.cc",
        "probe_ops.cc",
        "profile_ops.cc",
        "socket_ops.cc"
      ],
      "include_dirs": ["<(libbpf_dir)/include", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "cflags!": ["-Wno-unused-parameter"],
      "libraries": [
        "<(libbpf_dir)/lib/libbpf.a",
        "<(libbpf_dir)/lib/libelf.a",
        "<(libbpf_dir)/lib/libz.a",
        "-Wl,--exclude-libs,ALL"
      ]
    }
  ]
}

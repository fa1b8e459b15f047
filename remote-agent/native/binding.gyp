{
  # The agent's libbpf addon: build/Release/dfs_bpf.node (see remote-agent/src/native.ts).
  "targets": [
    {
      "target_name": "dfs_bpf",
      "sources": [
        "addon.cc",
        "errors.cc",
        "kernel_ops.cc",
        "link.cc",
        "names.cc",
        "object.cc",
        "object_load.cc",
        "socket_ops.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "cflags!": ["-Wno-unused-parameter"],
      "libraries": ["-lbpf"]
    }
  ]
}

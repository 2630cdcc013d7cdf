{
  "targets": [
    {
      "target_name": "bpfmap_native",
      "sources": ["native/bpf.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}

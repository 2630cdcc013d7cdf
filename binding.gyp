{
  "targets": [
    {
      "target_name": "bpfmap_native",
      "sources": ["native/addon.c", "native/common.c", "native/maps.c", "native/objects.c", "native/mmap.c", "native/events.c", "native/prog.c", "native/link.c", "native/struct_ops.c", "native/prog_attach.c", "native/batch_reader.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}

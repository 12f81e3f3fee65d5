{
  "targets": [
    {
      "target_name": "gmp",
      "sources": ["src/gmp_engine.c"],
      "libraries": ["-lgmp"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}

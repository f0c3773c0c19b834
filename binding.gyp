{
  # Optional libraries and CPU flags are probed by scripts/detect-native.mjs, which never fails: a
  # missing OpenBLAS gives the built-in GEMM, a missing oneDNN gives im2col convolution, a missing
  # OpenMP gives single-threaded kernels, a build machine without AVX2/FMA gives portable flags.
  # (gyp turns the probes' "1"/"0" into integers, hence the unquoted comparisons.)
  "variables": {
    "tee_openblas%": "<!(node scripts/detect-native.mjs openblas)",
    "tee_onednn%": "<!(node scripts/detect-native.mjs onednn)",
    "tee_openmp%": "<!(node scripts/detect-native.mjs openmp)",
  },
  "targets": [
    {
      "target_name": "tee_offload",
      "sources": [
        "native/addon.cc",
        "native/threads.cc",
        "native/gemm.cc",
        "native/gemm_builtin.cc",
        "native/gemm_thin.cc",
        "native/conv.cc",
        "native/conv_im2col.cc",
        "native/conv_onednn.cc",
        "native/pooling.cc",
        "native/batchnorm.cc",
        "native/elementwise.cc",
        "native/cross_entropy.cc",
        "native/modp_verify.cc",
        "native/wide_verify.cc",
        "native/wide_ifma.cc",
        "native/modp_gemm.cc",
        "native/quantize.cc",
        "native/gpu/linear.cc",
        "native/gpu/device_cuda.cc",
        "native/gpu/device_emulated.cc",
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-Wall",
        "-Wno-unknown-pragmas",
        "<!@(node scripts/detect-native.mjs simd)",
      ],
      "conditions": [
        ["tee_openblas==1", {"defines": ["USE_OPENBLAS"], "libraries": ["-lopenblas"]}],
        ["tee_onednn==1", {"defines": ["USE_ONEDNN"], "libraries": ["-ldnnl"]}],
        ["tee_openmp==1", {"cflags_cc": ["-fopenmp"], "ldflags": ["-fopenmp"]}],
        # The GPU backend loads CUDA's libraries at run time (native/gpu/device_cuda.cc).
        ["OS=='linux'", {"libraries": ["-ldl"]}],
      ],
    }
  ],
}

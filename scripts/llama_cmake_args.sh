#!/usr/bin/env bash
# CMAKE_ARGS for building llama-cpp-python on this CPU without AMX.
#
# Why: a native (-march=native) build on a CPU with AMX (Sapphire Rapids and later Xeons)
# segfaults on the first decode in ggml_backend_amx_mul_mat (ggml-org/llama.cpp#20824).
# GGML_NATIVE=OFF with explicit instruction-set flags avoids the AMX kernels; the flags are
# read from /proc/cpuinfo so a laptop without AVX-512 does not get an illegal instruction.
# The printed string is also the wheel cache key (see the Makefile): a different CPU gets a
# different wheel.
set -euo pipefail
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }
onoff() { if has "$1"; then echo ON; else echo OFF; fi; }
args="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
args+=" -DGGML_AVX=$(onoff avx) -DGGML_AVX2=$(onoff avx2) -DGGML_FMA=$(onoff fma) -DGGML_F16C=$(onoff f16c)"
args+=" -DGGML_AVX512=$(onoff avx512f) -DGGML_AVX512_VBMI=$(onoff avx512vbmi) -DGGML_AVX512_VNNI=$(onoff avx512_vnni) -DGGML_AVX512_BF16=$(onoff avx512_bf16)"
args+=" -DGGML_AVX_VNNI=$(onoff avx_vnni) -DGGML_BMI2=$(onoff bmi2)"
echo "$args"

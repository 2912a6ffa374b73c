#!/usr/bin/env bash
# Release build of libshale.so, then the quick benchmark on a scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product shale 2>&1 | tail -n 1
mkdir -p bench/build
cc -O2 -Iinclude bench/quick.c -o bench/build/quick -L.build/release -lshale -Wl,-rpath,"$PWD/.build/release" -pthread
dir=$(mktemp -d "${TMPDIR:-/tmp}/shale-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bench/build/quick "$dir" "${1:-1000000}"
cc -O2 -Iinclude bench/checkpoint.c -o bench/build/checkpoint -L.build/release -lshale -Wl,-rpath,"$PWD/.build/release" -pthread
bench/build/checkpoint "$dir" 100000
bench/build/checkpoint "$dir" "${1:-1000000}"

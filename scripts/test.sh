#!/usr/bin/env bash
# Runs every test: Swift (unit, model, crash, corruption, checkpoints), the header check, the C
# ABI tests, the Python binding tests and the CLI tests. Installs missing dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
failed=()

echo "== Swift tests"
swift build --build-tests
swift test --skip-build --disable-swift-testing || failed+=("swift")

echo "== libshale.so and the header"
swift build --product shale
scripts/check-header.sh .build/debug/libshale.so || failed+=("header")

echo "== C tests"
make -s -C bindings/c clean
make -C bindings/c test || failed+=("c")

echo "== Python tests"
SHALE_LIBRARY=$PWD/.build/debug/libshale.so python3 -m pytest -q bindings/python/tests || failed+=("python")

echo "== CLI tests"
swift build --product shale-cli
SHALE_CLI=$PWD/.build/debug/shale-cli python3 -m pytest -q tests/cli || failed+=("cli")

suites=5  # swift, header, c, python, cli
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}"
    echo "suites: $((suites - ${#failed[@]})) passed, ${#failed[@]} failed"
    exit 1
fi
echo "suites: ${suites} passed, 0 failed"

#!/usr/bin/env bash
# The main job: install dependencies, build libshale.so (release), then run the demo from C
# and from Python on a local directory.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== building libshale.so (release)"
swift build -c release --product shale 2>&1 | tail -n 1
LIB_DIR=$PWD/.build/release
echo "== C demo"
make -s -C bindings/c SHALE_LIB_DIR="$LIB_DIR" build/quickstart
rm -rf demo-data && mkdir -p demo-data
bindings/c/build/quickstart demo-data/c-db
echo "== Python demo"
SHALE_LIBRARY="$LIB_DIR/libshale.so" PYTHONPATH=bindings/python python3 bindings/python/examples/demo.py demo-data/py-db

#!/usr/bin/env bash
# Installs what Shale needs to build and test on a fresh Debian machine with the Swift
# toolchain: the zstd/lz4 development packages, pkg-config, and the Python test packages.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
for pkg in libzstd-dev liblz4-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    echo "setup: installing ${need_apt[*]}"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 -c 'import pytest, hypothesis' 2>/dev/null; then
    echo "setup: installing pytest and hypothesis"
    python3 -m pip install -q pytest hypothesis
fi
echo "setup: dependencies present"

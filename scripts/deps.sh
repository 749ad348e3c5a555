#!/usr/bin/env bash
# Installs the system packages Pedigree needs to build and test, when they are missing.
# Safe to run repeatedly: it does nothing when everything is already installed.
set -euo pipefail

packages=(libclang-dev clang protobuf-compiler pkg-config mosquitto)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing missing system packages: ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "deps: cargo not found. Install the Rust toolchain (rustup, Rust >= 1.85) and run again." >&2
    exit 1
fi

#!/usr/bin/env bash
# Builds {{name}}.wasm, the component to test and deploy:
#   ./build.sh && refold test {{name}}.wasm specs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --quiet --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
echo "built {{name}}.wasm"

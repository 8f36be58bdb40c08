#!/usr/bin/env bash
# Builds {{name}}.wasm, the component to test and deploy:
#   ./build.sh && refold test {{name}}.wasm specs
# The first run installs the pinned componentize-qjs (package.json) into node_modules/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
want="$(node -p 'require("./package.json").devDependencies["componentize-qjs"]')"
have="$(node -p 'require("./node_modules/componentize-qjs/package.json").version' 2>/dev/null || true)"
if [[ "$have" != "$want" ]]; then
    npm install --no-audit --no-fund --loglevel=error
fi
# --sync: QuickJS without component-model async, which the engine does not enable.
node_modules/.bin/componentize-qjs --wit wit --js {{name}}.js --world {{world}} --sync \
    --output {{name}}.wasm >/dev/null
echo "built {{name}}.wasm"

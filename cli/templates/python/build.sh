#!/usr/bin/env bash
# Builds {{name}}.wasm, the component to test and deploy:
#   ./build.sh && refold test {{name}}.wasm specs
# The first run installs the pinned componentize-py (requirements.txt) into .venv/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
want="componentize-py $(sed -n 's/^componentize-py==//p' requirements.txt)"
if [[ "$(.venv/bin/componentize-py --version 2>/dev/null)" != "$want" ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
.venv/bin/componentize-py --quiet --wit-path wit --world {{world}} \
    componentize app --python-path src --output {{name}}.wasm
echo "built {{name}}.wasm"

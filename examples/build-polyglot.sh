#!/usr/bin/env bash
# Builds the Python and JavaScript example guests into <target>/polyglot/.
#
#   examples/build-polyglot.sh [NAME...]
#
# Without names it builds the six components the tests use: cart-py.wasm,
# cart-summary-py.wasm, cart-js.wasm, cart-summary-js.wasm, cart-upcaster-js.wasm and
# courses-js.wasm (JavaScript on the default engine, QuickJS). Names may also pick an engine: cart-js-quickjs,
# cart-js-spidermonkey, cart-summary-js-quickjs, cart-summary-js-spidermonkey.
# <target> is $CARGO_TARGET_DIR, else the repository's target/.
#
# It first installs the pinned tools into the repository when they are missing or
# stale: componentize-py into .venv/ (pip), componentize-js and componentize-qjs into
# node_modules/ (npm, from package-lock.json). A component is rebuilt only when its
# sources, the WIT package or the tools changed.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
DEFAULT_JS_ENGINE=quickjs

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${CARGO_TARGET_DIR:-$repo/target}/polyglot"
mkdir -p "$out"

# One build at a time per target directory: tests and scripts may start together.
exec 9>"$out/.lock"
flock 9

install_python_tools() {
    local venv="$repo/.venv"
    if [[ "$("$venv/bin/componentize-py" --version 2>/dev/null)" == "componentize-py $COMPONENTIZE_PY_VERSION" ]]; then
        return
    fi
    echo "build-polyglot: installing componentize-py $COMPONENTIZE_PY_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
}

install_js_tools() {
    local stamp="$repo/node_modules/.refold-installed-lock"
    if cmp -s "$repo/package-lock.json" "$stamp"; then
        return
    fi
    echo "build-polyglot: installing the JavaScript tools from package-lock.json" >&2
    # `npm install --no-save` installs exactly what the lock file lists and never
    # rewrites it. (`npm ci` refuses this lock file: the registry these machines reach
    # has no builds of some optional, other-platform packages, so npm leaves them out
    # of the lock and `npm ci` then reports them missing.)
    (cd "$repo" && npm install --no-save --no-audit --no-fund --loglevel=error)
    cp "$repo/package-lock.json" "$stamp"
}

# A fingerprint of everything a component is built from: its source folder, the WIT
# package, the tool version, and this script.
fingerprint() {
    local sources="$1" tool="$2"
    {
        echo "$tool"
        (cd "$repo" && find "$sources" wit -type f ! -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum)
        sha256sum <"${BASH_SOURCE[0]}"
    } | sha256sum | cut -d' ' -f1
}

# build NAME LANGUAGE ENGINE SOURCES ENTRY WORLD
build() {
    local name="$1" language="$2" engine="$3" sources="$4" entry="$5" world="$6"
    local wasm="$out/$name.wasm" tool
    if [[ "$language" == python ]]; then
        tool="componentize-py $COMPONENTIZE_PY_VERSION"
    else
        tool="$engine $(sha256sum <"$repo/package-lock.json")"
    fi
    local print
    print="$(fingerprint "$sources" "$tool")"
    if [[ -f "$wasm" && "$(cat "$wasm.fingerprint" 2>/dev/null)" == "$print" ]]; then
        return
    fi
    echo "build-polyglot: building $name.wasm from $sources" >&2
    # Build from a copy: the tools leave caches (__pycache__) beside the sources.
    local stage="$out/.stage/$name"
    rm -rf "$stage"
    mkdir -p "$stage"
    cp -R "$repo/$sources/." "$stage/"
    case "$language/$engine" in
        python/*)
            "$repo/.venv/bin/componentize-py" --quiet --wit-path "$repo/wit" --world "$world" \
                componentize "$entry" --python-path "$stage" --output "$wasm.tmp"
            ;;
        javascript/spidermonkey)
            # Without -d http/fetch-event the component imports wasi:http, which the
            # sandbox does not provide.
            "$repo/node_modules/.bin/componentize-js" "$stage/$entry" --wit "$repo/wit" \
                --world-name "$world" --disable http fetch-event --out "$wasm.tmp" >/dev/null
            ;;
        javascript/quickjs)
            "$repo/node_modules/.bin/componentize-qjs" --wit "$repo/wit" --js "$stage/$entry" \
                --world "$world" --sync --output "$wasm.tmp" >/dev/null
            ;;
    esac
    mv "$wasm.tmp" "$wasm"
    echo "$print" >"$wasm.fingerprint"
    rm -rf "$out/.stage"
}

build_named() {
    local name="$1" engine
    case "$name" in
        cart-py) build "$name" python - examples/python/cart app decider-module ;;
        cart-summary-py) build "$name" python - examples/python/cart-summary app projection-module ;;
        cart-js | cart-js-quickjs | cart-js-spidermonkey)
            engine="${name#cart-js}"
            engine="${engine#-}"
            build "$name" javascript "${engine:-$DEFAULT_JS_ENGINE}" examples/javascript/cart cart.js decider-module
            ;;
        cart-upcaster-js)
            build "$name" javascript "$DEFAULT_JS_ENGINE" examples/javascript/cart-upcaster cart-upcaster.js upcaster-module
            ;;
        courses-js)
            build "$name" javascript "$DEFAULT_JS_ENGINE" examples/javascript/courses courses.js query-decider-module
            ;;
        cart-summary-js | cart-summary-js-quickjs | cart-summary-js-spidermonkey)
            engine="${name#cart-summary-js}"
            engine="${engine#-}"
            build "$name" javascript "${engine:-$DEFAULT_JS_ENGINE}" examples/javascript/cart-summary cart-summary.js projection-module
            ;;
        *)
            echo "build-polyglot: unknown component '$name'; see the list at the top of $0" >&2
            exit 2
            ;;
    esac
}

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
    names=(cart-py cart-summary-py cart-js cart-summary-js cart-upcaster-js courses-js)
fi
for name in "${names[@]}"; do
    case "$name" in
        *-py) install_python_tools ;;
        *) install_js_tools ;;
    esac
done
for name in "${names[@]}"; do
    build_named "$name"
done

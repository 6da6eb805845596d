#!/usr/bin/env bash
# Run every test of sluice: the Rust tests and the PySpark compatibility suite.
#
#   scripts/test.sh                      everything (CI runs this through .ci/run)
#   scripts/test.sh --python-only        skip `cargo test` (the server binary is still built)
#   scripts/test.sh -k joins -x          extra arguments go to pytest (4.x suite only)
#
# Phases: venvs -> cargo build -> cargo test -> compat suite (PySpark 4.2 client)
#         -> smoke suite (PySpark 3.5 client). The timing of each is printed at the end,
#         with one closing line that adds up the pytest results.
#
# Environment:
#   CARGO_TARGET_DIR   cargo's target folder (default ~/.cache/sluice-target)
#   SLUICE_VENV        venv for the 4.x suite (default ~/.cache/sluice-venv), from
#                      compat-suite/requirements.txt; reinstalled only when that file changes
#   SLUICE_VENV35      venv for the 3.5 smoke suite (default ~/.cache/sluice-venv35), from
#                      compat-suite/requirements-35.txt
#   SLUICE_AZURITE_DIR where npm installs Azurite for test_delta_azure.py
#                      (default ~/.cache/sluice-azurite)
#   SLUICE_SKIP_CARGO=1  no cargo at all: test an already built binary, or SLUICE_REMOTE
#   SLUICE_SKIP_35=1     skip the PySpark 3.5 venv and smoke suite
#   SLUICE_REMOTE      sc://host:port of a running server to test instead of the binary
#                      (e.g. Apache Spark Connect, to validate the suite itself)
#   SLUICE_BIN         the server binary (default $CARGO_TARGET_DIR/debug/sluice)
#   PYTHON             the interpreter the venvs are made from (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON_ONLY=0
PYTEST_ARGS=()
for arg in "$@"; do
    case "$arg" in
        --python-only) PYTHON_ONLY=1 ;;
        *) PYTEST_ARGS+=("$arg") ;;
    esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
SLUICE_VENV="${SLUICE_VENV:-$HOME/.cache/sluice-venv}"
SLUICE_VENV35="${SLUICE_VENV35:-$HOME/.cache/sluice-venv35}"
PYTHON="${PYTHON:-python3}"
export TZ=UTC
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

REPORT_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sluice-test.XXXXXX")"
PHASES=()
FAILED=()

now() { date +%s.%N; }

# run_phase NAME COMMAND...: run it, time it, remember a failure and go on.
run_phase() {
    local name="$1"
    shift
    echo
    echo "==== $name: $*"
    local start end rc=0
    start="$(now)"
    "$@" || rc=$?
    end="$(now)"
    PHASES+=("$(printf '%-28s %8ss  %s' "$name" "$(awk "BEGIN { printf \"%.1f\", $end - $start }")" \
        "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name")
    fi
    return "$rc"
}

summary() {
    echo
    echo "==== timing"
    local line
    for line in "${PHASES[@]}"; do
        echo "  $line"
    done
    # One closing line adding up every pytest run (JUnit reports written by each run).
    "$PYTHON" - "$REPORT_DIR" <<'EOF' || true
import glob, sys
import xml.etree.ElementTree as ET
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.xml"):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        t = int(suite.get("tests", 0)); fl = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        sk = int(suite.get("skipped", 0))
        p += t - fl - sk; f += fl; s += sk
if p or f or s:
    print(f"pytest: {p} passed, {f} failed, {s} skipped")
EOF
    rm -rf "$REPORT_DIR"
}
trap summary EXIT

# ensure_venv DIR REQUIREMENTS: (re)create the venv when the requirements (or the Python
# it is made from) changed since the last install; the hash is kept inside the venv.
ensure_venv() {
    local dir="$1" req="$2" want have
    want="$( { sha256sum "$req" | cut -d' ' -f1; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    have="$(cat "$dir/.requirements.sha256" 2>/dev/null || true)"
    if [ -x "$dir/bin/python" ] && [ "$want" = "$have" ]; then
        echo "$dir is up to date with $req"
        return 0
    fi
    echo "creating $dir from $req"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/pip" install --quiet --upgrade pip
    "$dir/bin/pip" install --quiet -r "$req"
    echo "$want" >"$dir/.requirements.sha256"
    "$dir/bin/pip" list 2>/dev/null | grep -iE '^(pyspark|pyspark-client|pandas|pyarrow|numpy|grpcio|protobuf|pytest) ' || true
}

run_phase "venv (pyspark 4)" ensure_venv "$SLUICE_VENV" compat-suite/requirements.txt
# sluice's own client package (python/, the sluice-dlt runner) from this checkout, every
# time: the venv outlives the clone it was made from.
run_phase "python package install" \
    "$SLUICE_VENV/bin/pip" install --quiet --no-deps --force-reinstall ./python
if [ "${SLUICE_SKIP_35:-0}" != 1 ]; then
    run_phase "venv (pyspark 3.5)" ensure_venv "$SLUICE_VENV35" compat-suite/requirements-35.txt
fi

# Azurite, the Azure Storage emulator test_delta_azure.py runs against, from the npm
# registry into a folder outside the clone (kept between runs, like the venvs).
ensure_azurite() {
    local dir="$1" version="3.37.0"
    if [ -x "$dir/node_modules/.bin/azurite-blob" ] &&
        grep -q "\"version\": \"$version\"" "$dir/node_modules/azurite/package.json" 2>/dev/null; then
        echo "$dir has azurite $version"
        return 0
    fi
    if ! command -v npm >/dev/null; then
        echo "npm not found: test_delta_azure.py will not find azurite"
        return 1
    fi
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "azurite@$version"
}
SLUICE_AZURITE_DIR="${SLUICE_AZURITE_DIR:-$HOME/.cache/sluice-azurite}"
run_phase "azurite (npm)" ensure_azurite "$SLUICE_AZURITE_DIR" || true
export SLUICE_AZURITE="$SLUICE_AZURITE_DIR/node_modules/.bin/azurite-blob"

if [ "${SLUICE_SKIP_CARGO:-0}" != 1 ]; then
    # One build of everything (dev profile); `cargo test` then reuses it.
    run_phase "cargo build" cargo build --workspace --all-targets
    if [ "$PYTHON_ONLY" != 1 ]; then
        run_phase "cargo test" cargo test --workspace || true
    fi
else
    echo "SLUICE_SKIP_CARGO=1: not building; testing ${SLUICE_REMOTE:-${SLUICE_BIN:-$CARGO_TARGET_DIR/debug/sluice}}"
fi

if [ -z "${SLUICE_REMOTE:-}" ]; then
    export SLUICE_BIN="${SLUICE_BIN:-$CARGO_TARGET_DIR/debug/sluice}"
fi

run_phase "compat suite (pyspark 4)" \
    "$SLUICE_VENV/bin/python" -m pytest compat-suite --junitxml="$REPORT_DIR/pyspark4.xml" \
    ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"} || true

run_phase "python package (sluice-dlt)" \
    "$SLUICE_VENV/bin/python" -m pytest python/tests -q -p no:cacheprovider \
    --junitxml="$REPORT_DIR/python.xml" || true

if [ "${SLUICE_SKIP_35:-0}" != 1 ]; then
    run_phase "smoke suite (pyspark 3.5)" \
        "$SLUICE_VENV35/bin/python" -m pytest compat-suite/test_pyspark35.py -q \
        --junitxml="$REPORT_DIR/pyspark35.xml" || true
fi

if [ "${#FAILED[@]}" -ne 0 ]; then
    echo
    echo "FAILED phases: ${FAILED[*]}"
    exit 1
fi

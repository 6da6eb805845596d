#!/usr/bin/env bash
# Build sluice and start it on 127.0.0.1:15002 (extra arguments go to the server).
#
#   scripts/serve.sh                   build, then run the server in the foreground
#   scripts/serve.sh --example         build, start, run examples/quickstart.py with a
#                                      PySpark client (venv in ~/.cache/sluice-venv), stop
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --manifest-path "$ROOT/Cargo.toml" -p server
BIN="$CARGO_TARGET_DIR/debug/sluice"

if [[ "${1:-}" != "--example" ]]; then
    exec "$BIN" "$@"
fi

VENV="${SLUICE_VENV:-$HOME/.cache/sluice-venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r "$ROOT/compat-suite/requirements.txt"
fi
PORT="${SLUICE_PORT:-15002}"
"$BIN" --port "$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
SPARK_REMOTE="sc://127.0.0.1:$PORT" "$VENV/bin/python" "$ROOT/examples/quickstart.py"

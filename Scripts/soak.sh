#!/usr/bin/env bash
# A soak run (not a CI test): a fresh daemon on ipc:// endpoints, driven at
# 100 Hz with 1% malformed messages for SECONDS (default 600). Options after the
# system file go to `reachguard soak` (a later --malformed overrides the default).
# REACHGUARD_CPU=N pins the daemon to core N (taskset), as on a one-core target, and
# this publisher to REACHGUARD_CLIENT_CPU (default 0), so that the two do not share it.
# REACHGUARD_BIN=DIR runs the binaries in DIR (no build), e.g. to compare two builds.
#   bash Scripts/soak.sh [SECONDS] [SYSTEM.toml] [soak options...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
system="${2:-Config/double_integrator/system.toml}"
shift $(( $# < 2 ? $# : 2 ))
bin="${REACHGUARD_BIN:-.build/release}"
[ -n "${REACHGUARD_BIN:-}" ] || swift build -c release >&2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
# The example's configuration, with ipc endpoints and absolute model paths.
sed -e "s|model = \"|model = \"$(cd "$(dirname "$system")" && pwd)/|" \
    -e "s|sensor_endpoint = .*|sensor_endpoint = \"ipc://$dir/sensor\"|" \
    -e "s|alert_endpoint = .*|alert_endpoint = \"ipc://$dir/alerts\"|" "$system" > "$dir/soak.toml"
pin=()
[ -n "${REACHGUARD_CPU:-}" ] && pin=(taskset -c "$REACHGUARD_CPU")
SWIFT_BACKTRACE=enable=no "${pin[@]}" "$bin/reachguardd" --config "$dir/soak.toml" 2> "$dir/daemon.log" &
pid=$!
sleep 2
client=()
[ -n "${REACHGUARD_CPU:-}" ] && client=(taskset -c "${REACHGUARD_CLIENT_CPU:-0}")
"${client[@]}" "$bin/reachguard" soak --config "$dir/soak.toml" --pid "$pid" --seconds "$seconds" --rate 100 \
    --malformed 0.01 "$@"
kill -TERM "$pid"
wait "$pid" && echo "daemon stopped cleanly" >&2

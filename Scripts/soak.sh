#!/usr/bin/env bash
# A soak run (not a CI test): a fresh daemon on ipc:// endpoints, driven at
# 100 Hz with 1% malformed messages for SECONDS (default 600).
#   bash Scripts/soak.sh [SECONDS] [SYSTEM.toml]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
system="${2:-Config/double_integrator/system.toml}"
swift build -c release >&2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
# The example's configuration, with ipc endpoints and absolute model paths.
sed -e "s|model = \"|model = \"$(cd "$(dirname "$system")" && pwd)/|" \
    -e "s|sensor_endpoint = .*|sensor_endpoint = \"ipc://$dir/sensor\"|" \
    -e "s|alert_endpoint = .*|alert_endpoint = \"ipc://$dir/alerts\"|" "$system" > "$dir/soak.toml"
SWIFT_BACKTRACE=enable=no .build/release/reachguardd --config "$dir/soak.toml" 2> "$dir/daemon.log" &
pid=$!
sleep 2
.build/release/reachguard soak --config "$dir/soak.toml" --pid "$pid" --seconds "$seconds" --rate 100 --malformed 0.01
kill -TERM "$pid"
wait "$pid" && echo "daemon stopped cleanly" >&2

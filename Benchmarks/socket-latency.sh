#!/usr/bin/env bash
# Socket-level latency (issue 15's table): a fresh reachguardd pinned to one core,
# driven over ipc:// at 100 Hz by `reachguard soak` with no malformed messages;
# latency is the daemon's own latency_ms, the first 50 answers left out.
#   bash Benchmarks/socket-latency.sh [SECONDS per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
export REACHGUARD_CPU="${REACHGUARD_CPU:-1}"
for run in "Config/double_integrator/system.toml" "Config/double_integrator/system.toml --jumps" \
           "Config/quadrotor/system.toml" "Config/cartpole_monitor/system.toml"; do
    read -r system flags <<< "$run"
    echo "== $system ${flags:-(trajectories)}"
    # shellcheck disable=SC2086
    bash Scripts/soak.sh "$seconds" "$system" --malformed 0 $flags 2>/dev/null
done

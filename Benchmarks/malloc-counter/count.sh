#!/usr/bin/env bash
# Allocations per message on the monitor's hot path (MonitorCore.process), after warm-up.
# Usage: bash Benchmarks/malloc-counter/count.sh [bench-monitor options...]
# Example: bash Benchmarks/malloc-counter/count.sh --config Config/double_integrator/system.toml --count 2000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${TMPDIR:-/tmp}/reachguard-malloc-counter.so"
cc -O2 -shared -fPIC -o "$out" "$here/malloc_counter.c"
bin="$root/.build/release/reachguard"
[ -x "$bin" ] || (cd "$root" && swift build -c release --product reachguard >&2)
LD_PRELOAD="$out" "$bin" bench-monitor "$@"

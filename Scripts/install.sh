#!/usr/bin/env bash
# Deploys reachguardd as a systemd service (run as root on the target machine):
#   bash Scripts/install.sh [SYSTEM.toml]     (default: the bundled double integrator)
# Then: edit /etc/reachguard/reachguardd.toml, and `systemctl enable --now reachguardd`.
set -euo pipefail
cd "$(dirname "$0")/.."
system="${1:-Config/double_integrator/system.toml}"
bash Scripts/install-deps.sh
swift build -c release --product reachguardd >&2
swift build -c release --product reachguard >&2
install -m 0755 .build/release/reachguardd .build/release/reachguard /usr/local/bin/
install -d -m 0755 /etc/reachguard /usr/local/share/doc/reachguard
# The configuration and the models it names (paths are relative to it).
if [ ! -e /etc/reachguard/reachguardd.toml ]; then
  install -m 0644 "$system" /etc/reachguard/reachguardd.toml
  for model in $(grep -E '^\s*model\s*=' "$system" | sed -E 's/.*"(.*)".*/\1/'); do
    install -m 0644 "$(dirname "$system")/$model" "/etc/reachguard/$model"
  done
else
  echo "keeping the existing /etc/reachguard/reachguardd.toml" >&2
fi
install -m 0644 README.md /usr/local/share/doc/reachguard/README.md
install -m 0644 Systemd/reachguardd.service /etc/systemd/system/reachguardd.service
/usr/local/bin/reachguardd --config /etc/reachguard/reachguardd.toml --check
systemctl daemon-reload 2>/dev/null || echo "systemd is not running here; the unit is installed for the next boot" >&2
echo "installed; start it with: systemctl enable --now reachguardd" >&2

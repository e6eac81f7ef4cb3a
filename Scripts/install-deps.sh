#!/usr/bin/env bash
# Installs the Debian 12 system packages ReachGuard builds against. Idempotent:
# it does nothing when they are already there.
set -euo pipefail
# systemd: systemd-analyze, used by a test of the unit file.
packages=(libopenblas-dev libzmq3-dev libsystemd-dev pkg-config systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
pkg-config --exists openblas libsystemd libzmq

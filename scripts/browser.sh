#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test if it is missing, and prints its path.
# (playwright-core drives it; no browser is downloaded from anywhere but Debian's packages.)
set -euo pipefail
BIN=/usr/bin/chromium
if [ ! -x "$BIN" ]; then
  command -v apt-get >/dev/null || { echo "[browser] apt-get not found; install chromium by hand" >&2; exit 1; }
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "[browser] installing chromium (Debian package, once per machine)" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi
echo "$BIN"

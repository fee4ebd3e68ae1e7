#!/usr/bin/env bash
# The Python OpenAI SDK in a project-local virtual environment, for tests that drive the gateway
# from Python. Installs once (again when scripts/python-clients-requirements.txt changes) and
# prints the environment's python on stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${STRATA_SERVICES_DIR:-$ROOT/.strata-services}"
VENV="$STATE/python-clients-venv"
REQS="$ROOT/scripts/python-clients-requirements.txt"

log() { printf '[python-clients] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if ! { [ -x "$VENV/bin/python" ] && cmp -s "$REQS" "$VENV/requirements.txt"; }; then
  command -v python3 >/dev/null || die "python3 not found"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null || die "python3-venv is missing"
  fi
  log "installing the Python OpenAI SDK into $VENV"
  rm -rf "$VENV"
  mkdir -p "$STATE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" || die "pip install failed"
  cp "$REQS" "$VENV/requirements.txt"
fi
echo "$VENV/bin/python"

#!/usr/bin/env bash
# LiteLLM's proxy server (PyPI litellm[proxy], pinned in scripts/litellm-requirements.txt) with
# its response cache on, in front of an OpenAI-compatible upstream, for side-by-side benchmarks.
#
#   scripts/litellm.sh install
#       create or update the venv .strata-services/litellm-venv (logs on stderr only)
#   scripts/litellm.sh start --port P --upstream URL [--cache local|redis] [--redis-port N]
#                            [--ttl SECONDS] [--master-key KEY]
#       write .strata-services/litellm/config.yaml from scripts/litellm-config.yaml.in,
#       start `litellm --config ... --port P --host 127.0.0.1` detached, wait until it answers,
#       print its base URL (http://127.0.0.1:P) on stdout. URL is the upstream's base, without
#       /v1: every model name is sent to URL/v1 as openai/<model>. Without --master-key any
#       bearer token (or none) is accepted; with it, clients must send `Bearer KEY`.
#       --cache redis needs a redis already listening on 127.0.0.1:N (default 16379, the port of
#       `scripts/services.sh start redis`). --ttl sets the cache entries' lifetime; without it
#       LiteLLM's defaults hold: 600 s in local memory (which also keeps at most 200 entries,
#       evicting the soonest-expiring, a limit the config cannot change) and 60 s in redis.
#   scripts/litellm.sh stop
#       kill exactly the PID that start wrote
#   scripts/litellm.sh status
#
# State (config, pidfile, log) lives in $STRATA_SERVICES_DIR/litellm (default .strata-services).
# Nothing phones home: the model cost map and other remote JSON files are read from the package,
# there is no database, no admin UI and no docs page.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${STRATA_SERVICES_DIR:-$ROOT/.strata-services}"
VENV="$STATE/litellm-venv"
DIR="$STATE/litellm"
PIDFILE="$DIR/litellm.pid"
REQS="$ROOT/scripts/litellm-requirements.txt"
TEMPLATE="$ROOT/scripts/litellm-config.yaml.in"
COMPROMISED_VERSIONS=(1.107.0) # never install these

log() { printf '[litellm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  if [ -x "$VENV/bin/litellm" ] && cmp -s "$REQS" "$VENV/requirements.txt"; then return 0; fi
  local bad
  for bad in "${COMPROMISED_VERSIONS[@]}"; do
    ! grep -qiE "^litellm(\[[a-z,-]+\])?==${bad//./\\.}([^0-9.]|$)" "$REQS" ||
      die "$REQS pins litellm==$bad, a compromised release; pin another version"
  done
  command -v python3 >/dev/null || die "python3 not found"
  python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3 venv/ensurepip missing (apt-get install python3-venv)"
  alive "$PIDFILE" && die "LiteLLM is running (PID $(cat "$PIDFILE")); stop it before reinstalling"
  log "installing LiteLLM into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # Wheels only: no package's build code runs here. stdout goes to stderr: install prints nothing.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: -r "$REQS" >&2 ||
    die "pip install of LiteLLM failed"
  local version
  version="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
  for bad in "${COMPROMISED_VERSIONS[@]}"; do
    [ "$version" != "$bad" ] || { rm -rf "$VENV"; die "litellm $bad got installed; removed the venv"; }
  done
  cp "$REQS" "$VENV/requirements.txt"
  log "LiteLLM $version installed"
}

# The environment LiteLLM runs in: offline, no database, no UI, nothing from the caller's shell
# that would point it at a database, a master key or a proxy.
litellm_env() { # MASTER_KEY
  local env=(
    env -u DATABASE_URL -u DIRECT_URL -u LITELLM_MASTER_KEY -u LITELLM_SALT_KEY -u REDIS_URL
    -u REDIS_HOST -u REDIS_PORT -u REDIS_PASSWORD -u OPENAI_API_KEY -u OPENAI_BASE_URL
    -u OPENAI_API_BASE -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY
    -u all_proxy
    NO_PROXY='127.0.0.1,localhost' no_proxy='127.0.0.1,localhost'
    LITELLM_LOCAL_MODEL_COST_MAP=True
    LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True
    LITELLM_LOCAL_AUTOROUTER_PRESETS=True
    LITELLM_LOCAL_BLOG_POSTS=True
    LITELLM_LOCAL_POLICY_TEMPLATES=True
    LITELLM_TELEMETRY=False
    DISABLE_ADMIN_UI=True
    DISABLE_SCHEMA_UPDATE=True
    NO_DOCS=True
    NO_REDOC=True
    HF_HUB_OFFLINE=1
    TRANSFORMERS_OFFLINE=1
    PYTHONUNBUFFERED=1
  )
  [ -z "$1" ] || env+=(LITELLM_MASTER_KEY="$1")
  printf '%s\0' "${env[@]}"
}

start() {
  local port="" upstream="" cache=local redis_port=16379 ttl="" master_key=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --upstream) upstream=${2:?--upstream needs a value}; shift 2 ;;
      --cache) cache=${2:?--cache needs a value}; shift 2 ;;
      --redis-port) redis_port=${2:?--redis-port needs a value}; shift 2 ;;
      --ttl) ttl=${2:?--ttl needs a value}; shift 2 ;;
      --master-key) master_key=${2:?--master-key needs a value}; shift 2 ;;
      *) die "unknown option '$1' (see the header of $0)" ;;
    esac
  done
  [[ "$port" =~ ^[0-9]+$ ]] || die "--port P is required (a number)"
  [[ "$upstream" =~ ^https?://[^[:space:]\"\'\\]+$ ]] || die "--upstream URL is required (http://host:port)"
  upstream=${upstream%/}
  upstream=${upstream%/v1}
  [[ "$redis_port" =~ ^[0-9]+$ ]] || die "--redis-port must be a number"
  [[ "$ttl" =~ ^[0-9]*$ ]] || die "--ttl must be a number of seconds"
  [[ "$master_key" =~ ^[A-Za-z0-9._-]*$ ]] || die "--master-key may hold only letters, digits, '.', '_' and '-'"

  local cache_params
  case "$cache" in
    local) cache_params="    type: local" ;;
    redis)
      cache_params=$'    type: redis\n    host: "127.0.0.1"\n    port: '"$redis_port"
      (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null ||
        die "--cache redis: nothing listens on 127.0.0.1:$redis_port (scripts/services.sh start redis?)"
      ;;
    *) die "--cache must be local or redis" ;;
  esac
  [ -z "$ttl" ] || cache_params+=$'\n'"    ttl: $ttl"

  alive "$PIDFILE" && die "LiteLLM already runs (PID $(cat "$PIDFILE")); run $0 stop first"
  ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN && die "port $port is taken by another process"
  install
  mkdir -p "$DIR"

  local config
  # The template's header comment (lines starting with '#') names the markers: leave it out.
  config="# Written by scripts/litellm.sh start from scripts/litellm-config.yaml.in."$'\n'
  config+="$(grep -v '^#' "$TEMPLATE")"
  config="${config//@UPSTREAM@/"$upstream"}"
  config="${config//@CACHE_PARAMS@/"$cache_params"}"
  if [ -n "$master_key" ]; then config="${config//@NO_AUTH@/false}"; else config="${config//@NO_AUTH@/true}"; fi
  printf '%s\n' "$config" >"$DIR/config.yaml"

  local env=()
  mapfile -d '' env < <(litellm_env "$master_key")
  log "starting LiteLLM on 127.0.0.1:$port (upstream $upstream/v1, cache $cache), log in $DIR/litellm.log"
  : >"$DIR/litellm.log"
  # From the state dir, so no .env or other file of the caller's working directory is picked up.
  (cd "$DIR" && exec setsid "${env[@]}" "$VENV/bin/litellm" --config "$DIR/config.yaml" \
    --port "$port" --host 127.0.0.1 </dev/null >>"$DIR/litellm.log" 2>&1) &
  echo $! >"$PIDFILE"

  local deadline=$((SECONDS + 120))
  until "$VENV/bin/python" - "$port" <<'PY' >/dev/null 2>&1; do
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(f"http://127.0.0.1:{sys.argv[1]}/health/liveliness", timeout=1).read()
PY
    if ! alive "$PIDFILE"; then
      rm -f "$PIDFILE"
      tail -n 30 "$DIR/litellm.log" >&2
      die "LiteLLM exited during startup (log: $DIR/litellm.log)"
    fi
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$DIR/litellm.log" >&2; stop; die "timed out waiting for LiteLLM on port $port"; }
    sleep 0.2
  done
  log "LiteLLM answers on port $port (PID $(cat "$PIDFILE"))"
  echo "http://127.0.0.1:$port"
}

stop() {
  [ -f "$PIDFILE" ] || { log "not running (no $PIDFILE)"; return 0; }
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "PID $pid ignored SIGTERM for 15 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped PID $pid"
  else
    log "PID $pid was not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if alive "$PIDFILE"; then log "running, PID $(cat "$PIDFILE")"; else log "not running"; fi
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 install | start --port P --upstream URL [--cache local|redis] [--redis-port N] [--ttl S] [--master-key KEY] | stop | status" ;;
esac

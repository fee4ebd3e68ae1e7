#!/usr/bin/env bash
# Throwaway backing services for Strata's tests and benchmarks.
#
#   scripts/services.sh install [NAME...]   install what is missing (Debian packages)
#   scripts/services.sh start   [NAME...]   start each service on 127.0.0.1 (idempotent)
#   scripts/services.sh stop    [NAME...]   kill exactly the PIDs this script started
#   scripts/services.sh status  [NAME...]   show what runs
#   scripts/services.sh run -- CMD...       start all, run CMD, stop all (also on failure)
#
# NAMEs: redis, redis-cluster, redis-sentinel, mariadb (default: all). Every service gets its own data
# dir under .strata-services/NAME, non-default ports, and no persistence. Connection settings
# are written to .strata-services/env as KEY=VALUE lines.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${STRATA_SERVICES_DIR:-$ROOT/.strata-services}"
ENV_FILE="$STATE/env"
ALL=(redis redis-cluster redis-sentinel mariadb)

REDIS_PORT=16379
CLUSTER_PORTS=(17001 17002 17003)
SENTINEL_MASTER_PORT=16380
SENTINEL_REPLICA_PORT=16381
SENTINEL_PORT=26380
SENTINEL_NAME=strata-master
MARIADB_PORT=13306

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ $APT_UPDATED -eq 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_one() {
  case "$1" in
    redis | redis-cluster) apt_install redis-server redis-tools ;;
    redis-sentinel) apt_install redis-server redis-sentinel redis-tools ;;
    mariadb) apt_install mariadb-server mariadb-client ;;
    *) die "unknown service '$1' (known: ${ALL[*]})" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
set_env() { # KEY VALUE: replace or append one line of the env file
  mkdir -p "$STATE"
  touch "$ENV_FILE"
  grep -v "^$1=" "$ENV_FILE" >"$ENV_FILE.tmp" || true
  printf '%s=%s\n' "$1" "$2" >>"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

unset_env() {
  [ -f "$ENV_FILE" ] || return 0
  for key in "$@"; do
    grep -v "^$key=" "$ENV_FILE" >"$ENV_FILE.tmp" || true
    mv "$ENV_FILE.tmp" "$ENV_FILE"
  done
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # DESCRIPTION SECONDS COMMAND...
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out waiting for $what"
    sleep 0.1
  done
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }

# Starts one redis-server, daemonized, with its PID in DIR/NAME.pid. Extra args follow.
start_redis() { # DIR NAME PORT ARGS...
  local dir=$1 name=$2 port=$3
  shift 3
  if alive "$dir/$name.pid"; then return 0; fi
  ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN && die "port $port is taken by another process"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/$name.pid" --logfile "$dir/$name.log" "$@"
  wait_for "$name on port $port" 20 redis_ping "$port"
}

# ---------------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------------
start_one() {
  local dir="$STATE/$1"
  mkdir -p "$dir"
  case "$1" in
    redis)
      start_redis "$dir" redis "$REDIS_PORT"
      set_env STRATA_TEST_REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
      ;;
    redis-cluster)
      local nodes=()
      for port in "${CLUSTER_PORTS[@]}"; do
        if ! alive "$dir/node-$port.pid"; then rm -f "$dir/nodes-$port.conf"; fi
        start_redis "$dir" "node-$port" "$port" --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" \
          --cluster-node-timeout 2000
        nodes+=("127.0.0.1:$port")
      done
      if ! redis-cli -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
        redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
          die "cluster create failed: $(tail -5 "$dir/create.log")"
      fi
      for port in "${CLUSTER_PORTS[@]}"; do
        wait_for "cluster state ok on $port" 30 sh -c "redis-cli -p $port cluster info | grep -q cluster_state:ok"
      done
      set_env STRATA_TEST_REDIS_CLUSTER_NODES "$(IFS=,; echo "${nodes[*]}")"
      ;;
    redis-sentinel)
      if alive "$dir/sentinel.pid"; then
        # After a failover the sentinel knows the master; a node that died comes back as its replica.
        local addr master_port
        addr=$(redis-cli -p "$SENTINEL_PORT" sentinel get-master-addr-by-name "$SENTINEL_NAME" | tail -1)
        master_port=${addr:-$SENTINEL_MASTER_PORT}
        for node in "master:$SENTINEL_MASTER_PORT" "replica:$SENTINEL_REPLICA_PORT"; do
          local role=${node%%:*} port=${node##*:}
          alive "$dir/$role.pid" && continue
          if [ "$port" = "$master_port" ]; then
            start_redis "$dir" "$role" "$port" --repl-diskless-sync-delay 0
          else
            start_redis "$dir" "$role" "$port" --repl-diskless-sync-delay 0 --replicaof 127.0.0.1 "$master_port"
          fi
        done
      else
        # Without --repl-diskless-sync-delay 0 a replica waits 5 s before its first sync.
        start_redis "$dir" master "$SENTINEL_MASTER_PORT" --repl-diskless-sync-delay 0
        start_redis "$dir" replica "$SENTINEL_REPLICA_PORT" --repl-diskless-sync-delay 0 \
          --replicaof 127.0.0.1 "$SENTINEL_MASTER_PORT"
        wait_for "replica sync" 20 sh -c "redis-cli -p $SENTINEL_REPLICA_PORT info replication | grep -q 'master_link_status:up'"
        # Sentinel rewrites its config file, so every start gets a fresh copy.
        cat >"$dir/sentinel.conf" <<EOF
bind 127.0.0.1
port $SENTINEL_PORT
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor $SENTINEL_NAME 127.0.0.1 $SENTINEL_MASTER_PORT 1
sentinel down-after-milliseconds $SENTINEL_NAME 1000
sentinel failover-timeout $SENTINEL_NAME 5000
sentinel parallel-syncs $SENTINEL_NAME 1
EOF
        redis-sentinel "$dir/sentinel.conf"
        wait_for "sentinel" 20 redis_ping "$SENTINEL_PORT"
      fi
      wait_for "sentinel to see the master" 20 sh -c \
        "redis-cli -p $SENTINEL_PORT sentinel get-master-addr-by-name $SENTINEL_NAME | grep -q 127.0.0.1"
      set_env STRATA_TEST_REDIS_SENTINELS "127.0.0.1:$SENTINEL_PORT"
      set_env STRATA_TEST_REDIS_SENTINEL_NAME "$SENTINEL_NAME"
      ;;
    mariadb)
      if ! alive "$dir/mariadb.pid"; then
        if [ ! -d "$dir/data/mysql" ]; then
          mariadb-install-db --no-defaults --user=root --datadir="$dir/data" --auth-root-authentication-method=normal \
            --skip-test-db >"$dir/install.log" 2>&1 || die "mariadb-install-db failed: $(tail -5 "$dir/install.log")"
        fi
        ss -ltn "sport = :$MARIADB_PORT" 2>/dev/null | grep -q LISTEN && die "port $MARIADB_PORT is taken by another process"
        # mariadbd refuses to run as root unless told to; it does not daemonize, so it is detached here.
        setsid mariadbd --no-defaults --user=root --datadir="$dir/data" --port="$MARIADB_PORT" --bind-address=127.0.0.1 \
          --socket="$dir/mariadb.sock" --pid-file="$dir/mariadb.pid" --log-error="$dir/mariadb.log" \
          --character-set-server=utf8mb4 --collation-server=utf8mb4_bin --skip-log-bin \
          --innodb-buffer-pool-size=64M --max-connections=500 </dev/null >/dev/null 2>&1 &
        wait_for "mariadb on port $MARIADB_PORT" 60 mariadb --no-defaults -h127.0.0.1 -P"$MARIADB_PORT" -uroot -e 'SELECT 1'
      fi
      mariadb --no-defaults -h127.0.0.1 -P"$MARIADB_PORT" -uroot \
        -e 'CREATE DATABASE IF NOT EXISTS strata_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
      set_env STRATA_TEST_MYSQL_URL "mysql://root@127.0.0.1:$MARIADB_PORT/strata_test"
      ;;
    *) die "unknown service '$1' (known: ${ALL[*]})" ;;
  esac
  log "$1 up"
}

# ---------------------------------------------------------------------------------------------
# stop / status
# ---------------------------------------------------------------------------------------------
stop_one() {
  local dir="$STATE/$1"
  [ -d "$dir" ] || return 0
  shopt -s nullglob
  for pidfile in "$dir"/*.pid; do
    if alive "$pidfile"; then
      local pid
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  shopt -u nullglob
  case "$1" in
    redis) unset_env STRATA_TEST_REDIS_URL ;;
    redis-cluster) unset_env STRATA_TEST_REDIS_CLUSTER_NODES; rm -f "$dir"/nodes-*.conf ;;
    redis-sentinel) unset_env STRATA_TEST_REDIS_SENTINELS STRATA_TEST_REDIS_SENTINEL_NAME ;;
    mariadb) unset_env STRATA_TEST_MYSQL_URL ;;
  esac
  log "$1 stopped"
}

status_one() {
  local dir="$STATE/$1" any=0
  shopt -s nullglob
  for pidfile in "$dir"/*.pid; do
    any=1
    if alive "$pidfile"; then echo "$1 $(basename "$pidfile" .pid) pid $(cat "$pidfile") running"; else echo "$1 $(basename "$pidfile" .pid) stale"; fi
  done
  shopt -u nullglob
  [ $any -eq 1 ] || echo "$1 not running"
}

# ---------------------------------------------------------------------------------------------
cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 install|start|stop|status [NAME...] | run -- CMD..."
shift
if [ "$cmd" = run ]; then
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || die "usage: $0 run -- CMD..."
  for s in "${ALL[@]}"; do install_one "$s"; done
  trap 'for s in "${ALL[@]}"; do stop_one "$s"; done' EXIT
  for s in "${ALL[@]}"; do start_one "$s"; done
  "$@"
  exit $?
fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for s in "${names[@]}"; do
  case "$cmd" in
    install) install_one "$s" ;;
    start) install_one "$s"; start_one "$s" ;;
    stop) stop_one "$s" ;;
    status) status_one "$s" ;;
    *) die "unknown command '$cmd'" ;;
  esac
done

#!/usr/bin/env bash
# A private Redis server for the online store's scale-out option (tests and trials).
#
#   redis.sh start    start it (installing Debian's redis-server when missing); prints its URL last
#   redis.sh stop     stop it if it runs
#   redis.sh url      print its URL
#
# Environment:
#   CODEXION_REDIS_DIR    where it keeps its pid, log and port (default .codexion/redis in the repo)
#   CODEXION_REDIS_PORT   port on 127.0.0.1 (default 56379; "auto" picks a free one on first start)
# Exit codes: 2 for a problem the user must fix, 1 for anything else.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${CODEXION_REDIS_DIR:-$root/.codexion/redis}"
die() { echo "redis.sh: $2" >&2; exit "$1"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port() {
  if [ -f "$dir/port" ]; then cat "$dir/port"; return; fi
  local p="${CODEXION_REDIS_PORT:-56379}"
  if [ "$p" = auto ]; then
    for p in $(seq 56380 56480); do
      if ! port_in_use "$p"; then echo "$p"; return; fi
    done
    die 2 "no free port in 56380-56480"
  fi
  echo "$p"
}

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

case "${1:-}" in
start)
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "redis.sh: installing Debian's redis-server package" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) >&2 \
        || die 2 "could not install redis-server with apt-get; install Redis 6+ or point online.redis_url at a server"
    else
      die 2 "redis-server is not installed and apt-get is not usable; install Redis 6+"
    fi
  fi
  p="$(port)"
  echo "$p" >"$dir/port"
  if ! running; then
    port_in_use "$p" && die 2 "port $p is taken; set CODEXION_REDIS_PORT"
    redis-server --bind 127.0.0.1 --port "$p" --dir "$dir" --daemonize yes --pidfile "$dir/pid" \
      --logfile "$dir/redis.log" --save "" --appendonly no 9>&-
    for _ in $(seq 1 50); do port_in_use "$p" && break; sleep 0.1; done
    port_in_use "$p" || die 1 "redis-server did not start; see $dir/redis.log"
  fi
  echo "redis://127.0.0.1:$p/0"
  ;;
stop)
  if running; then kill "$(cat "$dir/pid")"; fi
  ;;
url)
  echo "redis://127.0.0.1:$(port)/0"
  ;;
*)
  echo "usage: redis.sh start|stop|url" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# Codexion's private PostgreSQL cluster for development and tests.
#
#   postgres.sh start    initialise (first time) and start; prints the database URL last
#   postgres.sh stop     stop it if it runs
#   postgres.sh status   exit 0 when it runs
#   postgres.sh url      print the database URL
#
# Environment:
#   CODEXION_PG_DIR    where the cluster lives (default .codexion/postgres in the repo)
#   CODEXION_PG_PORT   port on 127.0.0.1 (default 55432; "auto" picks a free one on first start)
#   CODEXION_PG_FAST   1 turns off fsync and synchronous commit (tests only: a crash can lose data)
#
# Postgres refuses to run as root, so as root the cluster runs as the "postgres" user
# (created by Debian's package). When no server binaries exist and apt is usable, the
# script installs Debian's postgresql package first. Exit codes: 2 for a problem the
# user must fix (no binaries, port taken), 1 for anything else.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${CODEXION_PG_DIR:-$root/.codexion/postgres}"
data="$dir/data"
user_name="codexion"
db_name="codexion"

die() { echo "postgres.sh: $2" >&2; exit "$1"; }

find_bindir() {
  if [ -n "${CODEXION_PG_BINDIR:-}" ] && [ -x "$CODEXION_PG_BINDIR/pg_ctl" ]; then echo "$CODEXION_PG_BINDIR"; return 0; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  for d in /usr/local/pgsql/bin /usr/pgsql-*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return 0; fi
  return 1
}

bindir="$(find_bindir || true)"
if [ -z "$bindir" ] && [ "${1:-}" = "start" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "postgres.sh: no PostgreSQL server binaries found; installing Debian's postgresql package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 \
      || die 2 "could not install postgresql with apt-get; install PostgreSQL 15+ or set CODEXION_DATABASE_URL"
    bindir="$(find_bindir || true)"
  fi
  [ -n "$bindir" ] || die 2 "no PostgreSQL server binaries (pg_ctl, initdb) found and apt-get is not usable; install PostgreSQL 15+ or set CODEXION_DATABASE_URL"
fi

# as_owner runs a command as the cluster's owner: ourselves, or "postgres" when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_owner() {
  if [ "$(id -u)" != 0 ]; then return 0; fi
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres \
      || die 2 "running as root and there is no postgres user to run the cluster; create one"
  fi
  mkdir -p "$dir"
  chown postgres: "$dir"
  runuser -u postgres -- test -x "$dir" \
    || die 2 "the postgres user cannot reach $dir (a parent folder is not searchable); set CODEXION_PG_DIR to a reachable place"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p="${CODEXION_PG_PORT:-55432}"
  if [ -f "$dir/port" ]; then cat "$dir/port"; return; fi
  if [ "$p" = auto ]; then
    for p in $(seq 55440 55540); do
      if ! port_in_use "$p"; then echo "$p"; return; fi
    done
    die 2 "no free port between 55440 and 55540"
  fi
  echo "$p"
}

running() { [ -n "$bindir" ] && [ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

url() {
  local port pw
  port="$(cat "$dir/port")"
  pw="$(cat "$dir/password")"
  echo "postgres://$user_name:$pw@127.0.0.1:$port/$db_name?sslmode=disable"
}

init_cluster() {
  [ -f "$data/PG_VERSION" ] && return 0
  ensure_owner
  local pw pwfile
  pw="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  pwfile="$(mktemp "$dir/.pw.XXXXXX")"
  printf '%s\n' "$pw" >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
  as_owner "$bindir/initdb" -D "$data" -U "$user_name" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; die 1 "initdb failed; see $dir/initdb.log"; }
  rm -f "$pwfile"
  printf '%s\n' "$pw" >"$dir/password"
  chmod 600 "$dir/password"
  {
    echo "# written by deploy/dev/postgres.sh"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = ''"
    echo "max_connections = 200"
    echo "shared_buffers = 256MB"
    if [ "${CODEXION_PG_FAST:-0}" = 1 ]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } | as_owner tee -a "$data/postgresql.conf" >/dev/null
}

start() {
  exec 9>"$dir/.lock"
  flock -w 120 9 || die 1 "another postgres.sh holds $dir/.lock"
  if running; then
    url
    return 0
  fi
  init_cluster
  local port
  port="$(pick_port)"
  if port_in_use "$port"; then
    die 2 "port $port on 127.0.0.1 is in use by another process; stop it or choose another port (dev.postgres_port / CODEXION_DEV_POSTGRES_PORT)"
  fi
  echo "$port" >"$dir/port"
  touch "$dir/server.log"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/server.log"
  as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null 9>&- \
    || die 1 "PostgreSQL did not start; see $dir/server.log"
  local pw
  pw="$(cat "$dir/password")"
  if ! PGPASSWORD="$pw" "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user_name" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
    PGPASSWORD="$pw" "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user_name" -d postgres -qc "CREATE DATABASE $db_name" >/dev/null
  fi
  url
}

stop() {
  [ -d "$dir" ] || return 0
  exec 9>"$dir/.lock"
  flock -w 120 9 || die 1 "another postgres.sh holds $dir/.lock"
  if running; then
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
}

case "${1:-}" in
  start) mkdir -p "$dir"; start ;;
  stop) stop ;;
  status) running ;;
  url) [ -f "$dir/port" ] || die 1 "no cluster in $dir; run start first"; url ;;
  *) echo "usage: postgres.sh start|stop|status|url" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer at DATABASE_URL / REDIS_URL: uses them when they answer, else
# starts the locally installed servers, else (root on Debian) installs them, else says what to do.
# Idempotent: run it as often as you like; it prints every step it takes.
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-postgres://127.0.0.1:5432/magistral}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
WAIT_SECONDS="${MAGISTRAL_SERVICES_WAIT_SECONDS:-30}"

say() { echo "magistral: $*"; }
die() {
  echo "magistral: $*" >&2
  exit 1
}

# host and port of a URL: scheme://[user[:pass]@]host[:port][/…]; IPv6 hosts in brackets.
url_host_port() {
  local url="$1" default_port="$2" rest authority host port
  rest="${url#*://}"
  authority="${rest%%[/?#]*}"
  authority="${authority##*@}"
  if [[ "$authority" == \[* ]]; then
    host="${authority#[}"
    host="${host%%]*}"
    port="${authority##*]}"
    port="${port#:}"
  elif [[ "$authority" == *:* ]]; then
    host="${authority%%:*}"
    port="${authority##*:}"
  else
    host="$authority"
    port=""
  fi
  echo "${host:-127.0.0.1} ${port:-$default_port}"
}

read -r PG_HOST PG_PORT <<<"$(url_host_port "$DATABASE_URL" 5432)"
read -r REDIS_HOST REDIS_PORT <<<"$(url_host_port "$REDIS_URL" 6379)"

is_local() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

redis_answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    # -u: the URL's password and database are used as the application will use them.
    [ "$(timeout 3 redis-cli -u "$REDIS_URL" --no-auth-warning ping 2>/dev/null)" = "PONG" ]
  else
    # No client installed: speak the protocol over bash's /dev/tcp.
    timeout 3 bash -c "exec 3<>/dev/tcp/$REDIS_HOST/$REDIS_PORT && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG" 2>/dev/null
  fi
}

wait_for() {
  local name="$1" check="$2" waited=0
  until "$check"; do
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "$name answers"
}

is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

how_to() {
  cat >&2 <<EOF
magistral: $1 is not reachable at $2 and could not be started here.
  Do one of these, then run this command again:
  - start your own $1 and point $3 at it;
  - on Debian/Ubuntu, as root: apt-get install postgresql redis-server (then run this script again, as root,
    so it configures PostgreSQL for local trust authentication);
  - with Docker: docker compose up -d   (docker-compose.yml at the repository root: postgres:15 on 5432,
    redis:7 on 6379, trust authentication, matching the defaults).
EOF
  exit 1
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# Local development only: trust connections from this machine, so the default URL needs no password.
pg_trust_local() {
  local ver="$1" hba
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  [ -f "$hba" ] || return 0
  if ! grep -q '^# magistral: local development' "$hba"; then
    say "configuring PostgreSQL $ver for trust authentication on 127.0.0.1 and ::1 (local development) in $hba"
    local tmp
    tmp="$(mktemp)"
    {
      echo "# magistral: local development — trust TCP connections from this machine"
      echo "host    all    all    127.0.0.1/32    trust"
      echo "host    all    all    ::1/128         trust"
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
  fi
  local conf="/etc/postgresql/$ver/main/postgresql.conf"
  if [ -f "$conf" ] && ! grep -Eq "^port *= *$PG_PORT\b" "$conf"; then
    say "setting PostgreSQL $ver port to $PG_PORT in $conf"
    sed -i -E "s/^#?port *=.*/port = $PG_PORT/" "$conf"
  fi
}

# Starts an existing Debian cluster as it is configured (its authentication is left alone).
start_local_postgres() {
  local ver
  ver="$(pg_version)"
  if [ -n "$ver" ] && [ -d "/etc/postgresql/$ver/main" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    say "starting PostgreSQL $ver (pg_ctlcluster $ver main start)"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>&1 | sed 's/^/  /' || true
    return 0
  fi
  return 1
}

# Root on Debian with nothing installed: install, trust local connections (development), start.
install_postgres() {
  apt_install postgresql
  local ver
  ver="$(pg_version)"
  [ -n "$ver" ] || return 1
  if [ ! -d "/etc/postgresql/$ver/main" ]; then
    say "creating PostgreSQL $ver cluster 'main'"
    pg_createcluster "$ver" main >/dev/null
  fi
  pg_trust_local "$ver"
  start_local_postgres
  # The package may have started the cluster already: make it read the new authentication rules.
  pg_ctlcluster --skip-systemctl-redirect "$ver" main reload 2>/dev/null || true
}

start_local_redis() {
  if command -v redis-server >/dev/null 2>&1; then
    say "starting Redis on 127.0.0.1:$REDIS_PORT (no persistence: development only)"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    return 0
  fi
  return 1
}

ensure_postgres() {
  if pg_answers; then
    say "PostgreSQL answers at $PG_HOST:$PG_PORT"
    return
  fi
  say "PostgreSQL does not answer at $PG_HOST:$PG_PORT"
  is_local "$PG_HOST" || how_to PostgreSQL "$PG_HOST:$PG_PORT" DATABASE_URL
  if ! start_local_postgres; then
    if is_root && is_debian && ! command -v pg_ctlcluster >/dev/null 2>&1; then
      install_postgres || how_to PostgreSQL "$PG_HOST:$PG_PORT" DATABASE_URL
    else
      how_to PostgreSQL "$PG_HOST:$PG_PORT" DATABASE_URL
    fi
  fi
  wait_for PostgreSQL pg_answers || die "PostgreSQL still does not answer at $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s: check that the cluster listens there (listen_addresses and port in /etc/postgresql/*/main/postgresql.conf) and see /var/log/postgresql/."
}

ensure_redis() {
  if redis_answers; then
    say "Redis answers at $REDIS_HOST:$REDIS_PORT"
    return
  fi
  say "Redis does not answer at $REDIS_HOST:$REDIS_PORT"
  is_local "$REDIS_HOST" || how_to Redis "$REDIS_HOST:$REDIS_PORT" REDIS_URL
  if ! start_local_redis; then
    if is_root && is_debian && ! command -v redis-server >/dev/null 2>&1; then
      apt_install redis-server
      # The package may start its own service on 6379; start ours only if nothing answers yet.
      redis_answers || start_local_redis || how_to Redis "$REDIS_HOST:$REDIS_PORT" REDIS_URL
    else
      how_to Redis "$REDIS_HOST:$REDIS_PORT" REDIS_URL
    fi
  fi
  wait_for Redis redis_answers || die "Redis still does not answer at $REDIS_HOST:$REDIS_PORT after ${WAIT_SECONDS}s."
}

main() {
  ensure_postgres
  ensure_redis
  say "services ready: PostgreSQL $PG_HOST:$PG_PORT, Redis $REDIS_HOST:$REDIS_PORT"
}

# Sourcing the file (to test url_host_port, say) defines the functions without acting.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main
fi

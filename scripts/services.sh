#!/usr/bin/env bash
# Installs (when missing) and starts the services Ledgerline's tests talk to:
# PostgreSQL (trust auth on loopback, database "test") and NATS with JetStream,
# and Chromium for the console's browser test (tests/console_test.go).
# Idempotent: safe to run on a machine where they already run.
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "PostgreSQL not installed: installing from Debian packages"
    apt_install postgresql postgresql-client
  fi
  if ! pg_up; then
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$ver" ]; then
      log "no PostgreSQL cluster found: creating one"
      ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
      pg_createcluster "$ver" main >/dev/null
    fi
    local hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if [ -f "$hba" ] && ! grep -q '^# ledgerline-trust' "$hba"; then
      # Loopback-only trust, as on the development machines.
      { echo '# ledgerline-trust'
        echo 'local all all trust'
        echo 'host all all 127.0.0.1/32 trust'
        echo 'host all all ::1/128 trust'
        cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
    fi
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { log "PostgreSQL did not start"; exit 1; }
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test' >/dev/null
  fi
}

nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

ensure_nats() {
  if nats_up; then return; fi
  if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
    log "NATS not installed: installing from Debian packages"
    apt_install nats-server
  fi
  local bin
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  mkdir -p /var/lib/nats-server
  log "starting NATS with JetStream"
  start-stop-daemon --start --oknodo --background --exec "$bin" -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 30); do nats_up && break; sleep 1; done
  nats_up || { log "NATS did not start"; exit 1; }
}

# Chromium drives the web console's browser test. Non-fatal: a missing browser
# only skips that test on a laptop (with CI=true the test itself fails).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  log "Chromium not installed: installing the Debian package chromium"
  if ! apt_install chromium; then
    log "could not install chromium: the console browser test will skip (or fail with CI=true)"
    return 0
  fi
}

ensure_postgres
ensure_nats
ensure_chromium || true
log "PostgreSQL and NATS are up"
if [ -x /usr/bin/chromium ]; then log "Chromium is installed"; fi

#!/usr/bin/env bash
# The one test command (`make test`, and what .ci/run calls).
#
# On a fresh machine it installs what the tests need (Debian packages, with
# apt-get as root: Chromium, PostgreSQL, HAProxy and wrk for the cluster
# tests, e2fsprogs and mount for the storage-fault tests, systemd-analyze and
# file for deploy/; axe-core with npm), starts a throwaway PostgreSQL
# cluster as the `postgres` user on a free port, runs the whole suite with
# the race detector on SQLite and PostgreSQL, and stops the cluster on exit,
# failure or interrupt. Exits non-zero on any failure.
#
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestBrowser).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { log "Go is not installed (https://go.dev/dl/)"; exit 1; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

chromium_bin() {
  local c
  for c in chromium chromium-browser google-chrome; do
    command -v "$c" >/dev/null && { command -v "$c"; return 0; }
  done
  return 1
}

# 1. Install what is missing.
missing=()
chromium_bin >/dev/null || missing+=(chromium)
pg_bindir >/dev/null || missing+=(postgresql)
# The read-only file system test (internal/app) formats and checks an ext4
# image on a loop device.
{ command -v mkfs.ext4 && command -v e2fsck; } >/dev/null || missing+=(e2fsprogs)
command -v losetup >/dev/null || missing+=(mount)
# deploy/'s tests: systemd-analyze checks the unit, file the static binary.
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v file >/dev/null || missing+=(file)
# The load balancer in front of the several-node tests (internal/clustertest).
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk) # the load mix (internal/loadmix)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "not root: cannot install ${missing[*]}; the tests that need them will skip"
  fi
fi

# 2. Start a throwaway PostgreSQL cluster.
pgdir=""
cleanup() {
  local rc=$?
  if [ -n "$pgdir" ] && [ -d "$pgdir" ]; then
    log "stopping PostgreSQL"
    as_pg "$bindir/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if bindir=$(pg_bindir); then
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    log "no postgres user: PostgreSQL tests will skip"
  else
    pgdir=$(mktemp -d /tmp/portico-pg.XXXXXX)
    chmod 755 "$pgdir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$pgdir"
    as_pg "$bindir/initdb" -D "$pgdir/data" -U postgres -A trust --no-sync -E UTF8 >"$pgdir/initdb.log" 2>&1 \
      || { cat "$pgdir/initdb.log" >&2; exit 1; }
    port=""
    for _ in $(seq 1 50); do
      p=$((20000 + RANDOM % 40000))
      if port_free "$p"; then port=$p; break; fi
    done
    [ -n "$port" ] || { log "no free port for PostgreSQL"; exit 1; }
    # fsync off: a throwaway cluster does not need durability, and the
    # tests run faster.
    as_pg "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
      -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null || { cat "$pgdir/server.log" >&2; exit 1; }
    export PORTICO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port"
  fi
else
  log "PostgreSQL not found: PostgreSQL tests will skip"
fi

if c=$(chromium_bin); then
  export PORTICO_TEST_CHROMIUM="$c"
  log "browser tests use $c"
fi

# axe-core, for the accessibility checks of the browser tests: installed
# with npm into a cache outside the tree when missing.
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/portico-test"
axe_js="$axe_dir/node_modules/axe-core/axe.min.js"
if [ -z "${PORTICO_TEST_AXE:-}" ]; then
  if [ ! -f "$axe_js" ]; then
    if command -v npm >/dev/null; then
      log "installing axe-core into $axe_dir"
      mkdir -p "$axe_dir"
      npm install --no-save --no-audit --no-fund --silent --prefix "$axe_dir" axe-core@4 >/dev/null \
        || log "npm could not install axe-core: the accessibility tests will skip"
    else
      log "npm not found: the accessibility tests will skip"
    fi
  fi
  if [ -f "$axe_js" ]; then
    export PORTICO_TEST_AXE="$axe_js"
    log "accessibility tests use $axe_js"
  fi
fi

# 3. Run the suite.
log "go test -race ./..."
go test -race -count=1 -timeout 30m "$@" ./...

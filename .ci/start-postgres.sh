#!/usr/bin/env bash
# PostgreSQL for the tests (tests/metrics/conftest.py: 127.0.0.1:5432, trust auth, user postgres or the OS user).
# If something already accepts connections on 127.0.0.1:$port, it is left alone. Otherwise: install Debian's
# postgresql if missing, create the cluster if missing, make it listen on 127.0.0.1:$port with trust auth for
# local, 127.0.0.1/32 and ::1/128 connections, start it without systemd, and wait until it accepts connections.
# Idempotent; needs root (apt-get, /etc/postgresql). Run from .ci/run before pytest.
#
# Settings (not libpq's PGPORT etc., which may be set for other purposes):
#   MLCATALOG_PG_PORT     port to serve on (default 5432, where the tests look)
#   MLCATALOG_PG_CLUSTER  Debian cluster name (default main); another name gives a separate cluster, e.g. to try
#                         this script next to a running server:
#                         MLCATALOG_PG_PORT=5544 MLCATALOG_PG_CLUSTER=citest bash .ci/start-postgres.sh
#   MLCATALOG_PG_WAIT_S   seconds to wait for the server to accept connections (default 60)
set -euo pipefail

port=${MLCATALOG_PG_PORT:-5432}
cluster=${MLCATALOG_PG_CLUSTER:-main}
wait_s=${MLCATALOG_PG_WAIT_S:-60}

listening() {
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}

# Waits for "accepting connections", not just an open port: a starting server listens before it admits anyone.
wait_until_ready() {
    local deadline=$((SECONDS + wait_s))
    until pg_isready -q -h 127.0.0.1 -p "$port" -t 2; do
        if ((SECONDS >= deadline)); then
            echo "PostgreSQL on 127.0.0.1:$port did not accept connections within ${wait_s}s" >&2
            return 1
        fi
        sleep 0.5
    done
}

if listening; then
    echo "== PostgreSQL: something already listens on 127.0.0.1:$port; leaving it alone"
    exit 0
fi

if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== installing PostgreSQL (Debian package postgresql)"
    apt-get update -qq
    # Debian's package creates and may start a cluster "main" on 5432 itself; the steps below cope with either.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi

# The newest installed server is used for a new cluster; an existing cluster of that name keeps its version.
version=$(pg_lsclusters --no-header | awk -v c="$cluster" '$2 == c { print $1 }' | sort -V | tail -n 1)
if [[ -z $version ]]; then
    version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
    echo "== creating PostgreSQL $version cluster $cluster"
    pg_createcluster --port "$port" "$version" "$cluster"
fi

conf_dir=/etc/postgresql/$version/$cluster
# A drop-in rather than pg_conftool, which writes 127.0.0.1 unquoted (a number to it, a syntax error to postgres).
# conf.d is included at the end of Debian's postgresql.conf, so these win, for the server and pg_lsclusters alike.
if ! grep -qE "^\s*include_dir\s*=?\s*'conf\.d'" "$conf_dir/postgresql.conf"; then
    echo "include_dir = 'conf.d'" >>"$conf_dir/postgresql.conf"
fi
mkdir -p "$conf_dir/conf.d"
cat >"$conf_dir/conf.d/mlcatalog-ci.conf" <<EOF
# Written by .ci/start-postgres.sh
port = $port
listen_addresses = '127.0.0.1'
EOF

# Trust on loopback only: throw-away CI clusters, and the tests connect as postgres (or root) without a password.
# Put in front of the existing rules (the first matching line wins) rather than replacing them, once.
hba=$conf_dir/pg_hba.conf
marker="# mlcatalog CI (.ci/start-postgres.sh): trust on loopback, ahead of the rules below"
if ! grep -qxF "$marker" "$hba"; then
    original=$(<"$hba")
    printf '%s\n' "$marker" \
        "local   all  all                 trust" \
        "host    all  all  127.0.0.1/32   trust" \
        "host    all  all  ::1/128        trust" \
        "" "$original" >"$hba"   # rewritten in place: owner and mode stay
fi

# --skip-systemctl-redirect: CI machines and containers run without systemd; as root pg_ctlcluster switches to the
# cluster owner itself. A running cluster is restarted so that the port and pg_hba.conf above take effect.
if pg_ctlcluster "$version" "$cluster" status >/dev/null 2>&1; then
    echo "== restarting PostgreSQL $version/$cluster on 127.0.0.1:$port"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" restart
else
    echo "== starting PostgreSQL $version/$cluster on 127.0.0.1:$port"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
fi

if ! wait_until_ready; then
    tail -n 20 "/var/log/postgresql/postgresql-$version-$cluster.log" >&2 || true
    exit 1
fi
echo "== PostgreSQL $version/$cluster accepts connections on 127.0.0.1:$port"

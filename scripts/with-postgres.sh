#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on loopback, then stops the cluster and
# removes its folder (also when the command fails or is interrupted).
#
#   bash scripts/with-postgres.sh swift test --filter PostgresSessionStoreTests
#
# The command sees:
#   LEPTON_TEST_POSTGRES_URL  postgresql://postgres@127.0.0.1:PORT/lepton (an empty database)
#   LEPTON_TEST_POSTGRES_CTL  a script: `$LEPTON_TEST_POSTGRES_CTL stop` / `start` stops and restarts
#                             the server (the store's outage tests)
#   LEPTON_TEST_POSTGRES_CA   the server's self-signed certificate (PEM) for sslmode=verify-full
#                             tests: the cluster serves TLS too, with a certificate for localhost
#                             and 127.0.0.1 made here by openssl (valid 2 days)
# The cluster: initdb (as the postgres user when run as root: initdb refuses root), trust
# authentication on 127.0.0.1 only, a free port, the socket in the cluster's folder (-k), fsync off.
# LEPTON_POSTGRES_HOST=ADDR listens on ADDR instead of 127.0.0.1 and trusts the subnets this
# host is directly on (scripts/scale-test.sh runs this inside a network namespace of its own,
# with only its private link: never set it to an address of a real network).
# Exit status: the command's; 1 when PostgreSQL is missing or does not start; 64 without a command.
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: scripts/with-postgres.sh COMMAND [ARG...]" >&2
  exit 64
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "with-postgres: PostgreSQL is not installed (bash scripts/bootstrap.sh installs it)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/lepton-postgres.XXXXXX)
chmod 755 "$dir"
host=${LEPTON_POSTGRES_HOST:-127.0.0.1}
port=$(python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$host")

# pg_ctl for this cluster, as the user that owns it.
cat > "$dir/ctl" <<CTL
#!/usr/bin/env bash
# Stops (fast: sessions are cut) or starts this throwaway cluster: ctl stop|start
set -e
# The server must not inherit the caller's descriptors: a caller that watches a descriptor to
# learn that its child exited (Foundation's Process does) would wait for the server instead.
for fd in /proc/\$\$/fd/*; do n=\${fd##*/}; if [ "\$n" -gt 2 ] 2>/dev/null && [ "\$n" != 255 ]; then eval "exec \$n>&-" 2>/dev/null || true; fi; done
case "\$1" in
  start) cmd="$bin/pg_ctl -D $dir/data -l $dir/log -o '-p $port -k $dir -c listen_addresses=$host -c fsync=off' -w start" ;;
  stop) cmd="$bin/pg_ctl -D $dir/data -m fast -w stop" ;;
  *) echo "usage: \$0 start|stop" >&2; exit 64 ;;
esac
if [ "\$(id -u)" = 0 ]; then exec su postgres -s /bin/sh -c "\$cmd" </dev/null >/dev/null; else eval "\$cmd" </dev/null >/dev/null; fi
CTL
chmod 755 "$dir/ctl"

cleanup() {
  "$dir/ctl" stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

init="$bin/initdb -D $dir/data -A trust -U postgres --no-sync"
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  su postgres -s /bin/sh -c "$init" >/dev/null
else
  $init >/dev/null
fi
[ "$host" = 127.0.0.1 ] || echo "host all all samenet trust" >>"$dir/data/pg_hba.conf"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/server.key" -out "$dir/server.crt" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
chmod 600 "$dir/server.key"
[ "$(id -u)" = 0 ] && chown postgres "$dir/server.key" "$dir/server.crt"
printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$dir/server.crt" "$dir/server.key" >>"$dir/data/postgresql.conf"
if ! "$dir/ctl" start; then
  echo "with-postgres: the cluster did not start; its log:" >&2
  cat "$dir/log" >&2 || true
  exit 1
fi
"$bin/psql" -h "$host" -p "$port" -U postgres -qc 'CREATE DATABASE lepton' >/dev/null
export LEPTON_TEST_POSTGRES_URL="postgresql://postgres@$host:$port/lepton"
export LEPTON_TEST_POSTGRES_CTL="$dir/ctl"
export LEPTON_TEST_POSTGRES_CA="$dir/server.crt"
echo "with-postgres: PostgreSQL on $host:$port (database lepton)" >&2
"$@"

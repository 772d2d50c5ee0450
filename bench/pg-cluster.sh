# Sourced by the PostgreSQL benchmarks: starts a throwaway cluster (Debian's
# postgresql package) in $PGB_DIR on 127.0.0.1:$PGB_PORT, as the postgres user
# when run as root, and stops it on exit. Sets PGB_URL.
pgb_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgb_bin" ] || { echo "needs PostgreSQL: apt-get install -y postgresql" >&2; exit 1; }
PGB_DIR=$(mktemp -d /tmp/modelfit-pgbench.XXXXXX)
chmod 755 "$PGB_DIR"
pgb_run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$PGB_DIR"
echo bench > "$PGB_DIR/pw"; chmod 644 "$PGB_DIR/pw"
PGB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pgb_run "$pgb_bin/initdb" -D "$PGB_DIR/data" -U admin --pwfile "$PGB_DIR/pw" --auth-local=trust \
  --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null
pgb_up() {
  pgb_run "$pgb_bin/pg_ctl" -D "$PGB_DIR/data" -l "$PGB_DIR/server.log" -w -t 60 \
    -o "-p $PGB_PORT -c listen_addresses=127.0.0.1 -k $PGB_DIR" start >/dev/null
}
pgb_down() { pgb_run "$pgb_bin/pg_ctl" -D "$PGB_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true; }
pgb_cleanup() { pgb_down; rm -rf "$PGB_DIR"; }
pgb_up
PGB_URL="postgresql://admin:bench@127.0.0.1:$PGB_PORT/postgres"

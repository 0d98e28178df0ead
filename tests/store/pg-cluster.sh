# SPDX-License-Identifier: MIT
# tests/store/pg-cluster.sh — a throwaway PostgreSQL cluster for the tests
# and the benchmark, sourced by tests/store/postgres-suite.sh and
# bench/multinode.sh: initdb in a fresh temporary directory, listening on a
# Unix socket only (listen_addresses = ''), the superuser sesame_admin and
# the role sesame (no superuser, no CREATEDB: it only owns the databases
# made for it), removed again by pg_cluster_stop.  initdb refuses to run as
# root, so as root the cluster runs as the "postgres" user the Debian
# package creates.
#
#   pg_find_bin        sets PG_BIN, or fails (the server is not installed)
#   pg_cluster_start   starts it; exports SESAME_TEST_PG_HOST, _PORT, _ADMIN,
#                      _USER and SESAME_TEST_PSQL.  Tests run it without
#                      fsync; with PG_DURABLE=1 (the benchmark) it keeps
#                      PostgreSQL's defaults: fsync, synchronous_commit.
#   pg_cluster_stop    stops it and removes its directory (idempotent)

PG_BIN=""
PG_TMP=""
PG_AS=""

pg_find_bin() {
	for d in ${SESAME_PG_BINDIR:-} /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
			PG_BIN=$d
			return 0
		fi
	done
	d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
		PG_BIN=$d
		return 0
	fi
	return 1
}

# Run a server program as the cluster's owner.
pg_as_owner() {
	if [ -n "$PG_AS" ]; then
		runuser -u "$PG_AS" -- "$@"
	else
		"$@"
	fi
}

pg_cluster_start() {
	PG_TMP=$(mktemp -d /tmp/sesame-pg.XXXXXX) || return 1
	mkdir "$PG_TMP/data" "$PG_TMP/sock" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "pg-cluster: running as root needs the user \"postgres\" (Debian's postgresql package creates it)" >&2
			return 1
		fi
		PG_AS=postgres
		chown postgres "$PG_TMP/data" "$PG_TMP/sock" || return 1
		# The owner reaches its directories; everyone reaches the socket.
		chmod 755 "$PG_TMP"
	fi
	chmod 700 "$PG_TMP/data"
	if ! pg_as_owner "$PG_BIN/initdb" -D "$PG_TMP/data" -U sesame_admin --auth=trust --encoding=UTF8 \
		--locale=C -N >"$PG_TMP/initdb.log" 2>&1; then
		echo "pg-cluster: initdb failed:" >&2
		cat "$PG_TMP/initdb.log" >&2
		return 1
	fi
	# Unix socket only.
	cat >>"$PG_TMP/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_TMP/sock'
port = 5432
max_connections = 200
CONF
	# Durability is not what the tests are about.
	if [ "${PG_DURABLE:-0}" != 1 ]; then
		printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\n' \
			>>"$PG_TMP/data/postgresql.conf"
	fi
	if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/data/server.log" -w -t 60 start \
		>"$PG_TMP/pg_ctl.log" 2>&1; then
		echo "pg-cluster: the server did not start:" >&2
		cat "$PG_TMP/pg_ctl.log" "$PG_TMP/data/server.log" >&2 2>/dev/null
		return 1
	fi
	SESAME_TEST_PG_HOST=$PG_TMP/sock
	SESAME_TEST_PG_PORT=5432
	SESAME_TEST_PG_ADMIN=sesame_admin
	SESAME_TEST_PG_USER=sesame
	SESAME_TEST_PSQL=$PG_BIN/psql
	export SESAME_TEST_PG_HOST SESAME_TEST_PG_PORT SESAME_TEST_PG_ADMIN SESAME_TEST_PG_USER SESAME_TEST_PSQL
	"$PG_BIN/psql" -X -q -h "$PG_TMP/sock" -U sesame_admin -d postgres \
		-c "CREATE ROLE sesame LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" || return 1
	echo "pg-cluster: PostgreSQL $("$PG_BIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p') on $PG_TMP/sock"
}

pg_cluster_stop() {
	if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
		if [ -f "$PG_TMP/data/postmaster.pid" ]; then
			pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$PG_TMP"
	fi
	PG_TMP=""
}

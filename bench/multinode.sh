#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/multinode.sh — HTTP logins per second through sesamed on
# PostgreSQL with one node and with two nodes, against the same load on
# SQLite: returning custom-token identities (bench/login.lua, 10^3 users),
# posted by two wrk processes of 4 connections each.  SQLite: both at its
# one node; PostgreSQL, one node: both at one node; two nodes: one wrk at
# each.  Both stores durable (SQLite synchronous=FULL; PostgreSQL with its
# defaults, fsync and synchronous_commit on), on a throwaway cluster
# (tests/store/pg-cluster.sh) holding the same users, copied there with
# `sesame store migrate`.  The three are measured in turn in every
# repetition; the ratios are medians of the per-repetition ratios.
#
#   bench/multinode.sh BUILDDIR KEYDIR WORKDIR [--quick]
#
# On one machine the nodes share its cores with PostgreSQL and wrk: the
# two-node ratio shows what a second process adds there, not what a second
# machine would.
set -eu

[ $# -ge 3 ] || { echo "usage: multinode.sh BUILDDIR KEYDIR WORKDIR [--quick]" >&2; exit 2; }
build=$1
keys=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
reps=5
secs=4
if [ "${4:-}" = "--quick" ]; then
	reps=3
	secs=2
fi
users=1000

command -v wrk >/dev/null || { echo "multinode.sh: wrk is not installed: skipped"; exit 0; }
[ -f "$build/plugins/stores/.libs/postgres.so" ] ||
	{ echo "multinode.sh: the postgres store was not built (no libpq): skipped"; exit 0; }
. "$top/tests/store/pg-cluster.sh"
pg_find_bin || { echo "multinode.sh: the PostgreSQL server is not installed: skipped"; exit 0; }

. "$here/stats.sh"

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	pg_cluster_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_DURABLE=1 pg_cluster_start >&2

# The SQLite setup of bench/login.c (10^3 users, synchronous FULL) and the
# same users in a PostgreSQL database.
set -- $("$build/bench/login" "$build" "$keys" "$work" --serve "$users" full)
sqlite_conf=$1
tokens=$2
PGOPTIONS="-c client_min_messages=warning" "$SESAME_TEST_PSQL" -X -q -h "$SESAME_TEST_PG_HOST" -U "$SESAME_TEST_PG_ADMIN" -d postgres \
	-c "DROP DATABASE IF EXISTS sesame_bench" -c "CREATE DATABASE sesame_bench OWNER $SESAME_TEST_PG_USER" >&2
pg_conf=$(dirname "$sqlite_conf")/postgres.json
python3 - "$sqlite_conf" "$pg_conf" <<EOF
import json, sys
conf = json.load(open(sys.argv[1]))
conf["store"] = {"type": "postgres",
                 "conninfo": "host=$SESAME_TEST_PG_HOST port=$SESAME_TEST_PG_PORT user=$SESAME_TEST_PG_USER dbname=sesame_bench"}
json.dump(conf, open(sys.argv[2], "w"), indent=2)
EOF
"$build/sesame" --config "$sqlite_conf" store migrate --to "$pg_conf" >"$work/migrate.json"

export SESAME_BENCH_TOKENS="$tokens" SESAME_BENCH_APP=bench-app SESAME_BENCH_PROVIDER=ct

# Start sesamed on `conf` (in this shell, so that cleanup can stop it);
# its URL in $url.
start() { # conf log
	: >"$2" # emptied here: the child may not have truncated it (an old run's address) before the poll
	"$build/sesamed" --config "$1" --listen 127.0.0.1:0 2>"$2" &
	pids="$pids $!"
	url=""
	i=0
	while [ -z "$url" ] && [ $i -lt 100 ]; do
		url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$2" 2>/dev/null | head -n 1)
		[ -n "$url" ] || sleep 0.1
		i=$((i + 1))
	done
	[ -n "$url" ] || { echo "multinode.sh: sesamed did not start:" >&2; cat "$2" >&2; exit 1; }
}

start "$sqlite_conf" "$work/mn-sqlite.log"
sqlite_url=$url
start "$pg_conf" "$work/mn-pg1.log"
pg1_url=$url
start "$pg_conf" "$work/mn-pg2.log"
pg2_url=$url

# Two wrk processes at once, at URLs $1 and $2, for $3 seconds: prints the
# summed rate and the larger p99 (ms).
load() {
	wrk -t1 -c4 -d"$3"s --timeout 5s --latency -s "$here/login.lua" "$1" >"$work/mn-w1.txt" 2>&1 &
	w1=$!
	wrk -t1 -c4 -d"$3"s --timeout 5s --latency -s "$here/login.lua" "$2" >"$work/mn-w2.txt" 2>&1 &
	w2=$!
	wait "$w1" "$w2"
	for f in "$work/mn-w1.txt" "$work/mn-w2.txt"; do
		if grep -q "Non-2xx\|login.lua: HTTP" "$f"; then
			echo "multinode.sh: sesamed answered errors:" >&2
			cat "$f" >&2
			exit 1
		fi
	done
	awk '
		/^Requests\/sec:/ { rate += $2 }
		$1 == "99%" { v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u);
			if (u == "us") v /= 1000; else if (u == "s") v *= 1000;
			if (v > p99) p99 = v }
		END { printf "%.1f %.3f\n", rate, p99 }' "$work/mn-w1.txt" "$work/mn-w2.txt"
}

# Warm up every node (prepared statements, connections, caches).
load "$sqlite_url" "$sqlite_url" 1 >/dev/null
load "$pg1_url" "$pg1_url" 1 >/dev/null
load "$pg2_url" "$pg2_url" 1 >/dev/null

f="$work/multinode.txt"
: >"$f"
r=1
while [ $r -le "$reps" ]; do
	s=$(load "$sqlite_url" "$sqlite_url" "$secs")
	p1=$(load "$pg1_url" "$pg1_url" "$secs")
	p2=$(load "$pg1_url" "$pg2_url" "$secs")
	echo "$s $p1 $p2" >>"$f"
	r=$((r + 1))
done

# Columns of $f, one line per repetition: rate and p99 of SQLite on one
# node, of PostgreSQL on one node, of PostgreSQL on two.
medians sqlite_rate sqlite_p99 pg1_rate pg1_p99 pg2_rate pg2_p99
two_over_one=$(quotient_median 5 3)
pg_over_sqlite=$(quotient_median 3 1)
pg2_over_sqlite=$(quotient_median 5 1)

echo
echo "HTTP login through sesamed: SQLite vs PostgreSQL, one and two nodes ($users users; 2 wrk x 4 connections;"
echo "median of $reps alternated runs of ${secs} s; $(nproc) cores shared by the nodes, PostgreSQL and wrk)"
printf '%-22s %10s %8s\n' setup "logins/s" "p99 ms"
printf '%-22s %10.0f %8.2f\n' "sqlite, 1 node" "$sqlite_rate" "$sqlite_p99"
printf '%-22s %10.0f %8.2f\n' "postgres, 1 node" "$pg1_rate" "$pg1_p99"
printf '%-22s %10.0f %8.2f\n' "postgres, 2 nodes" "$pg2_rate" "$pg2_p99"
echo "(migrated into PostgreSQL first: $(tr -d '\n ' <"$work/migrate.json"))"
echo
echo "bench: http_login_sqlite_1node $sqlite_rate logins/s"
echo "bench: http_login_sqlite_1node_p99 $sqlite_p99 ms"
echo "bench: http_login_postgres_1node $pg1_rate logins/s"
echo "bench: http_login_postgres_1node_p99 $pg1_p99 ms"
echo "bench: http_login_postgres_2nodes $pg2_rate logins/s"
echo "bench: http_login_postgres_2nodes_p99 $pg2_p99 ms"
echo "ratio: http_login_postgres_2nodes/1node $two_over_one"
echo "ratio: http_login_postgres/sqlite $pg_over_sqlite"
echo "ratio: http_login_postgres_2nodes/sqlite $pg2_over_sqlite"

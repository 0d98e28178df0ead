#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/http.sh — HTTP logins through sesamed under wrk on loopback: returning
# custom-token identities (10^3 users), logins/s and p50/p99 latency at peak
# (several connections), the ratio to the in-process rate measured
# alternately in the same run, the CPU time per login of each (what HTTP
# costs whoever shares the cores), and p99 at about half of peak (wrk has
# no fixed-rate mode in Debian: fewer connections stand in for it).
#
#   bench/http.sh BUILDDIR KEYDIR WORKDIR [--quick]
set -eu

[ $# -ge 3 ] || { echo "usage: http.sh BUILDDIR KEYDIR WORKDIR [--quick]" >&2; exit 2; }
build=$1
keys=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
reps=5
secs=4
syncs="normal full"
if [ "${4:-}" = "--quick" ]; then
	reps=3
	secs=2
	syncs="normal"
fi
conns=8
users=1000

command -v wrk >/dev/null || { echo "http.sh: wrk is not installed: skipped"; exit 0; }

# wrk's latency figures with their unit, in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
		printf "%.3f", n }'
}

. "$here/stats.sh"

pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# One wrk run: prints "RATE P50MS P99MS".
run_wrk() { # url threads connections seconds
	out=$(wrk -t"$2" -c"$3" -d"$4"s --timeout 5s --latency -s "$here/login.lua" "$1")
	rate=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { print $2 }')
	reqs=$(printf '%s\n' "$out" | awk '/ requests in / { print $1 }')
	p50=$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')
	p99=$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')
	if printf '%s\n' "$out" | grep -q "Non-2xx"; then
		echo "http.sh: sesamed answered errors:" >&2
		printf '%s\n' "$out" >&2
		exit 1
	fi
	echo "$rate $(to_ms "$p50") $(to_ms "$p99") $reqs"
}

# CPU time sesamed has used, in clock ticks (utime + stime of all its threads).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

summary=""
for sync in $syncs; do
	set -- $("$build/bench/login" "$build" "$keys" "$work" --serve "$users" "$sync")
	conf=$1
	export SESAME_BENCH_TOKENS="$2" SESAME_BENCH_APP=bench-app SESAME_BENCH_PROVIDER=ct
	log="$work/sesamed-$sync.log"
	: >"$log" # emptied here: the child may not have truncated it (an old run's address) before the poll
	"$build/sesamed" --config "$conf" --listen 127.0.0.1:0 2>"$log" &
	pid=$!
	url=""
	i=0
	while [ -z "$url" ] && [ $i -lt 100 ]; do
		url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$log" | head -n 1)
		[ -n "$url" ] || sleep 0.1
		i=$((i + 1))
	done
	[ -n "$url" ] || { echo "http.sh: sesamed did not start:" >&2; cat "$log" >&2; exit 1; }
	run_wrk "$url" 2 "$conns" 1 >/dev/null # warm up

	: >"$work/http-$sync.txt"
	r=1
	while [ $r -le $reps ]; do
		t0=$(cpu_ticks "$pid")
		peak=$(run_wrk "$url" 2 "$conns" "$secs") # an assignment, so that set -e sees a failure
		t1=$(cpu_ticks "$pid")
		set -- $peak
		# sesamed's CPU time per login at peak, in microseconds
		peak="$1 $2 $3 $(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$4" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
		inproc=$("$build/bench/login" "$build" "$keys" "$work" --returning "$users" "$sync" "$secs")
		half=$(run_wrk "$url" 1 1 "$secs")
		set -- $half
		half="$1 $2 $3"
		echo "$peak $inproc $half" >>"$work/http-$sync.txt"
		r=$((r + 1))
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""

	# Columns of $f, one line per repetition: peak rate, p50, p99, CPU us
	# per login; in-process rate, CPU us per login; 1-conn rate, p50, p99.
	f="$work/http-$sync.txt"
	medians rate p50 p99 cpu inproc icpu lrate lp50 lp99
	ratio=$(quotient_median 1 5)
	cratio=$(quotient_median 6 4)
	lfrac=$(quotient_median 7 1)
	summary="$summary$(printf '%-7s %10.0f %8.2f %8.2f %10.0f %7.2fx | %7.0f %7.0f %6.2fx | %9.0f %6.2f %8.2f %8.2f' \
		"$sync" "$rate" "$p50" "$p99" "$inproc" "$ratio" "$cpu" "$icpu" "$cratio" "$lrate" "$lfrac" "$lp50" "$lp99")
"
	machine="${machine:-}bench: http_login_${sync}_peak $rate logins/s
bench: http_login_${sync}_p50 $p50 ms
bench: http_login_${sync}_p99 $p99 ms
bench: http_login_${sync}_inprocess $inproc logins/s
bench: http_login_${sync}_cpu_per_login $cpu us
bench: http_login_${sync}_inprocess_cpu_per_login $icpu us
bench: http_login_${sync}_lowload $lrate logins/s
bench: http_login_${sync}_lowload_p50 $lp50 ms
bench: http_login_${sync}_lowload_p99 $lp99 ms
"
	ratios="${ratios:-}ratio: http_login_${sync}/inprocess $ratio
ratio: http_login_${sync}/inprocess_per_cpu $cratio
ratio: http_login_${sync}_lowload/peak $lfrac
"
done

echo
echo "HTTP login through sesamed (wrk, $conns connections, 2 threads; $users users; median of $reps alternated runs of ${secs} s)"
printf '%-7s %10s %8s %8s %10s %8s | %7s %7s %7s | %9s %6s %8s %8s\n' sync "logins/s" "p50 ms" "p99 ms" "in-proc/s" "/inproc" \
	"cpu us" "in-proc" "/cpu" "1-conn/s" "/peak" "p50 ms" "p99 ms"
printf '%s' "$summary"
echo "(in-proc: one thread of sesame_login on its own copy of the same database; 1-conn: wrk -t1 -c1, the low load;"
echo " cpu us: CPU time per login at peak, of sesamed's threads and of the in-process run's (the checkpointer's too);"
echo " /cpu: in-process CPU time per login over sesamed's, that is HTTP/in-process per second of CPU)"
echo
printf '%s' "$machine"
printf '%s' "$ratios"

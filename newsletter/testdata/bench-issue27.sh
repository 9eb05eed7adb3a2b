#!/bin/sh
# Issue 27's before/after benchmark (docs/BENCHMARKS.md, "Issue 27"): the
# baseline engine and this checkout's, THE SAME benchmark code in both
# binaries, run in turn so that the shared machine's noise hits both alike.
#
#   newsletter/testdata/bench-issue27.sh PHASE OUTDIR
#
# PHASE is one of
#   100k     two alternations at 100,000 subscribers: TestNewsletterBenchmark
#            (SQLite) and TestNewsletterBenchmarkDrivers (SQLite, PostgreSQL
#            with one and two replicas), base/head then head/base
#   1m       one alternation at 1,000,000 subscribers: the drivers benchmark,
#            SQLite (base, head) then PostgreSQL one and two replicas (head,
#            base), without the ceiling runs (or 1m-sqlite, 1m-pg alone)
#   profile  CPU profiles of a 100,000-subscriber send on SQLite, base and head
#   dkim     head at 100,000 on SQLite with no DKIM, an RSA-2048 key and an
#            Ed25519 key, with CPU profiles, and base with the RSA key
#   micro    BenchmarkSplicedMail: one copy composed, unsigned and signed
# A VERSION other than base and head (DKIM_VERSION, PG_VERSIONS) runs
# OUTDIR/VERSION.test, built from this checkout.
#
# Run from the repository's root with the test peers' environment
# (source /work/peers.env). BASE is the baseline checkout (default /tmp/base,
# made with `git worktree add --detach /tmp/base df38a47`); the script copies
# this checkout's benchmark files and article into it before building.
set -eu
phase=$1
out=$2
base=${BASE:-/tmp/base}
head=$(pwd)
mkdir -p "$out"

cp newsletter/bench_test.go newsletter/bench_drivers_test.go "$base/newsletter/"
mkdir -p "$base/newsletter/testdata"
cp newsletter/testdata/bench-article.md "$base/newsletter/testdata/"
if [ ! -x "$out/base.test" ] || [ ! -x "$out/head.test" ]; then
	(cd "$base" && go test -c -o "$out/base.test" ./newsletter)
	go test -c -o "$out/head.test" ./newsletter
	git -C "$base" rev-parse HEAD >"$out/base.commit"
	git rev-parse HEAD >"$out/head.commit"
fi
[ -f "$out/dkim-rsa.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/dkim-rsa.pem" 2>/dev/null
[ -f "$out/dkim-ed25519.pem" ] || openssl genpkey -algorithm ED25519 -out "$out/dkim-ed25519.pem"

article=$head/newsletter/testdata/bench-article.md

# run NAME VERSION TEST [VAR=VALUE...]: one benchmark run, in VERSION's
# newsletter folder, its log in OUTDIR/NAME.log with the time and load.
run() {
	name=$1 version=$2 test=$3
	shift 3
	dir=$head
	[ "$version" = base ] && dir=$base
	log=$out/$name.log
	{
		echo "# $name: $version $test $*"
		echo "# start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$log"
	(cd "$dir/newsletter" && env CRIER_EMAIL_BENCH_ARTICLE="$article" "$@" \
		"$out/$version.test" -test.run "^$test\$" -test.v -test.count=1 -test.timeout=3h >>"$log" 2>&1) || echo "# FAILED: exit $?" >>"$log"
	echo "# end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$log"
	grep -E "^# |newsletter: [0-9]+ personalised|replicas on|FAIL" "$log" | sed "s|^|$name: |" >>"$out/summary.txt"
}

sqlite100k() { run "$1" "$2" TestNewsletterBenchmark CRIER_EMAIL_BENCH=100000 CRIER_EMAIL_BENCH_CEILING=10000 CRIER_EMAIL_BENCH_ROUNDS=1; }
drivers() { run "$1" "$2" TestNewsletterBenchmarkDrivers CRIER_EMAIL_BENCH_DRIVERS="$3" CRIER_EMAIL_BENCH_ROUNDS=1 CRIER_EMAIL_BENCH_NO_CEILING=1 CRIER_EMAIL_BENCH_CONFIGS="$4"; }

case $phase in
100k)
	for v in base head; do sqlite100k "100k-sqlite-1-$v" $v; done
	for v in base head; do drivers "100k-drivers-1-$v" $v 100000 sqlite,pg1,pg2; done
	for v in head base; do sqlite100k "100k-sqlite-2-$v" $v; done
	for v in head base; do drivers "100k-drivers-2-$v" $v 100000 sqlite,pg1,pg2; done
	;;
1m | 1m-sqlite | 1m-pg)
	if [ "$phase" != 1m-pg ]; then
		for v in base head; do drivers "1m-sqlite-$v" $v 1000000 sqlite; done
	fi
	if [ "$phase" != 1m-sqlite ]; then
		for v in ${PG_VERSIONS:-head base}; do drivers "1m-pg-$v" $v 1000000 "${PG_CONFIGS:-pg1,pg2}"; done
	fi
	;;
micro)
	[ -x "$out/micro.test" ] || go test -c -o "$out/micro.test" ./newsletter
	(cd newsletter && CRIER_EMAIL_BENCH_ARTICLE="$article" "$out/micro.test" -test.run '^$' -test.bench SplicedMail -test.benchtime 2000x -test.count 3) >"$out/micro.log" 2>&1
	;;
profile)
	for v in base head; do
		run "profile-$v" $v TestNewsletterBenchmark CRIER_EMAIL_BENCH=100000 CRIER_EMAIL_BENCH_CEILING=2000 CRIER_EMAIL_BENCH_ROUNDS=1 \
			CRIER_EMAIL_BENCH_CPUPROFILE="$out/cpu-$v" CRIER_EMAIL_BENCH_MEMPROFILE="$out/mem-$v"
	done
	;;
dkim)
	for k in ${DKIM_KEYS:-none rsa ed25519}; do
		key=
		[ "$k" = none ] || key=$out/dkim-$k.pem
		run "dkim-$k-${DKIM_VERSION:-head}" "${DKIM_VERSION:-head}" TestNewsletterBenchmark CRIER_EMAIL_BENCH=100000 CRIER_EMAIL_BENCH_CEILING=2000 CRIER_EMAIL_BENCH_ROUNDS=1 \
			CRIER_EMAIL_BENCH_DKIM="$key" CRIER_EMAIL_BENCH_CPUPROFILE="$out/cpu-dkim-$k"
	done
	[ -n "${DKIM_NO_BASE:-}" ] || run "dkim-rsa-base" base TestNewsletterBenchmark CRIER_EMAIL_BENCH=100000 CRIER_EMAIL_BENCH_CEILING=2000 CRIER_EMAIL_BENCH_ROUNDS=1 \
		CRIER_EMAIL_BENCH_DKIM="$out/dkim-rsa.pem"
	;;
*)
	echo "unknown phase $phase" >&2
	exit 2
	;;
esac

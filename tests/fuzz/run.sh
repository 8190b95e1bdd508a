#!/bin/sh
# tests/fuzz/run.sh PROGRAM... - run each libFuzzer target for FUZZ_SECONDS
# (default 8), from its checked-in seeds (tests/fuzz/corpus/NAME, which also
# hold the inputs of crashes once fixed: replayed first, every run) and the
# inputs it found in earlier runs (build dir, tests/fuzz/found-NAME).  TAP:
# one case per target; a crash, leak, hang or sanitizer report fails it,
# and its input is kept as tests/fuzz/crash-NAME-* and shown in hex.
# Run from the build directory; top_srcdir as in "make check".
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
secs=${FUZZ_SECONDS:-8}
echo "1..$#"
n=0 failed=0
for prog in "$@"; do
	n=$((n + 1))
	name=${prog##*/fuzz-}
	seeds="$top_srcdir/tests/fuzz/corpus/$name"
	found="tests/fuzz/found-$name"
	mkdir -p "$found" || exit 99
	log="tests/fuzz/fuzz-$name.out"
	rm -f tests/fuzz/crash-"$name"-* tests/fuzz/leak-"$name"-* tests/fuzz/timeout-"$name"-*
	# Found inputs first: libFuzzer adds new ones to the first directory.
	if "./$prog" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="tests/fuzz/crash-$name-" -print_final_stats=1 \
		"$found" "$seeds" > "$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $n - fuzz-$name: ${runs:-?} inputs in ${secs} s, no crash"
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz-$name: crashed (log $log)"
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | head -n 25 | sed 's/^/#   /'
		for a in tests/fuzz/crash-"$name"-*; do
			[ -f "$a" ] || continue
			echo "#   input kept in $a:"
			od -A d -c "$a" | head -n 20 | sed 's/^/#   /'
		done
	fi
done
[ $failed -eq 0 ]

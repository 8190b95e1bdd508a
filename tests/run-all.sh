#!/bin/sh
# tests/run-all.sh - from a fresh clone to a full test run: install the
# dependencies (as root), then
#   1. build out of tree in build/ (the default compiler) and run "make
#      check": every test;
#   2. build again in build-asan/ with clang, AddressSanitizer, UBSan and
#      libFuzzer (--enable-sanitizers --enable-fuzzing) and run "make check"
#      there: the unit, integration and end-to-end tests under the
#      sanitizers (not the valgrind tests, nor the package test, which
#      builds its own), and every fuzz target for FUZZ_SECONDS (default 8);
# and print the closing line "N passed, N failed" over both.  The CI runs
# exactly this.  SANITIZERS=no skips the second pass.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
asan=${ASAN_BUILD_DIR:-$top/build-asan}

"$top/contrib/install-deps.sh" --test
cd "$top"
[ -x configure ] || autoreconf -fi

# run_check DIR: "make check" in DIR (configured already), its TAP results
# in DIR/check.out, the logs of what failed shown.  Returns make's status.
run_check() {
	cd "$1"
	make -s -j2 >/dev/null
	set +e
	make -s check -j1 > check.out 2>&1
	_rc=$?
	set -e
	grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' check.out || true
	if [ $_rc -ne 0 ]; then
		# Show what failed, with its own log, so a CI run explains itself.
		for log in $(find . -name '*.log' ! -name test-suite.log ! -name config.log); do
			grep -q -E '^(not ok|Bail out!)' "$log" 2>/dev/null || continue
			echo "---- $1/$log"; tail -n 60 "$log"
		done
		grep -q 'test-suite.log' check.out || tail -n 40 check.out
	fi
	cd "$top"
	return $_rc
}

mkdir -p "$build"
(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; })
rc=0
run_check "$build" || rc=$?
outs="$build/check.out"

if [ "${SANITIZERS:-yes}" != no ]; then
	echo "---- under AddressSanitizer and UBSan, and the fuzz targets ($asan)"
	mkdir -p "$asan"
	(cd "$asan" && { [ -f Makefile ] || CC=clang "$top/configure" -q \
		--enable-sanitizers --enable-fuzzing; })
	# A leak or a sanitizer report fails the program that has it.
	ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		run_check "$asan" || rc=$?
	outs="$outs $asan/check.out"
fi

# Count test cases (TAP results) across every test program of both passes.
# shellcheck disable=SC2086
pass=$(cat $outs | grep -c -E '^(PASS|XFAIL|SKIP):' || true)
# shellcheck disable=SC2086
fail=$(cat $outs | grep -c -E '^(FAIL|XPASS|ERROR):' || true)
[ $rc -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "$pass passed, $fail failed"
exit $rc

#!/bin/sh
# tests/run-all.sh - from a fresh clone to a full test run: install the
# dependencies (as root), build out of tree in build/, run "make check" and
# print the closing line "N passed, N failed".  The CI runs exactly this.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}

"$top/contrib/install-deps.sh" --test
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" -q
make -s -j2 >/dev/null

set +e
make -s check -j1 > check.out 2>&1
rc=$?
set -e
grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' check.out || true
if [ $rc -ne 0 ]; then
	# Show what failed, with its own log, so a CI run explains itself.
	for log in $(find . -name '*.log' ! -name test-suite.log ! -name config.log); do
		grep -q -E '^(not ok|Bail out!)' "$log" 2>/dev/null || continue
		echo "---- $log"; tail -n 60 "$log"
	done
	grep -q 'test-suite.log' check.out || tail -n 40 check.out
fi
# Count test cases (TAP results) across every test program.
pass=$(grep -h -c -E '^(PASS|XFAIL|SKIP):' check.out || true)
fail=$(grep -h -c -E '^(FAIL|XPASS|ERROR):' check.out || true)
[ $rc -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "$pass passed, $fail failed"
exit $rc

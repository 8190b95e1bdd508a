#!/bin/sh
# tests/bench-policy.sh - "make bench": the policy decision benchmark.
# Starts a throw-away redis-server (tests/lib.sh), runs tests/bench-policy
# against it (the program loads its own data into databases 1-6, measures
# and prints the table), and stops everything.  Not a test: it judges no
# timing, and fails only when something does not run.
#
#   make bench                           from the build directory
#   BENCH_DECISIONS=50000 make bench     fewer warm decisions (default 200000)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

BENCH="$top_builddir/tests/bench-policy"
if [ ! -x "$BENCH" ]; then
	echo "bench-policy.sh: $BENCH is not built (make tests/bench-policy)" >&2
	exit 1
fi
start_redis || { echo "bench-policy.sh: cannot start $REDIS_SERVER" >&2; exit 1; }

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "# hosterra-milter policy benchmark"
echo "# date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "# machine: $(uname -srm), nproc $(nproc), ${cpu:-unknown CPU}"
echo "# redis:   $(redis_cli INFO server | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p') on 127.0.0.1:$REDIS_PORT"
"$BENCH" -p "$REDIS_PORT" ${BENCH_DECISIONS:+-n "$BENCH_DECISIONS"}
rc=$?
stop_redis
exit $rc

#!/bin/sh
# tests/bench-milter.sh - "make bench-milter": the milter under load, beside
# a no-op libmilter filter, in one run.
#
# Generates the load corpus (tests/bench-corpus.py: DKIM-signed 2-50 KiB
# messages from twenty sender domains with mixed SPF and DMARC), serves its
# DNS world from the suite's DNS server on loopback, starts a throw-away
# Redis with a few mailbox policies (cached after the first messages), and
# replays the corpus with tests/bench-milter (8 connections at once, one
# message per connection, as one-message SMTP sessions) against, in turn:
#
#   noop-nr     the no-op filter asking for no reply but end of message (unix)
#   noop-every  the no-op filter answering every stage (unix)
#   milter      hosterra-milter on a unix socket
#   milter-tcp  hosterra-milter on TCP (127.0.0.1)
# (the milter with its content classifier on, a model learned from the
# corpus first)
#   noop-tcp    the no-op filter answering every stage, on TCP
#
# Rounds interleave the rows so that the machine's noise falls on all of
# them; each row keeps its best round.  Prints messages/s, latency p50/p99,
# the filter's CPU per message and RSS, and the ratio to noop-nr.  Not a
# test: it judges no figure, and fails only when something does not run.
#
#   BENCH_MESSAGES=1000   corpus size
#   BENCH_SECONDS=5       seconds per row and round
#   BENCH_ROUNDS=3        rounds
#   BENCH_CONCURRENCY=8   connections at once
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

BENCH="$top_builddir/tests/bench-milter"
NOOP="$top_builddir/tests/noop-milter"
for p in "$BENCH" "$NOOP" "$HM"; do
	[ -x "$p" ] || { echo "bench-milter.sh: $p is not built (make bench-milter)" >&2; exit 1; }
done
MSGS=${BENCH_MESSAGES:-1000}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONC=${BENCH_CONCURRENCY:-8}

echo "# generating $MSGS messages" >&2
bench_world "$MSGS" || exit 1

# The daemons: the milter on unix and on TCP, the no-op filter three ways.
UNIX_SOCK="$T/milter.sock"
TCP_PORT=$(free_port)
# The content classifier on: a model learned from the corpus itself (its
# first half as spam, the rest as ham: the labels mean nothing, the work of
# decoding, extracting and scoring every message is what is measured).
cls='classifier { min_spam = 10 min_ham = 10 }'
write_conf "$T/unix.conf" "unix:$UNIX_SOCK" 'log_level = "info"' "$cls"
write_conf "$T/tcp.conf" "inet:$TCP_PORT@127.0.0.1" 'log_level = "info"' "$cls"
half=$((MSGS / 2))
ls "$T/corpus"/*.eml | head -n "$half" > "$T/spam.list"
ls "$T/corpus"/*.eml | tail -n +"$((half + 1))" > "$T/ham.list"
# shellcheck disable=SC2046
"$HM" -c "$T/unix.conf" --learn spam $(cat "$T/spam.list") >/dev/null &&
"$HM" -c "$T/unix.conf" --learn ham $(cat "$T/ham.list") >/dev/null ||
	{ echo "bench-milter.sh: cannot learn the content model" >&2; exit 1; }
sed -i "s|^pidfile = .*|pidfile = \"$T/hm-tcp.pid\"|" "$T/tcp.conf"
start_milter "$T/unix.conf" || { echo "bench-milter.sh: the milter did not start" >&2; exit 1; }
MILTER_UNIX=$MILTER_PID
mv "$T/milter.log" "$T/milter-unix.log"
start_milter "$T/tcp.conf" || { echo "bench-milter.sh: the milter did not start on TCP" >&2; exit 1; }
MILTER_TCP=$MILTER_PID

NOOP_TCP_PORT=$(free_port)
"$NOOP" -s "unix:$T/noop-nr.sock" 2>>"$T/noop.log" & NOOP_NR=$!; track $NOOP_NR
"$NOOP" -e -s "unix:$T/noop-every.sock" 2>>"$T/noop.log" & NOOP_EVERY=$!; track $NOOP_EVERY
"$NOOP" -e -s "inet:$NOOP_TCP_PORT@127.0.0.1" 2>>"$T/noop.log" & NOOP_TCP=$!; track $NOOP_TCP
wait_for test -S "$T/noop-nr.sock" && wait_for test -S "$T/noop-every.sock" ||
	{ echo "bench-milter.sh: the no-op filter did not start" >&2; exit 1; }

# Warm the milter's caches (DNS, policy) once through each socket.
"$BENCH" -s "unix:$UNIX_SOCK" -c "$CONC" -n "$MSGS" -d 60 -l warm "$T/corpus" >/dev/null
"$BENCH" -s "inet:$TCP_PORT@127.0.0.1" -c "$CONC" -n "$MSGS" -d 60 -l warm "$T/corpus" >/dev/null

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "# hosterra-milter load benchmark: $MSGS messages (2-50 KiB, 85% DKIM-signed), $CONC connections"
echo "# date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "# machine: $(uname -srm), nproc $(nproc), ${cpu:-unknown CPU}"
echo "# rounds:  $ROUNDS x $SECS s per row, best round kept"

rows="noop-nr noop-every milter milter-tcp noop-tcp"
r=1
while [ $r -le "$ROUNDS" ]; do
	for row in $rows; do
		case $row in
		noop-nr) s="unix:$T/noop-nr.sock"; pid=$NOOP_NR ;;
		noop-every) s="unix:$T/noop-every.sock"; pid=$NOOP_EVERY ;;
		milter) s="unix:$UNIX_SOCK"; pid=$MILTER_UNIX ;;
		milter-tcp) s="inet:$TCP_PORT@127.0.0.1"; pid=$MILTER_TCP ;;
		noop-tcp) s="inet:$NOOP_TCP_PORT@127.0.0.1"; pid=$NOOP_TCP ;;
		esac
		"$BENCH" -s "$s" -c "$CONC" -d "$SECS" -p "$pid" -l "$row" "$T/corpus" >> "$T/rounds" ||
			{ echo "bench-milter.sh: $row: nothing was sent" >&2; exit 1; }
	done
	r=$((r + 1))
done

# Best round per row (most messages/s), and the ratio to noop-nr's.
awk '
{ label = $1; sub(":", "", label); rate = $7 + 0
  if (!(label in best) || rate > best[label]) { best[label] = rate; line[label] = $0 } }
END {
	base = best["noop-nr"]
	n = split("noop-nr noop-every milter milter-tcp noop-tcp", order, " ")
	for (i = 1; i <= n; i++) {
		l = order[i]
		if (!(l in best)) continue
		printf "%s  (%.0f%% of noop-nr)\n", line[l], (base > 0 ? 100 * best[l] / base : 0)
	}
}' "$T/rounds"
fails=$(grep -c ' errors [1-9]' "$T/rounds")
[ "$fails" -eq 0 ] || echo "# $fails run(s) had protocol or socket errors: see above"
exit 0

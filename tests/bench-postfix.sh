#!/bin/sh
# tests/bench-postfix.sh - "make bench-postfix": the milter behind a real
# Postfix, beside Postfix alone and a no-op libmilter filter, in one run.
#
# A private Postfix instance (tests/postfix-instance.sh) gets one smtpd
# listener per row, all in the same instance:
#
#   postfix     no milter: what Postfix alone delivers
#   noop-nr     the no-op filter (tests/noop-milter) on a unix socket,
#               asking for no reply but end of message: the ceiling of any
#               libmilter filter
#   noop-every  the no-op filter on a unix socket answering every stage
#   milter      hosterra-milter on a unix socket
#   milter-tcp  hosterra-milter on TCP (127.0.0.1)
#   noop-tcp    the no-op filter on TCP answering every stage, as the
#               milter does there
#
# tests/bench-smtp replays the load corpus (tests/bench-corpus.py: 2-50 KiB
# messages, 85% DKIM-signed, twenty sender domains with mixed SPF and DMARC,
# served by the suite's DNS server on loopback; policy from a throw-away
# Redis) with 8 SMTP sessions at once, one message per session, each
# session introduced by XCLIENT as the corpus's remote client (mail from
# 127.0.0.1 itself would be our own and not judged).  Postfix relays
# example.org to discard(8), so delivery costs next to nothing, and its
# queue lives in $T on tmpfs when /dev/shm is one (Postfix fsyncs every
# queue file: on a shared disk that would measure the disk).
#
# Delivered messages/s: messages that Postfix accepted (250 after the end
# of DATA) and that discard(8) then delivered (a "status=sent" line in the
# instance's log), divided by the time from the row's start until its last
# message left the queue (the sending window plus the drain).
# End-of-DATA -> 250 latency: from the lone "." to Postfix's reply, as the
# sending MTA waits for it; the milter's end-of-message work is in it.
#
# Rounds interleave the rows so that the machine's noise falls on all of
# them; each row shows its median round (by delivered messages/s, with that
# round's latency) and the spread of its rounds.  Ratios are to Postfix
# alone and to the matching no-op filter (milter: noop-nr, milter-tcp:
# noop-tcp), and the targets are reported, not asserted: it fails only when
# something does not run.
#
#   BENCH_MESSAGES=1000   corpus size
#   BENCH_SECONDS=5       seconds per row and round
#   BENCH_ROUNDS=5        rounds
#   BENCH_CONCURRENCY=8   SMTP sessions at once
#   BENCH_PER_SESSION=1   messages per SMTP session
#   BENCH_TMPDIR          where the scratch directory goes (default /dev/shm
#                         when it is a tmpfs, else $TMPDIR or /tmp)

if [ -n "${BENCH_TMPDIR:-}" ]; then
	TMPDIR=$BENCH_TMPDIR; export TMPDIR
elif [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm; export TMPDIR
fi
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/postfix-instance.sh"

die() { echo "bench-postfix.sh: $*" >&2; exit 1; }

if reason=$(pf_unavailable); then
	echo "bench-postfix.sh: cannot run Postfix here: $reason" >&2
	exit 77
fi
BENCH="$top_builddir/tests/bench-smtp"
NOOP="$top_builddir/tests/noop-milter"
for p in "$BENCH" "$NOOP" "$HM"; do
	[ -x "$p" ] || die "$p is not built (make bench-postfix)"
done
MSGS=${BENCH_MESSAGES:-1000}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
CONC=${BENCH_CONCURRENCY:-8}
PER=${BENCH_PER_SESSION:-1}
ROWS="postfix noop-nr noop-every milter milter-tcp noop-tcp"

# Postfix's daemons run as "postfix" and reach $T by absolute path.
chmod 755 "$T" || die "chmod $T"

echo "# generating $MSGS messages" >&2
bench_world "$MSGS" || die "cannot set up the corpus, DNS and Redis"

# The filters: the milter on unix and on TCP, the no-op filter three ways.
# Their unix sockets must be writable by Postfix's smtpd (user postfix).
UNIX_SOCK="$T/milter.sock"
TCP_PORT=$(free_port)
write_conf "$T/unix.conf" "unix:$UNIX_SOCK" 'log_level = "info"' 'socket_mode = "0666"'
write_conf "$T/tcp.conf" "inet:$TCP_PORT@127.0.0.1" 'log_level = "info"'
sed -i "s|^pidfile = .*|pidfile = \"$T/hm-tcp.pid\"|" "$T/tcp.conf"
start_milter "$T/unix.conf" || die "the milter did not start"
MILTER_UNIX=$MILTER_PID
mv "$T/milter.log" "$T/milter-unix.log"
start_milter "$T/tcp.conf" || die "the milter did not start on TCP"
MILTER_TCP=$MILTER_PID

NOOP_TCP_PORT=$(free_port)
(umask 0; exec "$NOOP" -s "unix:$T/noop-nr.sock") 2>>"$T/noop.log" & NOOP_NR=$!; track $NOOP_NR
(umask 0; exec "$NOOP" -e -s "unix:$T/noop-every.sock") 2>>"$T/noop.log" & NOOP_EVERY=$!; track $NOOP_EVERY
"$NOOP" -e -s "inet:$NOOP_TCP_PORT@127.0.0.1" 2>>"$T/noop.log" & NOOP_TCP=$!; track $NOOP_TCP
wait_for test -S "$T/noop-nr.sock" && wait_for test -S "$T/noop-every.sock" ||
	die "the no-op filter did not start"

# The Postfix instance: one smtpd listener per row, on ports of its own.
set -- "$TCP_PORT" "$NOOP_TCP_PORT"
while [ $# -lt 8 ]; do
	p=$(free_port)
	case " $* " in *" $p "*) ;; *) set -- "$@" "$p";; esac
done
shift 2
P_postfix=$1 P_noop_nr=$2 P_noop_every=$3 P_milter=$4 P_milter_tcp=$5 P_noop_tcp=$6
pf_create "$T/pf" > "$T/pf-create.out" 2>&1 || die "cannot create the Postfix instance: $(cat "$T/pf-create.out")"
# example.org (the corpus's recipients) is relayed to discard(8); the load
# generator may say which remote client it stands for (XCLIENT).
"${POSTFIX%/*}/postconf" -c "$PF_CONF" -e relay_domains=example.org \
	smtpd_authorized_xclient_hosts=127.0.0.1 || die "postconf failed"
pf_add_smtpd "$P_postfix"
pf_add_smtpd "$P_noop_nr" "-o smtpd_milters=unix:$T/noop-nr.sock"
pf_add_smtpd "$P_noop_every" "-o smtpd_milters=unix:$T/noop-every.sock"
pf_add_smtpd "$P_milter" "-o smtpd_milters=unix:$UNIX_SOCK"
pf_add_smtpd "$P_milter_tcp" "-o smtpd_milters=inet:127.0.0.1:$TCP_PORT"
pf_add_smtpd "$P_noop_tcp" "-o smtpd_milters=inet:127.0.0.1:$NOOP_TCP_PORT"
pf_start > "$T/pf-start.out" 2>&1 || die "Postfix did not start: $(cat "$T/pf-start.out")"
QUEUE="$PF_DIR/queue"

# row_setup ROW: PORT and FPID (the filter's PID, empty for Postfix alone).
row_setup() {
	case $1 in
	postfix) PORT=$P_postfix FPID="" ;;
	noop-nr) PORT=$P_noop_nr FPID=$NOOP_NR ;;
	noop-every) PORT=$P_noop_every FPID=$NOOP_EVERY ;;
	milter) PORT=$P_milter FPID=$MILTER_UNIX ;;
	milter-tcp) PORT=$P_milter_tcp FPID=$MILTER_TCP ;;
	noop-tcp) PORT=$P_noop_tcp FPID=$NOOP_TCP ;;
	esac
}

sent_lines() { grep -c ' status=sent ' "$PF_LOG"; }

# delivered_since N WANT: the log holds WANT more deliveries than N
# (postlogd writes the log a little after the fact).
delivered_since() { [ $(($(sent_lines) - $1)) -ge "$2" ]; }

# run_row ROW SECONDS [MAX]: one run of ROW; appends its line, with the
# deliveries counted from Postfix's log, to $T/rounds.
run_row() {
	row_setup "$1"
	_before=$(sent_lines)
	"$BENCH" -p "$PORT" -x -q "$QUEUE" -c "$CONC" -k "$PER" -d "$2" ${3:+-n "$3"} \
		${FPID:+-P "$FPID"} -l "$1" "$T/corpus" > "$T/row.out" 2>>"$T/bench.err" ||
		die "$1: no message was accepted: $(tail -n 3 "$T/bench.err") $(cat "$T/row.out")"
	_acc=$(sed -n 's/.* accepted=\([0-9]*\) .*/\1/p' "$T/row.out")
	wait_for delivered_since "$_before" "$_acc"
	echo "$(cat "$T/row.out") delivered=$(($(sent_lines) - _before))" >> "$T/rounds"
}

# Warm up every path (Postfix's processes, the milter's DNS and policy
# caches) with a pass over part of the corpus; not counted.
for row in $ROWS; do
	run_row "$row" 60 "$((MSGS < 300 ? MSGS : 300))"
done
mv "$T/rounds" "$T/warmup"

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "# hosterra-milter through Postfix $("${POSTFIX%/*}/postconf" -dh mail_version):" \
	"$MSGS messages (2-50 KiB, 85% DKIM-signed), $CONC SMTP sessions at once, $PER message(s) per session"
echo "# date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "# machine: $(uname -srm), nproc $(nproc), ${cpu:-unknown CPU}, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# queue:   $QUEUE ($(stat -f -c %T "$QUEUE"))"
echo "# rounds:  $ROUNDS x $SECS s per row, interleaved; median round per row"

r=1
while [ $r -le "$ROUNDS" ]; do
	for row in $ROWS; do
		run_row "$row" "$SECS"
	done
	r=$((r + 1))
done
echo "# load after the rounds: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${BENCH_RAW:-}" ] && cat "$T/rounds"

# Did the milter judge every message sent through it, as mail from the
# corpus's remote clients (XCLIENT), not as our own?
for row in milter milter-tcp; do
	log=$T/milter.log
	[ "$row" = milter ] && log=$T/milter-unix.log
	sent=$(cat "$T/warmup" "$T/rounds" | awk -v r="$row:" '$1 == r {
		for (i = 2; i <= 4; i++) { split($i, kv, "="); n += kv[2] } } END { print n + 0 }')
	judged=$(grep -c 'client=[^ ]*\[192\.0\.2\.[0-9]*\].* action=' "$log")
	echo "# $row: the milter judged $judged of the $sent messages sent through it"
done

# The table: per row, the median round by delivered/s and that round's
# latency.  The ratios (to Postfix alone, to the matching no-op filter) and
# the end-of-DATA latency added at p50 over Postfix alone are the medians
# of the per-round pairs: the rows of a round ran back to back, so a pair
# shares the machine's load of the moment.
awk -v rows="$ROWS" '
function field(line, key) {
	if (match(line, " " key "=[^ ]*"))
		return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2) + 0
	return -1
}
{
	row = $1; sub(":", "", row)
	k = ++n[row]
	dur = field($0, "window_s") + field($0, "drain_s")
	rate[row, k] = dur > 0 ? field($0, "delivered") / dur : 0
	p50[row, k] = field($0, "p50_ms"); p99[row, k] = field($0, "p99_ms")
	fcpu[row, k] = field($0, "filter_cpu_us"); ccpu[row, k] = field($0, "client_cpu_us")
	bad[row] += field($0, "errors") + field($0, "tempfail") + field($0, "reject") + \
		field($0, "queue_left") + (field($0, "accepted") - field($0, "delivered"))
}
# median of v[1..cnt] (sorted in place); the lower middle for an even count
function median(v, cnt,   i, j, t) {
	for (i = 1; i <= cnt; i++)
		for (j = i + 1; j <= cnt; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return v[int((cnt + 1) / 2)]
}
# the round of ROW with the median delivered/s; sets lo[] and hi[]
function median_round(row,   i, v, cnt) {
	cnt = n[row]
	for (i = 1; i <= cnt; i++) v[i] = rate[row, i]
	m = median(v, cnt)
	lo[row] = v[1]; hi[row] = v[cnt]
	for (i = 1; i <= cnt; i++) if (rate[row, i] == m) return i
}
# median over the rounds of ROW / REF delivered/s
function ratio(row, ref,   i, v, cnt) {
	cnt = n[row] < n[ref] ? n[row] : n[ref]
	for (i = 1; i <= cnt; i++) v[i] = rate[ref, i] > 0 ? rate[row, i] / rate[ref, i] : 0
	return median(v, cnt)
}
# median over the rounds of ROW p50 - postfix p50
function added(row,   i, v, cnt) {
	cnt = n[row] < n["postfix"] ? n[row] : n["postfix"]
	for (i = 1; i <= cnt; i++) v[i] = p50[row, i] - p50["postfix", i]
	return median(v, cnt)
}
END {
	nr = split(rows, order, " ")
	for (i = 1; i <= nr; i++) if (n[order[i]]) mr[order[i]] = median_round(order[i])
	ref["milter"] = "noop-nr"; ref["milter-tcp"] = "noop-tcp"
	printf "%-11s %8s %13s %8s %8s %8s %11s %9s %7s\n", "row", "msg/s", "(rounds)", "p50 ms", \
		"p99 ms", "+p50 ms", "vs postfix", "vs no-op", "filter"
	for (i = 1; i <= nr; i++) {
		r = order[i]
		if (!n[r]) continue
		k = mr[r]
		vs = "-"
		if (r in ref && n[ref[r]])
			vs = sprintf("%.0f%%", 100 * ratio(r, ref[r]))
		printf "%-11s %8.0f %13s %8.2f %8.2f %8s %11s %9s %7s\n", r, rate[r, k], \
			sprintf("(%.0f-%.0f)", lo[r], hi[r]), p50[r, k], p99[r, k], \
			(r == "postfix" || !n["postfix"] ? "-" : sprintf("%+.2f", added(r))), \
			(n["postfix"] ? sprintf("%.0f%%", 100 * ratio(r, "postfix")) : "-"), vs, \
			(fcpu[r, k] >= 0 ? sprintf("%.0fus", fcpu[r, k]) : "-")
	}
	printf "# msg/s: delivered per second, median round (lowest-highest round); p50, p99: end of\n"
	printf "# DATA -> 250 in that round; +p50 and the ratios: medians of the per-round pairs;\n"
	printf "# filter: its CPU per message\n"
	cc = 0
	for (i = 1; i <= nr; i++) { r = order[i]; if (n[r] && ccpu[r, mr[r]] > cc) cc = ccpu[r, mr[r]] }
	printf "# load generator CPU: at most %.0f us per message\n", cc
	for (i = 1; i <= nr; i++)
		if (bad[order[i]] > 0)
			printf "# %s: %d message(s) refused, lost or left queued, or session errors: see the raw lines (BENCH_RAW=1)\n", order[i], bad[order[i]]
	split("milter noop-nr 90 2 milter-tcp noop-tcp 90 3", tg, " ")
	for (j = 1; j <= 8; j += 4) {
		r = tg[j]; o = tg[j + 1]
		if (!n[r] || !n[o] || !n["postfix"]) continue
		pct = 100 * ratio(r, o); add = added(r)
		printf "# target %-10s >= %d%% of %-8s: %3.0f%% %-4s  < %d ms added at p50: %+.2f ms %s\n", \
			r, tg[j + 2], o, pct, (pct >= tg[j + 2] ? "met" : "MISS"), tg[j + 3], add, \
			(add < tg[j + 3] ? "met" : "MISS")
	}
}' "$T/rounds"
exit 0

# tests/lib.sh - shared helpers for the integration tests (sourced, POSIX sh
# plus "local").  Every test script speaks TAP: it calls plan N first, then
# ok / not_ok / check once per test case, and the automake TAP driver counts
# them.  Each script gets its own scratch directory ($T) and everything it
# starts (daemons, servers) is stopped by PID when the script exits.
#
# Environment (set by "make check", see Makefile.am): top_srcdir, top_builddir,
# REDIS_SERVER, POSTFIX, PYTHON3.  Run a test by hand from the build
# directory as:  top_srcdir=.. top_builddir=. sh ../tests/NAME.test

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$(pwd)}"
: "${PYTHON3:=/usr/bin/python3}"
: "${REDIS_SERVER:=redis-server}"
: "${POSTFIX:=/usr/sbin/postfix}"

HM="$top_builddir/hosterra-milter"
MCLIENT="$top_builddir/tests/hm-mclient"
DATA="$top_srcdir/tests/data"

T=$(mktemp -d "${TMPDIR:-/tmp}/hm-test.XXXXXX") || exit 99
_tap_n=0
_tap_failed=0
_pids=""

# plan N: announce how many test cases the script runs.
plan() { echo "1..$1"; }

ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }

# not_ok DESCRIPTION [DETAIL...]: a failed case; details go out as comments.
not_ok() {
	_tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"; shift
	for _d in "$@"; do printf '%s\n' "$_d" | sed 's/^/#   /'; done
}

skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

# finish: end the script with status 0 if every case passed, else 1, for
# harnesses that read the exit status (automake's plain test-driver, which
# runs *.test scripts unless TEST_LOG_DRIVER names the TAP driver).
finish() { [ "$_tap_failed" -eq 0 ] && exit 0; exit 1; }

# check DESCRIPTION COMMAND...: ok if the command succeeds, else not ok with
# its output.
check() {
	_desc=$1; shift
	if _out=$("$@" 2>&1); then ok "$_desc"; else not_ok "$_desc" "command: $*" "$_out"; fi
}

# bail REASON: stop the whole script (the harness counts it as an error).
bail() { echo "Bail out! $*"; exit 1; }

diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# track PID: stop this process when the script ends.
track() { _pids="$_pids $1"; }

_cleanup() {
	for _p in $_pids; do kill "$_p" 2>/dev/null; done
	for _p in $_pids; do
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
		kill -9 "$_p" 2>/dev/null
	done
	if [ "${HM_KEEP_TMP:-}" = "" ]; then rm -rf "$T"; else echo "# kept $T" >&2; fi
}
trap _cleanup EXIT
trap 'exit 1' INT TERM

# free_port: print a TCP port on 127.0.0.1 nobody listens on now.
free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for COMMAND...: retry for up to 10 s until the command succeeds.
wait_for() {
	_i=0
	until "$@" >/dev/null 2>&1; do
		_i=$((_i + 1)); [ $_i -ge 100 ] && return 1; sleep 0.1
	done
}

# write_conf FILE SOCKET [EXTRA LINES...]: a config for a test daemon that
# stays unprivileged-neutral (user ""), with its pidfile in $T, judging every
# client (internal_networks = {}), and resolving through the test DNS server
# (started here on the example zones unless the test started its own), and
# Redis only if the test started one (start_redis).
write_conf() {
	_f=$1; _s=$2; shift 2
	if [ -z "${DNS_PORT:-}" ]; then
		start_dns "$DATA/dns/example.zone" || return 1
	fi
	{
		echo "socket = \"$_s\""
		echo "user = \"\""
		echo "pidfile = \"$T/hm.pid\""
		echo "log_level = \"debug\""
		echo "internal_networks = {}"
		echo "authserv_id = \"mx.test.example\""
		echo "dns { nameservers = { \"127.0.0.1@$DNS_PORT\" } timeout = 2 }"
		# The test's own Redis, or none at all (never one that happens
		# to run on this machine).
		if [ -n "${REDIS_PORT:-}" ]; then
			echo "redis { port = $REDIS_PORT connect_timeout = 200 command_timeout = 300 }"
		else
			echo "redis { socket = \"$T/no-redis.sock\" }"
		fi
		for _l in "$@"; do printf '%s\n' "$_l"; done
	} > "$_f"
}

# start_milter CONF [WRAPPER...]: start the daemon in the foreground (stderr
# to $T/milter.log) and wait until it listens.  Sets MILTER_PID.  A wrapper
# (valgrind ...) may be given.
start_milter() {
	_conf=$1; shift
	"$@" "$HM" -f -c "$_conf" 2>>"$T/milter.log" &
	MILTER_PID=$!
	track $MILTER_PID
	wait_for grep -q 'started' "$T/milter.log" || { cat "$T/milter.log" >&2; return 1; }
}

# stop_milter: SIGTERM the daemon and wait for it; returns its exit status.
stop_milter() {
	kill -TERM "$MILTER_PID" 2>/dev/null
	wait "$MILTER_PID"
}

# start_dns ZONEFILE... [--behaviours FILE] [--ipv6]: start the test DNS
# server (tests/dns-server.py) on a free loopback port, UDP and TCP, queries
# logged to $T/dns-queries.log, stderr to $T/dns.log.  Sets DNS_PORT and
# DNS_PID ("kill -HUP $DNS_PID" reloads the zone files).
start_dns() {
	rm -f "$T/dns.port"
	"$PYTHON3" "$top_srcdir/tests/dns-server.py" --port-file "$T/dns.port" \
		--query-log "$T/dns-queries.log" "$@" 2>>"$T/dns.log" &
	DNS_PID=$!
	track $DNS_PID
	_i=0
	until [ -s "$T/dns.port" ]; do
		_i=$((_i + 1))
		if [ $_i -ge 100 ] || ! kill -0 $DNS_PID 2>/dev/null; then
			cat "$T/dns.log" >&2; return 1
		fi
		sleep 0.1
	done
	DNS_PORT=$(cat "$T/dns.port")
}

# dns_query_count NAME [TYPE]: how many queries for NAME (of TYPE) the test
# DNS server has received so far.
dns_query_count() {
	_n=$(printf '%s' "${1%.}." | tr 'A-Z' 'a-z')
	awk -v n="$_n" -v t="${2:-}" '$1 == n && (t == "" || $2 == toupper(t)) { c++ }
		END { print c + 0 }' "$T/dns-queries.log" 2>/dev/null || echo 0
}

# sign IN OUT: DKIM-sign a message as example.net (selector rsa2048, the test
# suite's own key in tests/data/dkim), relaxed/relaxed.
sign() {
	"$PYTHON3" - "$1" "$2" "$DATA/dkim/rsa2048.pem" <<'PY'
import sys, dkim
msg = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
key = open(sys.argv[3], "rb").read()
sig = dkim.sign(msg, b"rsa2048", b"example.net", key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
open(sys.argv[2], "wb").write(sig + msg)
PY
}

# message FILE FROM [EXTRA HEADER LINES...]: a small message From FROM,
# with Date and Message-ID; extra lines go first.
message() {
	_m=$1; _f=$2; shift 2
	{
		for _h in "$@"; do printf '%s\n' "$_h"; done
		printf 'From: Alice <%s>\nTo: bob@example.com\nSubject: auth test\n' "$_f"
		printf 'Date: %s\nMessage-ID: <%s@example.net>\n\n' \
			"$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S +0000')" "$(basename "$_m")"
		printf 'Hello Bob,\nthis is a test.\n'
	} > "$_m"
}


# start_redis [REDIS-SERVER OPTIONS...]: start a throw-away redis-server
# ($REDIS_SERVER) on a free 127.0.0.1 port and a unix socket in $T, without
# persistence (--save '' --appendonly no; a SAVE still writes dump.rdb in
# its directory, which a restart loads), and wait until it answers PING.
# Sets REDIS_PORT, REDIS_SOCK, REDIS_PID, REDIS_DIR (and REDIS_PASSWORD from
# "--requirepass X", used by redis_cli).  Another call starts another
# instance: save the variables of the first one before.
start_redis() {
	_redis_n=$((${_redis_n:-0} + 1))
	REDIS_DIR="$T/redis$_redis_n"
	mkdir -p "$REDIS_DIR" || return 1
	REDIS_PORT=$(free_port)
	REDIS_SOCK="$REDIS_DIR/redis.sock"
	REDIS_PASSWORD=""
	: > "$REDIS_DIR/args"
	while [ $# -gt 0 ]; do
		[ "$1" = "--requirepass" ] && REDIS_PASSWORD=$2
		printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" >> "$REDIS_DIR/args"
		shift
	done
	_redis_launch
}

_redis_launch() {
	eval "set -- $(cat "$REDIS_DIR/args")"
	"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 \
		--unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
		--save '' --appendonly no --dir "$REDIS_DIR" --dbfilename dump.rdb \
		--daemonize no --logfile "$REDIS_DIR/redis.log" "$@" &
	REDIS_PID=$!
	track $REDIS_PID
	_i=0
	until redis_cli ping 2>/dev/null | grep -q PONG; do
		_i=$((_i + 1))
		if [ $_i -ge 100 ] || ! kill -0 $REDIS_PID 2>/dev/null; then
			cat "$REDIS_DIR/redis.log" >&2; return 1
		fi
		sleep 0.1
	done
}

# redis_cli ARGS...: redis-cli ($REDIS_CLI, default redis-cli) against the
# current instance, with its password if it has one.
redis_cli() {
	if [ -n "${REDIS_PASSWORD:-}" ]; then
		REDISCLI_AUTH=$REDIS_PASSWORD "${REDIS_CLI:-redis-cli}" -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	else
		"${REDIS_CLI:-redis-cli}" -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	fi
}

# stop_redis [SIGNAL]: stop the current instance (default TERM; KILL for a
# crash) and wait until it is gone.
stop_redis() {
	kill -"${1:-TERM}" "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	return 0
}

# restart_redis [SIGNAL]: stop_redis, then the same instance again on the
# same port and socket, with the same options (an outage of the test's
# choosing: what is not in dump.rdb is gone).
restart_redis() {
	stop_redis "$@"
	_redis_launch
}

# start_sentinels N MASTER-NAME PRIMARY-PORT: N Redis Sentinels (redis-server
# --sentinel) on free 127.0.0.1 ports monitoring the primary on
# 127.0.0.1:PRIMARY-PORT under MASTER-NAME, quorum 2 (1 with one sentinel),
# quick to notice a failure (down-after 1000 ms, failover-timeout 5000 ms);
# waits until each knows the master.  Sets SENTINEL_PORTS ("p1 p2 ...") and
# SENTINEL_PIDS; the sentinels are stopped with the test.
start_sentinels() {
	_sn=$1; _sm=$2; _sp=$3; _q=2
	[ "$_sn" -lt 2 ] && _q=1
	SENTINEL_PORTS=""; SENTINEL_PIDS=""
	_k=1
	while [ $_k -le "$_sn" ]; do
		_port=$(free_port)
		_dir="$T/sentinel$_k"
		mkdir -p "$_dir" || return 1
		cat > "$_dir/sentinel.conf" <<EOC
port $_port
bind 127.0.0.1
dir $_dir
logfile $_dir/sentinel.log
sentinel monitor $_sm 127.0.0.1 $_sp $_q
sentinel down-after-milliseconds $_sm 1000
sentinel failover-timeout $_sm 5000
sentinel parallel-syncs $_sm 1
EOC
		"$REDIS_SERVER" "$_dir/sentinel.conf" --sentinel --daemonize no &
		_pid=$!
		track $_pid
		SENTINEL_PORTS="$SENTINEL_PORTS $_port"
		SENTINEL_PIDS="$SENTINEL_PIDS $_pid"
		_k=$((_k + 1))
	done
	SENTINEL_PORTS=${SENTINEL_PORTS# }
	SENTINEL_PIDS=${SENTINEL_PIDS# }
	for _port in $SENTINEL_PORTS; do
		_i=0
		until "${REDIS_CLI:-redis-cli}" -h 127.0.0.1 -p "$_port" \
			SENTINEL get-master-addr-by-name "$_sm" 2>/dev/null | grep -qx "$_sp"; do
			_i=$((_i + 1)); [ $_i -ge 100 ] && return 1; sleep 0.1
		done
	done
}

# wait_sentinels_ready MASTER-NAME REPLICAS SENTINELS: wait (up to 20 s) until
# every sentinel of start_sentinels sees REPLICAS replicas in sync and the
# other SENTINELS - 1 sentinels, so that a failover can happen.
wait_sentinels_ready() {
	for _port in $SENTINEL_PORTS; do
		_i=0
		until [ "$("${REDIS_CLI:-redis-cli}" -h 127.0.0.1 -p "$_port" SENTINEL replicas "$1" 2>/dev/null |
			grep -c '^master-link-status$')" -ge "$2" ] &&
		      [ "$("${REDIS_CLI:-redis-cli}" -h 127.0.0.1 -p "$_port" SENTINEL sentinels "$1" 2>/dev/null |
			grep -c '^runid$')" -ge $(($3 - 1)) ]; do
			_i=$((_i + 1)); [ $_i -ge 200 ] && return 1; sleep 0.1
		done
	done
}

# bench_world MESSAGES: the benchmarks' world in $T: the load corpus
# (tests/bench-corpus.py) in $T/corpus, its DNS zone served by the test DNS
# server, and a throw-away Redis with a few mailbox policies (some recipients
# with their own thresholds, the domain's, a white-listed sender domain).
# Returns non-zero with a message on stderr when something does not start.
bench_world() {
	"$PYTHON3" "$top_srcdir/tests/bench-corpus.py" "$DATA/dkim" "$T/corpus" --messages "$1" >/dev/null ||
		{ echo "bench: cannot generate the corpus" >&2; return 1; }
	start_dns "$T/corpus/bench.zone" || { echo "bench: cannot start the DNS server" >&2; return 1; }
	start_redis || { echo "bench: cannot start $REDIS_SERVER" >&2; return 1; }
	_i=0
	while [ $_i -lt 100 ]; do
		[ $((_i % 10)) -eq 0 ] && redis_cli HSET "hm:thr:rcpt$_i@example.org" tag 5 reject 12 >/dev/null
		_i=$((_i + 1))
	done
	redis_cli HSET hm:thr:@example.org tag 7 reject 14 >/dev/null
	redis_cli SADD hm:wl:@example.org '*@d03.example.com' >/dev/null
}

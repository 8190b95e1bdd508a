# tests/sendmail-instance.sh - a private Sendmail instance for end-to-end
# tests (sourced after tests/lib.sh, POSIX sh).
#
# Debian's sendmail-bin cannot be installed beside Postfix (both are the
# mail-transport-agent), so it is not installed: `contrib/install-deps.sh
# --test` unpacks sendmail-bin, sendmail-base and sendmail-cf under
# $SENDMAIL_ROOT, and the instance runs that binary with a sendmail.cf built
# here with m4 from those packages' macros (cf/m4/cf.m4), as an operator
# builds one from a sendmail.mc.
#
# The instance lives in one scratch directory: its .mc and .cf, queue,
# pidfile, alias file, a transcript of its SMTP traffic (-X: Sendmail logs
# only to syslog, which may not run) and a mail sink: the local mailer is a
# small script (FEATURE(local_procmail) with our own path) that stores each
# message for NAME at a local domain in $SM_MAIL/NAME/new/.  Local domains
# are example.com, example.org and example.net, so even a bounce stays here;
# mail to bulk@ goes to /dev/null.
# SMTP AUTH (PLAIN) checks users against a sasldb of the instance's.
# It listens on 127.0.0.1 only, on a port the test chooses, in the
# foreground (-bD), and is stopped by PID.
#
# Sendmail resolves its own host name before it reads any configuration,
# and sleeps a minute when it cannot qualify it; it resolves clients and
# mail domains through the system's resolver.  So it runs in mount and UTS
# namespaces of its own (unshare): its host name is mx.example.net, it sees
# the instance's /etc/hosts (127.0.0.1 is localhost and mx.example.net) and
# an /etc/resolv.conf naming 127.0.0.1 and its own SASL configuration
# directory, and its service switch resolves hosts from files only.  No lookup leaves loopback and no file of the
# system is written.
#
#   sm_unavailable          print why Sendmail cannot run here; status 0 if
#                           it cannot (the caller skips), 1 if it can
#   sm_create DIR PORT      write the instance's files under DIR, listening
#                           on 127.0.0.1:PORT
#   sm_add_listener PORT NAME [OPTIONS]
#                           one more smtpd on 127.0.0.1:PORT, with more
#                           DaemonPortOptions (InputMailFilters=...)
#   sm_configure [MCFILE]   build sendmail.cf from the base .mc plus MCFILE's
#                           lines (the milter's), before sm_start
#   sm_auth_unavailable     print why SMTP AUTH cannot work here; status 0
#                           if it cannot
#   sm_add_user USER PASSWORD
#                           a user who may log in (AUTH PLAIN) with PASSWORD
#   sm_start / sm_stop      start (and wait until it answers) / stop it
#   sm_delivered NAME N     wait until NAME's mailbox holds N messages
#   sm_mailbox NAME         the messages delivered to NAME, a path a line
#   sm_show_log             the transcript's and daemon's last lines, as
#                           TAP comments
#
# Needs root (Sendmail binds, runs the mailer and unshares as root), m4,
# unshare and mount (util-linux).  Set on sm_create: SM_DIR, SM_MAIL,
# SM_PORT; on sm_start: SM_PID (tracked, so lib.sh's exit handler stops the
# instance even when the test dies half-way).

: "${SENDMAIL_ROOT:=/var/cache/hosterra-milter-test/sendmail}"
SENDMAIL_BIN=$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail
SENDMAIL_CF=$SENDMAIL_ROOT/usr/share/sendmail/cf

# unshare ... sh -c "$_SM_NS" sm-ns "$SM_DIR" COMMAND...: COMMAND in the
# instance's namespaces (after sm_create).  Called as a simple command, so
# that with "&" the PID in $! is COMMAND's (unshare and sh exec it).
# shellcheck disable=SC2016 # expanded by that sh, not here
_SM_NS='d=$1; shift
mount --bind "$d/hosts" /etc/hosts || exit 71
mount --bind "$d/resolv.conf" /etc/resolv.conf || exit 71
for c in /etc/sasl2 /etc/sasl /usr/lib/sasl2; do
	[ ! -d $c ] || mount --bind "$d/sasl2" $c || exit 71
done
hostname mx.example.net || exit 71
exec "$@"'

sm_unavailable() {
	if [ "$(id -u)" != 0 ]; then
		echo "a private Sendmail needs root (it binds, runs its mailer and unshares as root)"
	elif [ ! -x "$SENDMAIL_BIN" ] || [ ! -f "$SENDMAIL_CF/m4/cf.m4" ]; then
		echo "no unpacked Sendmail in $SENDMAIL_ROOT (contrib/install-deps.sh --test unpacks it)"
	elif ! command -v m4 >/dev/null; then
		echo "no m4 (Debian: m4) to build sendmail.cf"
	elif ldd "$SENDMAIL_BIN" 2>/dev/null | grep -q 'not found'; then
		echo "libraries of $SENDMAIL_BIN missing: $(ldd "$SENDMAIL_BIN" | grep 'not found' | tr -s ' \n' ' ')"
	elif ! unshare --mount --uts --propagation private \
		sh -c 'hostname probe.example && mount --bind /etc/hosts /etc/hosts' 2>/dev/null; then
		echo "cannot give Sendmail namespaces of its own (unshare --mount --uts refused)"
	else
		return 1
	fi
	return 0
}

sm_create() {
	SM_DIR=$1 SM_PORT=$2
	SM_LISTENERS="dnl"
	SM_MAIL=$SM_DIR/mail
	mkdir -p "$SM_DIR/queue" "$SM_MAIL" || return 1
	: > "$SM_DIR/sendmail.out" || return 1
	# Sendmail's view of the world: itself and nothing else.
	printf '127.0.0.1 localhost\n127.0.0.1 mx.example.net\n::1 localhost\n::1 mx.example.net\n' \
		> "$SM_DIR/hosts" || return 1
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$SM_DIR/resolv.conf" || return 1
	printf 'hosts files\naliases files\n' > "$SM_DIR/service.switch" || return 1
	# bulk: timed messages, thrown away (Sendmail's file mailer).
	printf 'postmaster: root\nMAILER-DAEMON: postmaster\nbulk: /dev/null\n' \
		> "$SM_DIR/aliases" || return 1
	# SMTP AUTH (Cyrus SASL, application "Sendmail"): users in a sasldb
	# of the instance's (sm_add_user); the namespace shows this directory
	# in place of each of libsasl2's configuration directories that exist
	# (Debian: /usr/lib/sasl2 always), where it looks for Sendmail.conf.
	mkdir -p "$SM_DIR/sasl2" || return 1
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: PLAIN\n' \
		"$SM_DIR/sasl2/sasldb2" > "$SM_DIR/sasl2/Sendmail.conf" || return 1
	# The local mailer: one call per recipient (no "m" flag), the message
	# on stdin, written whole before it appears in new/.
	cat > "$SM_DIR/deliver" <<EOF || return 1
#!/bin/sh
# deliver USER: store the message on stdin in $SM_MAIL/USER/new/.
case \$1 in ''|*/*|.*) exit 67;; esac
d=$SM_MAIL/\$1
mkdir -p "\$d/tmp" "\$d/new" || exit 73
f=\$(mktemp "\$d/tmp/msg.XXXXXX") || exit 73
cat > "\$f" && mv "\$f" "\$d/new/" || exit 74
EOF
	chmod 755 "$SM_DIR/deliver"
}

sm_configure() {
	# The local mailer is the instance's script, run as root ("S": no
	# user to switch to) for any local part ("-w": no passwd lookup).
	# TrustStickyBit: the scratch directory is under /tmp, world-writable
	# but sticky, where Sendmail otherwise refuses its alias map and a
	# milter's unix socket.  No ident lookups, no MSA port, no load
	# limits (a busy test machine must not make it queue or refuse).
	{
		cat <<EOF
divert(-1)
# Private test instance: nothing here refers to the system's Sendmail.
divert(0)dnl
include(\`$SENDMAIL_CF/m4/cf.m4')dnl
VERSIONID(\`hosterra-milter test instance')dnl
OSTYPE(\`linux')dnl
FEATURE(\`local_procmail', \`$SM_DIR/deliver', \`deliver \$u', \`SPn')dnl
MODIFY_MAILER_FLAGS(\`LOCAL', \`-w')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
define(\`confDOMAIN_NAME', \`mx.example.net')dnl
define(\`QUEUE_DIR', \`$SM_DIR/queue')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM_DIR/statistics')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`ALIAS_FILE', \`$SM_DIR/aliases')dnl
define(\`confFORWARD_PATH', \`')dnl
define(\`confDEAD_LETTER_DROP', \`$SM_DIR/dead.letter')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')dnl
define(\`confHOSTS_FILE', \`$SM_DIR/hosts')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confAUTH_MECHANISMS', \`PLAIN')dnl
TRUST_AUTH_MECH(\`PLAIN')dnl
define(\`confQUEUE_LA', \`999')dnl
define(\`confREFUSE_LA', \`999')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT, Addr=127.0.0.1, Name=MTA')dnl
$SM_LISTENERS
LOCAL_DOMAIN(\`example.com example.org example.net')dnl
EOF
		[ $# -gt 0 ] && cat "$1"
		printf 'MAILER(`local'"'"')dnl\nMAILER(`smtp'"'"')dnl\n'
	} > "$SM_DIR/sendmail.mc" || return 1
	if ! m4 "$SM_DIR/sendmail.mc" > "$SM_DIR/sendmail.cf" 2> "$SM_DIR/m4.err" ||
	   [ -s "$SM_DIR/m4.err" ]; then
		echo "m4 $SM_DIR/sendmail.mc:"; cat "$SM_DIR/m4.err"
		return 1
	fi
	# newaliases: the alias map must exist, or every message waits in the
	# queue ("alias database unavailable").
	if ! unshare --mount --uts --propagation private sh -c "$_SM_NS" sm-ns "$SM_DIR" \
		"$SENDMAIL_BIN" -C "$SM_DIR/sendmail.cf" -bi \
		</dev/null > "$SM_DIR/newaliases.out" 2>&1 || [ ! -f "$SM_DIR/aliases.db" ]; then
		echo "sendmail -bi:"; cat "$SM_DIR/newaliases.out"
		return 1
	fi
}

sm_add_listener() {
	SM_LISTENERS="$SM_LISTENERS
DAEMON_OPTIONS(\`Port=$1, Addr=127.0.0.1, Name=$2${3:+, }${3:-}')dnl"
}

sm_auth_unavailable() {
	if [ ! -d /usr/lib/sasl2 ]; then
		echo "no /usr/lib/sasl2 (Debian: libsasl2-2) to show Sendmail.conf at"
	elif ! command -v saslpasswd2 >/dev/null; then
		echo "no saslpasswd2 (Debian: sasl2-bin) to make the sasldb"
	elif ! ls /usr/lib/*/sasl2/libplain.so* /usr/lib/*/sasl2/libsasldb.so* >/dev/null 2>&1; then
		echo "no SASL PLAIN or sasldb plugin (Debian: libsasl2-modules, libsasl2-modules-db)"
	else
		return 1
	fi
	return 0
}

sm_add_user() {
	printf '%s' "$2" | saslpasswd2 -f "$SM_DIR/sasl2/sasldb2" -p -c -u mx.example.net \
		-a Sendmail "$1"
}

_sm_listening() {
	"$PYTHON3" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
f = s.makefile("rb")
ok = f.readline().startswith(b"220")
s.sendall(b"QUIT\r\n")
sys.exit(0 if ok else 1)' "$1"
}

_sm_ours() {
	[ "$(sed -n 1p "$SM_DIR/sendmail.pid" 2>/dev/null)" = "$SM_PID" ]
}

sm_start() {
	rm -f "$SM_DIR/sendmail.pid"
	# In the foreground (-bD): the PID is the daemon's, nothing forks away.
	# stdin/stdout/stderr to files, never the harness's pipe.
	unshare --mount --uts --propagation private sh -c "$_SM_NS" sm-ns "$SM_DIR" \
		"$SENDMAIL_BIN" -C "$SM_DIR/sendmail.cf" -bD -X "$SM_DIR/transcript" \
		</dev/null >>"$SM_DIR/sendmail.out" 2>&1 &
	SM_PID=$!
	track "$SM_PID"
	# Ours answers, not a leftover on the same port: the daemon wrote
	# its PID once it had bound its socket.
	wait_for _sm_ours && wait_for _sm_listening "$SM_PORT" && return 0
	echo "sendmail $SM_PID on port $SM_PORT does not answer"
	cat "$SM_DIR/sendmail.out"
	return 1
}

sm_stop() {
	[ -n "${SM_PID:-}" ] || return 0
	kill -TERM "$SM_PID" 2>/dev/null
	_sm_i=0
	while kill -0 "$SM_PID" 2>/dev/null && [ $_sm_i -lt 100 ]; do
		sleep 0.1; _sm_i=$((_sm_i + 1))
	done
	if kill -0 "$SM_PID" 2>/dev/null; then
		echo "sendmail $SM_PID still running 10 s after SIGTERM"
		return 1
	fi
	wait "$SM_PID" 2>/dev/null
	SM_PID=""
}

sm_mailbox() {
	find "$SM_MAIL/$1/new" -type f 2>/dev/null
}

_sm_count() {
	[ "$(sm_mailbox "$1" | wc -l)" -ge "$2" ]
}

sm_delivered() {
	wait_for _sm_count "$1" "$2"
}

sm_show_log() {
	for _sm_l in "$SM_DIR/sendmail.out" "$SM_DIR/transcript"; do
		[ -s "$_sm_l" ] || continue
		diag "--- $_sm_l: last lines"
		tail -n 30 "$_sm_l" | sed 's/^/#   /'
	done
}

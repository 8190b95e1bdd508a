# tests/postfix-instance.sh - a private Postfix instance for end-to-end tests
# (sourced after tests/lib.sh, POSIX sh plus "local").
#
# The instance lives entirely in one scratch directory: its own
# config_directory, queue_directory, data_directory, log file (maillog_file,
# since syslog may not run) and a Maildir sink that the virtual(8) delivery
# agent writes for every recipient under example.com.  It listens on
# 127.0.0.1 only, on ports the test chooses, and every service runs without
# chroot so absolute paths (a milter's unix socket) work.  Nothing outside the
# scratch directory is written; the system's Postfix is neither read for
# settings nor touched.
#
#   pf_unavailable            print why Postfix cannot run here; status 0 if
#                             it cannot (the caller skips), 1 if it can
#   pf_create DIR NAME...     write the instance's files under DIR, with a
#                             mailbox NAME@example.com for each NAME; DIR's
#                             parents must be searchable by user "postfix"
#   pf_add_smtpd PORT [OPT]   add an smtpd listener on 127.0.0.1:PORT; each
#                             OPT is a "-o name=value" override (no spaces)
#   pf_pipe_delivery USER ARGV...
#                             deliver example.com through a pipe(8) command
#                             instead of virtual(8): ARGV runs as USER (not
#                             root nor postfix), once per recipient; pipe(8)
#                             expands ${user}, ${sender}, ${recipient}...
#   pf_start / pf_stop        start (and wait until it listens) / stop it
#   pf_delivered MAILBOX N    wait until MAILBOX's Maildir holds N messages
#   pf_show_log               the instance's log, as TAP comments
#
# Needs root, Postfix >= 3.4, the "postfix" user and the "postdrop" group.
# Set on pf_create: PF_DIR, PF_CONF (config directory), PF_LOG (its log),
# PF_MAIL (the Maildir base: mail to NAME@example.com lands in
# $PF_MAIL/NAME/new/).  Mail to anywhere else is discarded, so no DNS lookup
# or outbound connection ever happens.  pf_start tracks the master's PID so lib.sh's exit
# handler stops the instance even when the test dies half-way.

: "${POSTFIX:=/usr/sbin/postfix}"
PF_PORTS=""

pf_unavailable() {
	if [ "$(id -u)" != 0 ]; then
		echo "a private Postfix instance needs root (master(8) runs as root)"
	elif [ ! -x "$POSTFIX" ]; then
		echo "no Postfix at $POSTFIX"
	elif ! id postfix >/dev/null 2>&1; then
		echo "no 'postfix' user"
	elif ! getent group postdrop >/dev/null 2>&1; then
		echo "no 'postdrop' group"
	else
		# Built-in defaults only (-d): the system's main.cf is not our business.
		_pf_postconf=${POSTFIX%/*}/postconf
		_pf_daemon_dir=$("$_pf_postconf" -dh daemon_directory 2>/dev/null)
		_pf_version=$("$_pf_postconf" -dh mail_version 2>/dev/null)
		if [ ! -x "$_pf_daemon_dir/master" ]; then
			echo "no Postfix master(8) in '$_pf_daemon_dir'"
		elif ! printf '%s\n' "$_pf_version" | awk -F. '{ exit !($1 > 3 || ($1 == 3 && $2 >= 4)) }'; then
			# maillog_file (the log without syslog) came with 3.4.
			echo "Postfix '$_pf_version' is older than 3.4"
		else
			return 1
		fi
	fi
	return 0
}

pf_create() {
	PF_DIR=$1; shift
	PF_CONF=$PF_DIR/etc
	PF_LOG=$PF_DIR/postfix.log
	PF_MAIL=$PF_DIR/mail
	mkdir -p "$PF_CONF" "$PF_DIR/queue" "$PF_DIR/data" "$PF_MAIL" || return 1
	# Daemons run as "postfix": they reach the scratch dir by absolute path
	# (data_directory, maillog_file, a milter socket) and write the Maildir.
	chmod 755 "$PF_DIR" || return 1
	chown postfix "$PF_DIR/data" "$PF_MAIL" || return 1
	if command -v runuser >/dev/null && ! runuser -u postfix -- test -w "$PF_MAIL"; then
		echo "user postfix cannot reach $PF_MAIL (a parent directory not searchable?)"
		return 1
	fi
	: > "$PF_LOG" || return 1
	_pf_uid=$(id -u postfix) _pf_gid=$(id -g postfix)
	cat > "$PF_CONF/main.cf" <<EOF
# Private test instance: nothing here refers to the system's Postfix.
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
myhostname = mx.example.net
mydomain = example.net
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
# No DNS anywhere: loopback client, local delivery only.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = discard:not delivered outside the test instance
relay_transport = discard:not delivered outside the test instance
biff = no
smtpd_banner = \$myhostname ESMTP test instance
# Deliver every example.com recipient into its own Maildir under the scratch dir.
virtual_mailbox_domains = example.com
virtual_mailbox_base = $PF_MAIL
virtual_mailbox_maps = texthash:$PF_CONF/mailboxes
virtual_minimum_uid = 1
virtual_uid_maps = static:$_pf_uid
virtual_gid_maps = static:$_pf_gid
# A test's messages must not wait on back-off timers.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# The milter (per listener in master.cf, see pf_add_smtpd).
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 5s
EOF
	# texthash: is built in and read as text (no postmap, no map package).
	for _pf_m in "$@"; do printf '%s@example.com %s/\n' "$_pf_m" "$_pf_m"; done \
		> "$PF_CONF/mailboxes"
	cat > "$PF_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

pf_add_smtpd() {
	_pf_port=$1; shift
	{
		printf '127.0.0.1:%s inet n - n - - smtpd' "$_pf_port"
		for _pf_o in "$@"; do printf ' %s' "$_pf_o"; done
		printf '\n'
	} >> "$PF_CONF/master.cf"
	PF_PORTS="$PF_PORTS $_pf_port"
}

pf_pipe_delivery() {
	_pf_user=$1; shift
	{
		printf 'hmpipe    unix  -       n       n       -       -       pipe\n'
		printf '  flags=DRhu user=%s argv=' "$_pf_user"
		printf '%s' "$1"; shift
		for _pf_a in "$@"; do printf ' %s' "$_pf_a"; done
		printf '\n'
	} >> "$PF_CONF/master.cf"
	# One recipient per command, so ${user} names one mailbox.
	"${POSTFIX%/*}/postconf" -c "$PF_CONF" -e virtual_transport=hmpipe \
		hmpipe_destination_recipient_limit=1
}

_pf_listening() {
	"$PYTHON3" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
f = s.makefile("rb")
sys.exit(0 if f.readline().startswith(b"220") else 1)' "$1"
}

pf_start() {
	# stdin/stdout/stderr to files: master(8) outlives this command and
	# must not hold the test harness's pipe open.
	if ! "$POSTFIX" -c "$PF_CONF" start </dev/null >"$PF_DIR/start.out" 2>&1; then
		cat "$PF_DIR/start.out"
		return 1
	fi
	_pf_pid=$(sed -n '1s/ //gp' "$PF_DIR/queue/pid/master.pid" 2>/dev/null)
	case $_pf_pid in
	''|*[!0-9]*) echo "no master.pid after start"; cat "$PF_DIR/start.out"; return 1;;
	esac
	PF_MASTER_PID=$_pf_pid
	track "$PF_MASTER_PID"
	for _pf_p in $PF_PORTS; do
		wait_for _pf_listening "$_pf_p" || { echo "smtpd on port $_pf_p does not answer"; return 1; }
	done
}

pf_stop() {
	[ -n "${PF_MASTER_PID:-}" ] || return 0
	"$POSTFIX" -c "$PF_CONF" stop </dev/null >>"$PF_DIR/start.out" 2>&1
	_pf_i=0
	while kill -0 "$PF_MASTER_PID" 2>/dev/null && [ $_pf_i -lt 100 ]; do
		sleep 0.1; _pf_i=$((_pf_i + 1))
	done
	if kill -0 "$PF_MASTER_PID" 2>/dev/null; then
		echo "master $PF_MASTER_PID still running after 'postfix stop'"
		return 1
	fi
	PF_MASTER_PID=""
}

_pf_count() {
	[ "$(find "$PF_MAIL/$1/new" -type f 2>/dev/null | wc -l)" -ge "$2" ]
}

pf_delivered() {
	wait_for _pf_count "$1" "$2"
}

pf_show_log() {
	sed 's/^/#   postfix: /' "$PF_LOG"
}

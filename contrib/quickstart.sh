#!/bin/sh
# contrib/quickstart.sh - a working hosterra-milter on a fresh Debian 12, as
# root: the dependencies, a build installed under /usr/local, the milter on
# its default configuration (unix socket, unprivileged user), and a private
# Postfix instance on 127.0.0.1:10025 that passes mail through it and
# delivers into Maildirs under /var/lib/hosterra-milter-demo.  Then it sends
# a sample message and shows the headers the milter added.
#
# Run it again at any time: it rebuilds, restarts the milter and the demo
# Postfix, and sends the sample again.  "quickstart.sh stop" stops both.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
DEMO=/var/lib/hosterra-milter-demo
PF=$DEMO/postfix
CONF=/etc/hosterra-milter/hosterra-milter.conf
PIDFILE=/run/hosterra-milter/hosterra-milter.pid
PORT=10025
PYTHON3=/usr/bin/python3

stop_all() {
	[ -f "$PF/etc/main.cf" ] && postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
	if [ -s "$PIDFILE" ]; then
		pid=$(cat "$PIDFILE")
		kill "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	fi
}
if [ "${1:-}" = stop ]; then stop_all; echo "stopped"; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "quickstart: run me as root" >&2; exit 1; }

echo "==> dependencies"
"$top/contrib/install-deps.sh" --test

echo "==> build and install under /usr/local (config in /etc/hosterra-milter)"
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p build-quickstart && cd build-quickstart
[ -f Makefile ] || ../configure -q --prefix=/usr/local --sysconfdir=/etc
make -s -j2 >/dev/null
make -s install >/dev/null

echo "==> user, runtime directory, Postfix's access to the socket"
id hosterra-milter >/dev/null 2>&1 ||
	useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin hosterra-milter
adduser --quiet postfix hosterra-milter >/dev/null 2>&1 || usermod -a -G hosterra-milter postfix
install -d -o hosterra-milter -g hosterra-milter -m 0750 /run/hosterra-milter

echo "==> the milter"
stop_all
/usr/local/sbin/hosterra-milter -t -c "$CONF"
/usr/local/sbin/hosterra-milter -c "$CONF"
echo "    started (pid $(cat "$PIDFILE")), logging to syslog facility mail"

echo "==> a private Postfix on 127.0.0.1:$PORT"
mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$DEMO/mail"
chown postfix "$PF/data" "$DEMO/mail"
cat > "$PF/etc/main.cf" <<CF
compatibility_level = 3.6
config_directory = $PF/etc
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $DEMO/postfix.log
myhostname = mx.example.org
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = discard:demo instance delivers locally only
relay_transport = discard:demo instance delivers locally only
virtual_mailbox_domains = example.org
virtual_mailbox_base = $DEMO/mail
virtual_mailbox_maps = texthash:$PF/etc/mailboxes
virtual_minimum_uid = 1
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
# The demo client pretends to be a remote MX (XCLIENT), as mail from
# 127.0.0.1 would be "internal" and not judged.
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_milters = unix:/run/hosterra-milter/hosterra-milter.sock
non_smtpd_milters = unix:/run/hosterra-milter/hosterra-milter.sock
milter_default_action = tempfail
milter_protocol = 6
CF
printf 'bob@example.org bob/\n' > "$PF/etc/mailboxes"
sed -n '/^pickup/,/^postlog/p' "$top/tests/postfix-instance.sh" > "$PF/etc/master.cf"
printf '127.0.0.1:%s inet n - n - - smtpd\n' "$PORT" >> "$PF/etc/master.cf"
touch "$DEMO/postfix.log"
postfix -c "$PF/etc" start >/dev/null 2>&1
sleep 1

echo "==> a sample message from a forged sender (SPF/DKIM/DMARC are checked live)"
"$PYTHON3" - "$PORT" <<'PY'
import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=120)
s.ehlo("demo.example.net")
s.docmd("XCLIENT", "ADDR=198.51.100.7 NAME=[UNAVAILABLE] HELO=demo.example.net")
s.ehlo("demo.example.net")
msg = ("From: Demo <demo@example.net>\r\nTo: bob@example.org\r\n"
       "Subject: hosterra-milter quick start\r\nDate: %s\r\n"
       "Message-ID: <quickstart.%d@example.net>\r\n"
       "X-Spam-Flag: YES\r\nX-Spam-Status: pre-tagged by the sender\r\n\r\n"
       "Hello from the quick start.\r\n") % (time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), time.time())
print("    " + repr(s.sendmail("<demo@example.net>", ["<bob@example.org>"], msg)) + " (accepted)")
s.quit()
PY
i=0
while [ -z "$(ls "$DEMO/mail/bob/new" 2>/dev/null)" ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
last=$(ls -t "$DEMO/mail/bob/new" | head -n 1)
echo "==> delivered to $DEMO/mail/bob/new/$last; its headers:"
sed '/^$/q' "$DEMO/mail/bob/new/$last" | sed 's/^/    /'
echo
echo "The milter's socket: unix:/run/hosterra-milter/hosterra-milter.sock"
echo "Its configuration:   $CONF  (check: hosterra-milter -t -c $CONF)"
echo "Stop the demo:       $0 stop"

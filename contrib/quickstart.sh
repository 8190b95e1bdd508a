#!/bin/sh
# contrib/quickstart.sh - a working hosterra-milter on a fresh Debian 12, as
# root: the dependencies, a build installed under /usr/local, a local Redis
# holding the per-mailbox policy, the milter on its default configuration
# (unix socket, unprivileged user), and a private Postfix instance on
# 127.0.0.1:10025 that passes mail through it and delivers into Maildirs
# under /var/lib/hosterra-milter-demo.  Then it sends sample messages that
# end in the three outcomes (accepted, tagged into Junk, rejected) and shows them.
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
	[ -s "$DEMO/redis.pid" ] && kill "$(cat "$DEMO/redis.pid")" 2>/dev/null || true
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

stop_all
echo "==> Redis on 127.0.0.1:6379, with a demo policy"
mkdir -p "$DEMO"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
		--pidfile "$DEMO/redis.pid" --logfile "$DEMO/redis.log" --dir "$DEMO"
	i=0
	until redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 50 ] || { echo "redis-server did not start" >&2; exit 1; }
		sleep 0.1
	done
fi
# bob's filter is strict (tag from 3); the domain refuses one sender outright.
redis-cli HSET hm:thr:bob@example.org tag 3 reject 12 >/dev/null
redis-cli SADD hm:bl:@example.org 'spammer@example.net' >/dev/null

echo "==> the milter"
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
printf 'bob@example.org bob/\nalice@example.org alice/\n' > "$PF/etc/mailboxes"
sed -n '/^pickup/,/^postlog/p' "$top/tests/postfix-instance.sh" > "$PF/etc/master.cf"
printf '127.0.0.1:%s inet n - n - - smtpd\n' "$PORT" >> "$PF/etc/master.cf"
touch "$DEMO/postfix.log"
postfix -c "$PF/etc" start >/dev/null 2>&1
sleep 1

echo "==> three sample messages (SPF, DKIM and DMARC are checked live)"
"$PYTHON3" - "$PORT" "$DEMO/mail" <<'PY'
import os, smtplib, sys, time
def delivered(rcpt, subject):
    """The delivered copy's header block, once Postfix has written it."""
    new = os.path.join(sys.argv[2], rcpt.split("@")[0], "new")
    for _ in range(150):
        for name in os.listdir(new) if os.path.isdir(new) else []:
            with open(os.path.join(new, name), "rb") as f:
                head = f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace")
            if "Subject: " + subject in head:
                return head
        time.sleep(0.2)
    return None
def send(sender, rcpt, subject):
    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=120)
    s.ehlo("demo.example.net")
    # Pretend to be a remote MX: mail from 127.0.0.1 is "internal" and not judged.
    s.docmd("XCLIENT", "ADDR=198.51.100.7 NAME=[UNAVAILABLE] HELO=demo.example.net")
    s.ehlo("demo.example.net")
    msg = ("From: Demo <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
           "Message-ID: <quickstart.%f@example.net>\r\n"
           "X-Spam-Flag: YES\r\nX-Spam-Status: pre-tagged by the sender\r\n\r\n"
           "Hello from the quick start.\r\n") % (sender, rcpt, subject,
           time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), time.time())
    try:
        s.sendmail("<%s>" % sender, ["<%s>" % rcpt], msg)
        head = delivered(rcpt, subject)
        if head is None:
            outcome = "accepted, not delivered yet"
        elif "\nX-Spam-Flag: YES" in head:
            outcome = "tagged (X-Spam-Flag: YES -> Junk)"
        else:
            outcome = "accepted (INBOX)"
        print("    %-40s -> %-18s %s" % (subject, rcpt, outcome))
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        print("    %-40s -> %-18s refused: %d %s" % (subject, rcpt, code, text.decode()))
    s.quit()
send("demo@example.net", "alice@example.org", "1. to alice: default thresholds")
send("demo@example.net", "bob@example.org", "2. to bob: his strict thresholds")
send("spammer@example.net", "alice@example.org", "3. from a domain-blacklisted sender")
PY
for box in alice bob; do
	i=0
	while [ -z "$(ls "$DEMO/mail/$box/new" 2>/dev/null)" ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
	last=$(ls -t "$DEMO/mail/$box/new" | head -n 1)
	echo "==> $box's copy ($DEMO/mail/$box/new/$last), our headers:"
	sed '/^$/q' "$DEMO/mail/$box/new/$last" | sed -n '/^Authentication-Results:/,/^Received:/p;/^X-Spam/,$p' |
		grep -v '^Received:' | sed 's/^/    /'
done
echo
echo "The milter's socket: unix:/run/hosterra-milter/hosterra-milter.sock"
echo "Its configuration:   $CONF  (check: hosterra-milter -t -c $CONF)"
echo "Stop the demo:       $0 stop"

#!/usr/bin/python3
"""smtp-send.py - a small SMTP client for the end-to-end tests.

Sends a message (a file with LF or CRLF line ends, dot-stuffed here) to an
SMTP server on loopback and prints the server's final reply.  With
--count N it sends the message N times in one session, timing each
end-of-DATA: from the moment the lone "." line is written to the moment the
server's reply to it has been read, and prints min / p50 / p90 / max in ms.
With --auth USER:PASSWORD it logs in (AUTH PLAIN) after EHLO.

The body and the "." line go out in two writes with TCP_NODELAY set, so
the timer starts when only the end-of-data marker is left to send and our
own Nagle never adds to what is measured.

Output (stdout), one "key=value ..." line per message, then for --count a
summary line:
    reply=250 text="2.0.0 Ok: queued as 4XyZ" queue_id=4XyZ
    timing n=40 min_ms=0.91 p50_ms=1.20 p90_ms=1.64 max_ms=2.10
The queue id is read from Postfix's reply as above and from Sendmail's
("2.0.0 6B60aTdD020061 Message accepted for delivery"); "-" otherwise.
Any refusal prints the stage and the reply instead:
    refused stage=MAIL reply=451 text="4.7.1 Service unavailable"

Exit status: 0 every message accepted, 4 a 4xx reply, 5 a 5xx reply,
1 any other failure (connection, protocol).

Standard library only; run with Debian's /usr/bin/python3.
"""

import argparse
import base64
import math
import re
import socket
import sys
import time


class Refused(Exception):
    def __init__(self, stage, code, text):
        super().__init__("%s %d %s" % (stage, code, text))
        self.stage, self.code, self.text = stage, code, text


class Session:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """Read one (possibly multi-line) reply: (code, text of last line)."""
        lines = []
        while True:
            line = self._line()
            if len(line) < 3 or not line[:3].isdigit():
                raise ConnectionError("malformed reply line %r" % line)
            lines.append(line)
            if len(line) == 3 or line[3] != "-":
                return int(line[:3]), line[4:]

    def send(self, data):
        self.sock.sendall(data)

    def command(self, stage, cmd, want):
        self.send(cmd.encode() + b"\r\n")
        code, text = self.reply()
        if code // 100 != want:
            raise Refused(stage, code, text)
        return code, text

    def close(self):
        try:
            self.send(b"QUIT\r\n")
            self.reply()
        except (OSError, ConnectionError):
            pass
        self.sock.close()


def load_message(path):
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    # Dot-stuffing (RFC 5321 4.5.2): the delivered copy shows it undone.
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)


def transaction(s, sender, rcpts, data):
    """One MAIL/RCPT/DATA; returns (code, text, seconds from "." to reply)."""
    s.command("MAIL", "MAIL FROM:<%s>" % sender, 2)
    for r in rcpts:
        s.command("RCPT", "RCPT TO:<%s>" % r, 2)
    s.command("DATA", "DATA", 3)
    s.send(data)
    t0 = time.perf_counter()
    s.send(b".\r\n")
    code, text = s.reply()
    elapsed = time.perf_counter() - t0
    if code // 100 != 2:
        raise Refused("EOD", code, text)
    return code, text, elapsed


def queue_id(text):
    """The queue id in a 250 reply to end of DATA, or "-"."""
    m = (re.search(r"queued as (\S+)", text) or
         re.match(r"\d\.\d+\.\d+ (\S+) Message accepted", text))
    return m.group(1) if m else "-"


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--helo", default="client.example.org")
    ap.add_argument("--auth", metavar="USER:PASSWORD",
                    help="authenticate (AUTH PLAIN) after EHLO")
    ap.add_argument("--from", dest="sender", default="sender@example.org")
    ap.add_argument("--to", dest="rcpts", action="append", required=True)
    ap.add_argument("--message", required=True, help="message file (headers, blank line, body)")
    ap.add_argument("--count", type=int, default=0,
                    help="send N times in one session and print end-of-DATA timing")
    ap.add_argument("--warmup", type=int, default=2,
                    help="with --count: untimed messages sent first")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    data = load_message(args.message)
    try:
        s = Session(args.host, args.port, args.timeout)
        code, text = s.reply()
        if code != 220:
            raise Refused("CONNECT", code, text)
        s.command("EHLO", "EHLO " + args.helo, 2)
        if args.auth:
            user, _, password = args.auth.partition(":")
            token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
            s.command("AUTH", "AUTH PLAIN " + token.decode(), 2)
        samples = []
        runs = args.warmup + args.count if args.count > 0 else 1
        for i in range(runs):
            code, text, elapsed = transaction(s, args.sender, args.rcpts, data)
            print('reply=%d text="%s" queue_id=%s' % (code, text, queue_id(text)))
            if args.count > 0 and i >= args.warmup:
                samples.append(elapsed * 1000.0)
        s.close()
    except Refused as e:
        print('refused stage=%s reply=%d text="%s"' % (e.stage, e.code, e.text))
        return 4 if e.code // 100 == 4 else 5 if e.code // 100 == 5 else 1
    except (OSError, ConnectionError) as e:
        print("error: %s" % e)
        return 1

    if samples:
        v = sorted(samples)
        print("timing n=%d min_ms=%.2f p50_ms=%.2f p90_ms=%.2f max_ms=%.2f"
              % (len(v), v[0], percentile(v, 50), percentile(v, 90), v[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

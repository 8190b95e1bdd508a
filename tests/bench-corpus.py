#!/usr/bin/python3
# tests/bench-corpus.py - the load corpus of the milter benchmark.
#
# Usage:  bench-corpus.py KEYDIR OUTDIR [--messages N] [--seed S]
#
# Writes OUTDIR/NNNNN.eml (N messages, default 1000, 2-50 KiB, CRLF), the
# envelope of each in OUTDIR/index (one line per message, tab-separated:
# file, MAIL FROM, RCPT TO, client IP, HELO) and OUTDIR/bench.zone, the DNS
# world the messages are judged in, for tests/dns-server.py:
#
#   twenty sender domains d00.example.com .. d19.example.com, each with its
#   own mix of SPF (-all, ~all, none), DMARC (p=reject, p=quarantine,
#   p=none, none) and a DKIM key (selector "bench", the test suite's RSA
#   2048 key from KEYDIR); clients 192.0.2.1-.40 with PTR records that
#   confirm (mx01.example.com ...).
#
# 85% of the messages are DKIM-signed (relaxed/relaxed, dkimpy; Debian:
# python3-dkim) by their From domain; the body is text, some with an HTML
# alternative, sizes spread evenly over 2-50 KiB.  Deterministic for a seed
# (but for the signatures' timestamps).

import argparse
import os
import random
import re
import sys
import time

import dkim

DOMAINS = 20
CLIENTS = 40
SPF = ["v=spf1 ip4:192.0.2.0/24 -all", "v=spf1 ip4:192.0.2.0/24 ~all", None,
       "v=spf1 ip4:198.51.100.0/24 -all"]
DMARC = ["v=DMARC1; p=reject", "v=DMARC1; p=quarantine", "v=DMARC1; p=none", None]
WORDS = ("the quarterly report invoice meeting project schedule please review attached "
         "budget update team customer order shipping account password security offer "
         "discount free limited time click here unsubscribe newsletter weekly summary "
         "release notes version server cluster deploy monitoring alert thanks regards").split()


def public_key(keydir):
    """The p= of the rsa2048 selector in KEYDIR/dkim.zone (strings joined)."""
    text = open(os.path.join(keydir, "dkim.zone")).read()
    m = re.search(r"^rsa2048\._domainkey\s+TXT\s+\((.*?)\)", text, re.S | re.M)
    if not m:
        sys.exit("bench-corpus: no rsa2048 key in %s/dkim.zone" % keydir)
    joined = "".join(re.findall(r'"([^"]*)"', m.group(1)))
    return re.search(r"p=([A-Za-z0-9+/=]+)", joined).group(1)


def zone(pubkey):
    lines = ["$TTL 3600", "$ORIGIN example.com.",
             "@ SOA ns1 hostmaster 2026120601 3600 600 86400 3600", "  NS ns1",
             "ns1 A 192.0.2.53"]
    for d in range(DOMAINS):
        name = "d%02d" % d
        lines.append("%s A 192.0.2.200" % name)
        spf, dmarc = SPF[d % len(SPF)], DMARC[(d // 2) % len(DMARC)]
        if spf:
            lines.append('%s TXT "%s"' % (name, spf))
        if dmarc:
            lines.append('_dmarc.%s TXT "%s"' % (name, dmarc))
        chunks = " ".join('"%s"' % pubkey[i:i + 200] for i in range(0, len(pubkey), 200))
        lines.append('bench._domainkey.%s TXT ( "v=DKIM1; k=rsa; p=" %s )' % (name, chunks))
    for c in range(1, CLIENTS + 1):
        lines.append("mx%02d A 192.0.2.%d" % (c, c))
    lines += ["", "$ORIGIN 2.0.192.in-addr.arpa.",
              "@ SOA ns1.example.com. hostmaster.example.com. 2026120601 3600 600 86400 3600",
              "  NS ns1.example.com."]
    for c in range(1, CLIENTS + 1):
        lines.append("%d PTR mx%02d.example.com." % (c, c))
    return "\n".join(lines) + "\n"


def body(rng, size):
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        out.append(line)
        n += len(line) + 2
    return out


def message(rng, i, domain, size):
    frm = "user%d@%s" % (rng.randint(1, 50), domain)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    head = ["From: Sender %d <%s>" % (i, frm), "To: rcpt%d@example.org" % (i % 100),
            "Subject: %s %d" % (" ".join(rng.choice(WORDS) for _ in range(5)), i),
            "Date: " + date, "Message-ID: <bench.%d.%d@%s>" % (i, rng.randint(0, 10**9), domain),
            "MIME-Version: 1.0"]
    text = body(rng, size - 400)
    if rng.random() < 0.3:
        b = "=_bench_%d" % i
        head.append('Content-Type: multipart/alternative; boundary="%s"' % b)
        half = len(text) // 2
        lines = ["--" + b, "Content-Type: text/plain; charset=us-ascii", ""] + text[:half] + \
                ["--" + b, "Content-Type: text/html; charset=us-ascii", "", "<html><body>"] + \
                ["<p>%s <a href=\"http://%s/x\">link</a></p>" % (t, domain) for t in text[half:]] + \
                ["</body></html>", "--%s--" % b]
    else:
        head.append("Content-Type: text/plain; charset=us-ascii")
        lines = text
    return frm, ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("keydir")
    ap.add_argument("outdir")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    key = open(os.path.join(a.keydir, "rsa2048.pem"), "rb").read()
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "bench.zone"), "w") as z:
        z.write(zone(public_key(a.keydir)))
    with open(os.path.join(a.outdir, "index"), "w") as idx:
        for i in range(a.messages):
            d = rng.randrange(DOMAINS)
            domain = "d%02d.example.com" % d
            size = 2048 + (48 * 1024 * i) // max(a.messages - 1, 1)
            frm, msg = message(rng, i, domain, size)
            if rng.random() < 0.85:
                msg = dkim.sign(msg, b"bench", domain.encode(), key,
                                canonicalize=(b"relaxed", b"relaxed"),
                                include_headers=[b"from", b"to", b"subject", b"date",
                                                 b"message-id"]) + msg
            name = "%05d.eml" % i
            with open(os.path.join(a.outdir, name), "wb") as f:
                f.write(msg)
            client = rng.randint(1, CLIENTS)
            idx.write("%s\t%s\trcpt%d@example.org\t192.0.2.%d\tmx%02d.example.com\n" %
                      (name, frm, i % 100, client, client))
    print("bench-corpus: %d messages in %s" % (a.messages, a.outdir))


if __name__ == "__main__":
    main()

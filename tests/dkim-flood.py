#!/usr/bin/python3
# tests/dkim-flood.py - write a message carrying many DKIM signatures, for
# the CPU bound of tests/dkim-flood.test.
#
# Usage:  dkim-flood.py KEY OUT BODY_KIB NSIGS [--valid-last] [--length]
#
# The message is From alice@example.net with a body of BODY_KIB KiB of text
# lines, signed once for real (d=example.net, s=rsa2048, relaxed/relaxed,
# rsa-sha256, with the suite's key KEY).  NSIGS - 1 more signatures are an
# attacker's: the same header with a forged b= and, one after the other,
# every distinct body canonicalization a verifier could be made to compute
# (c= simple or relaxed, a= rsa-sha256, ed25519-sha256 or rsa-sha1, an
# l= of its own), half of them claiming d=example.net (the From domain),
# half other domains.  They come first; the real one is the last header
# (--valid-last) or the first, so the test can check which ones are kept.
# --length: the real signature carries l= (the whole body).

import base64
import random
import sys

import dkim


def main():
    keyfile, outfile, kib, nsigs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    valid_last = "--valid-last" in sys.argv[5:]
    length = "--length" in sys.argv[5:]
    line = b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
    body = line * (kib * 1024 // len(line) + 1)
    headers = (b"From: Alice <alice@example.net>\r\n"
               b"To: bob@example.com\r\n"
               b"Subject: many signatures\r\n"
               b"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
               b"Message-ID: <flood@example.net>\r\n")
    msg = headers + b"\r\n" + body
    key = open(keyfile, "rb").read()
    real = dkim.sign(msg, b"rsa2048", b"example.net", key,
                     canonicalize=(b"relaxed", b"relaxed"), length=length,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    rng = random.Random(nsigs)
    forged = []
    canons = [b"simple/simple", b"relaxed/relaxed", b"relaxed/simple", b"simple/relaxed"]
    algs = [b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1"]
    for i in range(nsigs - 1):
        dom = b"example.net" if i % 2 == 0 else b"flood%d.example.org" % i
        b = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(256)))
        forged.append(b"DKIM-Signature: v=1; a=%s; c=%s; d=%s; s=rsa2048;\r\n"
                      b"\tl=%d; t=1704110400; h=from:to:subject:date:message-id;\r\n"
                      b"\tbh=%s;\r\n\tb=%s\r\n"
                      % (algs[i % 3], canons[i % 4], dom, len(body) - i,
                         base64.b64encode(bytes(32)), b))
    sigs = forged + [real] if valid_last else [real] + forged
    with open(outfile, "wb") as f:
        f.write(b"".join(sigs) + msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())

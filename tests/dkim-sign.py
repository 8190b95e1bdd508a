#!/usr/bin/python3
# tests/dkim-sign.py - write the DKIM test messages that tests/test-dkim
# verifies, signed with the test suite's own keys (tests/data/dkim/).
#
# Usage:  dkim-sign.py KEYDIR OUTDIR [--big-mib N]
#
# Writes OUTDIR/NAME.eml for every case below, CRLF line ends, signed by
# dkimpy (Debian: python3-dkim).  Signing happens at test time so that the
# signatures' t= is fresh; the keys and zone (KEYDIR/dkim.zone) are
# committed.  Every message is built from the same template; a case is a
# list of signatures (selector, key, algorithm, canonicalization, options)
# and optionally a change made after signing.  Keep the case names in step
# with the table in tests/test-dkim.c.

import argparse
import base64
import os
import sys
import time

import dkim
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import parse_pem_private_key
import nacl.encoding
import nacl.signing

DOMAIN = b"example.net"
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id", b"x-tight"]

# Header whitespace that simple canonicalization keeps and a milter that
# does not ask for SMFIP_HDR_LEADSPC loses: double spaces, a tab after the
# colon, no space at all, folded lines, trailing blanks.
HEADERS = (
    b"From: Alice Sender <alice@example.net>\r\n"
    b"To:  bob@example.com\r\n"
    b"Subject:\tA test message with\r\n"
    b"  a folded   subject line \r\n"
    b"\tand a third line\r\n"
    b"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
    b"Message-ID: <dkim-test@example.net>\r\n"
    b"X-Tight:value-without-space\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
)

BODY = (
    b"Hello Bob,\r\n"
    b"\r\n"
    b"this body has  double  spaces, trailing blanks   \r\n"
    b"\ta tab at the start of a line, and empty lines at the end.\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Alice\r\n"
    b"\r\n"
    b"\r\n"
)


def load_key(keydir, name):
    with open(os.path.join(keydir, name), "rb") as f:
        data = f.read()
    if name.startswith("ed25519"):
        # dkimpy wants the 32-byte seed, base64: the tail of the PKCS#8 DER.
        der = base64.b64decode(b"".join(
            l for l in data.splitlines() if not l.startswith(b"-----")))
        return base64.b64encode(der[-32:])
    return data


def sign(msg, selector, key, alg=b"rsa-sha256", canon=b"relaxed/relaxed",
         t=None, x=None, length=False, headers=SIGNED):
    """Return the DKIM-Signature header (bytes, CRLF-terminated) for msg.

    dkimpy's sign() fixes t= to now and has no x=, so the tags are built
    here and dkimpy only canonicalizes, hashes and signs (gen_header).
    """
    d = dkim.DKIM(msg, signature_algorithm=alg)
    if alg == b"ed25519-sha256":
        pk = nacl.signing.SigningKey(key, encoder=nacl.encoding.Base64Encoder)
    else:
        pk = parse_pem_private_key(key)
    policy = CanonicalizationPolicy.from_c_value(canon)
    body = policy.canonicalize_body(d.body)
    d.hasher = dkim.HASH_ALGORITHMS[alg]
    bh = base64.b64encode(d.hasher(body).digest())
    fields = [x_ for x_ in [
        (b"v", b"1"),
        (b"a", alg),
        (b"c", canon),
        (b"d", DOMAIN),
        (b"i", b"@" + DOMAIN),
        length and (b"l", str(len(body)).encode()),
        (b"q", b"dns/txt"),
        (b"s", selector),
        (b"t", str(t if t is not None else int(time.time())).encode()),
        x is not None and (b"x", str(x).encode()),
        (b"h", b":".join(headers)),
        (b"bh", bh),
        (b"b", b"0" * 60),
    ] if x_]
    value = d.gen_header(fields, headers, policy, b"DKIM-Signature", pk)
    return b"DKIM-Signature: " + value


def replace_tag(sighdr, tag, new):
    """Replace (new is bytes) or drop (new is None) one tag of a signature."""
    name, value = sighdr.split(b":", 1)
    parts = value.split(b";")
    out = []
    for p in parts:
        if p.strip().startswith(tag + b"="):
            if new is None:
                continue
            p = p[:p.index(tag + b"=")] + tag + b"=" + new
        out.append(p)
    res = name + b":" + b";".join(out)
    return res if res.endswith(b"\r\n") else res + b"\r\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("keydir")
    ap.add_argument("outdir")
    ap.add_argument("--big-mib", type=int, default=10)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)

    rsa2048 = load_key(a.keydir, "rsa2048.pem")
    rsa1024 = load_key(a.keydir, "rsa1024.pem")
    rsa512 = load_key(a.keydir, "rsa512.pem")
    ed = load_key(a.keydir, "ed25519.pem")
    now = int(time.time())
    msg = HEADERS + b"\r\n" + BODY

    def out(name, data):
        with open(os.path.join(a.outdir, name + ".eml"), "wb") as f:
            f.write(data)

    def signed(*sigs):
        """Prepend signatures, each computed over the original message."""
        return b"".join(sigs) + msg

    out("nosig", msg)
    out("relaxed", signed(sign(msg, b"rsa2048", rsa2048)))
    out("simple", signed(sign(msg, b"rsa2048", rsa2048, canon=b"simple/simple")))
    out("ed25519", signed(sign(msg, b"ed25519", ed, alg=b"ed25519-sha256")))
    out("rsa1024", signed(sign(msg, b"rsa1024", rsa1024)))
    out("rsa512", signed(sign(msg, b"rsa512", rsa512)))
    out("rsa-sha1", signed(sign(msg, b"rsa2048", rsa2048, alg=b"rsa-sha1")))
    out("two-sigs", signed(sign(msg, b"rsa2048", rsa2048),
                           sign(msg, b"wrongkey", rsa2048)))
    out("key-missing", signed(sign(msg, b"missing", rsa2048)))
    out("key-nodata", signed(sign(msg, b"nodata", rsa2048)))
    out("key-revoked", signed(sign(msg, b"revoked", rsa2048)))
    out("key-bad", signed(sign(msg, b"badkey", rsa2048)))
    out("key-servfail", signed(sign(msg, b"servfail", rsa2048)))
    out("key-timeout", signed(sign(msg, b"timeout", rsa2048)))
    # two lookups that time out: started together, so one time-out in all
    out("two-timeouts", signed(sign(msg, b"timeout", rsa2048),
                               sign(msg, b"timeout2", rsa2048)))
    out("expired", signed(sign(msg, b"rsa2048", rsa2048,
                               t=now - 2 * 86400, x=now - 86400)))
    out("not-expired", signed(sign(msg, b"rsa2048", rsa2048,
                                   t=now - 60, x=now + 86400)))
    s = sign(msg, b"rsa2048", rsa2048, canon=b"simple/simple")
    out("body-modified", s + msg.replace(b"Hello Bob", b"Hello Eve"))
    out("header-modified", s + msg.replace(b"A test message", b"A fake message"))
    # simple body canonicalization ignores only empty lines at the end
    out("body-extra-line", s + msg + b"more\r\n")
    # relaxed ignores whitespace changes in headers and body
    s = sign(msg, b"rsa2048", rsa2048)
    out("relaxed-reformatted",
        s + msg.replace(b"To:  bob", b"To: bob").replace(b"double  spaces",
                                                        b"double spaces"))
    out("relaxed-body-modified", s + msg.replace(b"Hello Bob", b"Hello Eve"))
    # the body hash without l=, on a body with no CRLF at its end: relaxed
    # is refused as a whole (libopendkim), simple gets the CRLF added
    unterminated = msg.rstrip(b"\r\n")
    out("relaxed-no-final-crlf", sign(unterminated, b"rsa2048", rsa2048) + unterminated)
    out("simple-no-final-crlf",
        sign(unterminated, b"rsa2048", rsa2048, canon=b"simple/simple") + unterminated)
    # signed with an empty body, a body added after: the empty body's hash
    # must not be mistaken for the real one's
    empty = HEADERS + b"\r\n"
    for c in (b"simple", b"relaxed"):
        out("empty-body-grown-" + c.decode(),
            sign(empty, b"rsa2048", rsa2048, canon=c + b"/" + c) + empty + b"Added.\r\n")
    # unsigned From: the signature does not cover the one required header
    out("no-from-signed", signed(sign(msg, b"rsa2048", rsa2048,
                                      headers=[b"to", b"subject"])))
    # a second From added above the signed one: a signature covers the
    # bottom-most instance only (RFC 6376 5.4.2), so it still verifies
    out("from-added-above", s + b"From: Boss <boss@example.net>\r\n" + msg)
    out("missing-b", replace_tag(s, b"b", None) + msg)
    out("bad-b64", replace_tag(s, b"b", b"!!not*base64!!") + msg)
    out("missing-bh", replace_tag(s, b"bh", None) + msg)
    out("bad-version", replace_tag(s, b"v", b"2") + msg)
    out("bad-algorithm", replace_tag(s, b"a", b"rsa-md5") + msg)
    # l=: text appended after signing is not covered and does not break it
    s = sign(msg, b"rsa2048", rsa2048, length=True)
    out("length-appended", s + msg + b"appended by a mailing list\r\n")
    out("no-final-crlf", s + msg.rstrip(b"\r\n"))
    out("length-truncated", s + msg[:msg.rindex(b"-- \r\n")])
    # more signatures than are checked: all good ones, different t=
    many = [sign(msg, b"rsa2048", rsa2048, t=now - i) for i in range(20)]
    out("many-sigs", b"".join(many) + msg)

    # A big body, streamed by the test: lines of text, signed relaxed.
    line = b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
    big_body = line * (a.big_mib * 1024 * 1024 // len(line) + 1)
    big = HEADERS + b"\r\n" + big_body
    out("big", sign(big, b"rsa2048", rsa2048) + big)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# tests/dns-server.py - the test suite's authoritative DNS server on loopback.
#
# Usage:
#   dns-server.py [--port N] [--port-file F] [--pid-file F] [--query-log F]
#                 [--ipv6] [--behaviours F] ZONEFILE...
#
# Serves UDP and TCP on 127.0.0.1 (and ::1 with --ipv6) on one port; port 0
# picks a free one.  The port is written to --port-file once every socket is
# bound, so a test waits for that file.  SIGTERM/SIGINT stop the server,
# SIGHUP reloads every zone file and the behaviours file (a reload that fails
# keeps the old data).  Needs dnspython 2.x (Debian: python3-dnspython).
#
# Zone files are standard master files ($ORIGIN, $TTL, $GENERATE, blank owner
# = previous owner).  Relative names start relative to the root, so a file
# begins with $ORIGIN or uses absolute names.  One file may hold several
# zones: every SOA record starts a zone at its owner name, and each record
# belongs to the closest enclosing zone (a record under no SOA is an error).
# Several files are merged.  NS records below a zone apex are delegations.
#
# Answers are those of an authoritative server (RFC 1034 4.3.2): AA set;
# NXDOMAIN or NODATA with the SOA in authority (TTL = min(SOA TTL, minimum),
# RFC 2308); CNAMEs chased through all served data; wildcards as RFC 4592
# (closest encloser, empty non-terminals block them); referrals at
# delegations; REFUSED for names in no served zone; A/AAAA of MX/NS/SRV
# targets in additional.  EDNS0: the answer echoes OPT, EDNS version > 0 gets
# BADVERS.  Over UDP an answer larger than 512 bytes (no EDNS) or than the
# client's EDNS payload size first loses its additional section, then is sent
# with TC set and no records; over TCP it goes out whole.  Malformed queries
# get FORMERR when the header can be read, otherwise are ignored.
#
# Behaviours (failures to simulate) are lines
#     NAME [TYPE] ACTION [ARG]
# either in the --behaviours file (# comments) or inside a zone file as
# comments starting with ";!" (so one file holds a whole scenario):
#     ;! servfail.example.com SERVFAIL
# NAME is absolute (the trailing dot is optional); "*.NAME" matches every
# name strictly below NAME.  TYPE limits the line to one query type.  The
# first matching line wins.  ACTION is one of:
#     SERVFAIL | REFUSED | NXDOMAIN | FORMERR | NOTIMP
#                   answer with that rcode and no records
#     DROP          never answer (the client times out)
#     TRUNCATE      over UDP answer with TC set and no records; TCP answers
#     DELAY SECONDS wait, then answer normally (other queries are not held)
#
# Query log (--query-log): one line per query, written before the answer is
# sent, flushed at once:
#     NAME TYPE PROTO RCODE [aa] [tc] [edns=PAYLOAD]
# NAME is lower-cased and absolute; PROTO is udp or tcp; RCODE is the rcode
# sent, or DROP.  A malformed query logs "? ? PROTO FORMERR".
# Reloads and errors go to stderr.

import argparse
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.tokenizer
import dns.zonefile

MAX_CHAIN = 16          # CNAME links followed in one answer
TCP_IDLE = 30.0         # seconds a TCP connection may stay idle
RCODE_ACTIONS = ("SERVFAIL", "REFUSED", "NXDOMAIN", "FORMERR", "NOTIMP")
ACTIONS = RCODE_ACTIONS + ("DROP", "TRUNCATE", "DELAY")


def log_err(msg):
    sys.stderr.write("dns-server: %s\n" % msg)
    sys.stderr.flush()


class _Collector:
    """Stands in for a dnspython transaction: the zone-file Reader hands it
    each record.  A real zone would refuse a second SOA; this accepts any."""

    def __init__(self):
        self.manager = self
        self.records = []

    def origin_information(self):
        return (dns.name.root, False, dns.name.root)

    def check_put_rdataset(self, check):
        pass

    def _set_origin(self, origin):
        pass

    def add(self, name, ttl, rdata):
        self.records.append((name, ttl, rdata))


def parse_behaviour(line, where):
    words = line.split()
    if len(words) < 2:
        raise ValueError("%s: behaviour needs NAME [TYPE] ACTION" % where)
    text = words[0]
    below = text.startswith("*.")
    if below:
        text = text[2:]
    name = dns.name.from_text(text, dns.name.root)
    rest = words[1:]
    rdtype = None
    if rest[0].upper() not in ACTIONS:
        rdtype = dns.rdatatype.from_text(rest[0])
        rest = rest[1:]
    if not rest or rest[0].upper() not in ACTIONS:
        raise ValueError("%s: unknown action in %r" % (where, line))
    action = rest[0].upper()
    arg = None
    if action == "DELAY":
        if len(rest) != 2:
            raise ValueError("%s: DELAY needs SECONDS" % where)
        arg = float(rest[1])
    elif len(rest) != 1:
        raise ValueError("%s: extra words in %r" % (where, line))
    return (name, below, rdtype, action, arg)


class Data:
    """Everything served, loaded at once so a reload swaps it whole."""

    def __init__(self, zone_files, behaviours_file):
        # name -> {(rdtype, covers): Rdataset}
        self.nodes = {}
        self.apexes = set()
        self.cuts = set()       # names below an apex that carry NS
        self.exists = set()     # names with data plus empty non-terminals
        self.behaviours = []
        for path in zone_files:
            self._load_zone_file(path)
        if behaviours_file:
            with open(behaviours_file, encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    line = line.split("#", 1)[0].strip()
                    if line:
                        self.behaviours.append(
                            parse_behaviour(line, "%s:%d" % (behaviours_file, i)))
        self._index()

    def _load_zone_file(self, path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for i, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if s.startswith(";!"):
                self.behaviours.append(parse_behaviour(s[2:], "%s:%d" % (path, i)))
        col = _Collector()
        reader = dns.zonefile.Reader(dns.tokenizer.Tokenizer(text, path),
                                     dns.rdataclass.IN, col,
                                     allow_directives=True)
        reader.read()
        for name, ttl, rd in col.records:
            node = self.nodes.setdefault(name, {})
            key = (rd.rdtype, rd.covers())
            rds = node.get(key)
            if rds is None:
                rds = node[key] = dns.rdataset.Rdataset(rd.rdclass, rd.rdtype,
                                                        rd.covers())
            rds.add(rd, ttl)
            if rd.rdtype == dns.rdatatype.SOA:
                if len(rds) > 1:
                    raise ValueError("%s: two SOA records at %s" % (path, name))
                self.apexes.add(name)

    def _index(self):
        for name, node in self.nodes.items():
            apex = self.find_zone(name)
            if apex is None:
                raise ValueError("%s is in no zone (no SOA at or above it)" % name)
            if (dns.rdatatype.CNAME, dns.rdatatype.NONE) in node and len(node) > 1:
                raise ValueError("%s has a CNAME and other data" % name)
            if name != apex and (dns.rdatatype.NS, dns.rdatatype.NONE) in node:
                self.cuts.add(name)
            n = name
            while n not in self.exists:
                self.exists.add(n)
                if n == apex:
                    break
                n = n.parent()

    def find_zone(self, name):
        while True:
            if name in self.apexes:
                return name
            if name == dns.name.root:
                return None
            name = name.parent()

    def behaviour(self, qname, qtype):
        for name, below, rdtype, action, arg in self.behaviours:
            if rdtype is not None and rdtype != qtype:
                continue
            if (below and qname.is_subdomain(name) and qname != name) or \
                    (not below and qname == name):
                return action, arg
        return None, None

    def _soa(self, apex):
        rds = self.nodes[apex][(dns.rdatatype.SOA, dns.rdatatype.NONE)]
        rrset = dns.rrset.RRset(apex, rds.rdclass, rds.rdtype)
        rrset.update(rds)
        rrset.update_ttl(min(rds.ttl, rds[0].minimum))
        return rrset

    @staticmethod
    def _rrset(owner, rds):
        rrset = dns.rrset.RRset(owner, rds.rdclass, rds.rdtype, rds.covers)
        rrset.update(rds)
        return rrset

    def _cut(self, apex, name, qtype):
        """The delegation point between apex and name, if any."""
        if not self.cuts:
            return None
        labels = name.relativize(apex).labels
        n = apex
        for label in reversed(labels):
            n = dns.name.Name((label,) + n.labels)
            if n in self.cuts and not (n == name and qtype == dns.rdatatype.DS):
                return n
        return None

    def _glue(self, names, out, seen):
        for target in names:
            node = self.nodes.get(target)
            if not node:
                continue
            for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rds = node.get((t, dns.rdatatype.NONE))
                if rds is not None and (target, t) not in seen:
                    seen.add((target, t))
                    out.append(self._rrset(target, rds))

    def _additional(self, answer):
        targets = []
        for rrset in answer:
            for rd in rrset:
                if rd.rdtype == dns.rdatatype.MX:
                    targets.append(rd.exchange)
                elif rd.rdtype in (dns.rdatatype.NS, dns.rdatatype.SRV):
                    targets.append(rd.target)
        out = []
        self._glue(targets, out, set())
        return out

    def resolve(self, qname, qtype):
        """Return (rcode, aa, answer, authority, additional)."""
        NOERROR = dns.rcode.NOERROR
        if self.find_zone(qname) is None:
            return dns.rcode.REFUSED, False, [], [], []
        answer = []
        name = qname
        seen = {qname}
        for _ in range(MAX_CHAIN):
            apex = self.find_zone(name)
            if apex is None:
                # CNAME out of our data: the resolver goes on from here.
                return NOERROR, True, answer, [], []
            cut = self._cut(apex, name, qtype)
            if cut is not None:
                ns = self._rrset(cut, self.nodes[cut][(dns.rdatatype.NS,
                                                       dns.rdatatype.NONE)])
                glue = []
                self._glue([rd.target for rd in ns], glue, set())
                return NOERROR, bool(answer), answer, [ns], glue
            node = self.nodes.get(name)
            if node is None and name not in self.exists:
                node = self._wildcard(apex, name)
                if node is None:
                    return dns.rcode.NXDOMAIN, True, answer, [self._soa(apex)], []
            if node is None:        # empty non-terminal
                return NOERROR, True, answer, [self._soa(apex)], []
            if qtype == dns.rdatatype.ANY:
                answer += [self._rrset(name, rds) for rds in node.values()]
                return NOERROR, True, answer, [], self._additional(answer)
            rds = node.get((qtype, dns.rdatatype.NONE))
            if rds is not None:
                answer.append(self._rrset(name, rds))
                return NOERROR, True, answer, [], self._additional(answer)
            cname = node.get((dns.rdatatype.CNAME, dns.rdatatype.NONE))
            if cname is None or qtype == dns.rdatatype.CNAME:
                return NOERROR, True, answer, [self._soa(apex)], []
            answer.append(self._rrset(name, cname))
            name = cname[0].target
            if name in seen:        # loop: hand out the chain as it is
                break
            seen.add(name)
        return NOERROR, True, answer, [], []

    def _wildcard(self, apex, name):
        """RFC 4592: the source of synthesis under the closest encloser."""
        n = name.parent()
        while n not in self.exists and n != apex:
            n = n.parent()
        return self.nodes.get(dns.name.Name((b"*",) + n.labels))


class Server:
    def __init__(self, args):
        self.args = args
        self.data = Data(args.zonefiles, args.behaviours)
        self.log_lock = threading.Lock()
        self.log = None
        if args.query_log:
            self.log = open(args.query_log, "a", encoding="utf-8")

    def reload(self):
        try:
            data = Data(self.args.zonefiles, self.args.behaviours)
        except Exception as e:      # keep serving the old data
            log_err("reload failed, old data kept: %s" % e)
            return
        self.data = data
        log_err("reloaded %d zones" % len(data.apexes))

    def log_query(self, qname, qtype, proto, rcode, extra=()):
        if self.log is None:
            return
        line = " ".join([qname, qtype, proto, rcode] + list(extra))
        with self.log_lock:
            self.log.write(line + "\n")
            self.log.flush()

    @staticmethod
    def _formerr(wire):
        """A FORMERR reply built from the raw header, or None."""
        if len(wire) < 12:
            return None
        qid, flags = struct.unpack("!HH", wire[:4])
        if flags & 0x8000:
            return None
        flags = 0x8000 | (flags & 0x7900) | dns.rcode.FORMERR
        return struct.pack("!HHHHHH", qid, flags, 0, 0, 0, 0)

    def handle(self, wire, proto):
        """Bytes to send back for one query, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            reply = self._formerr(wire)
            if reply is not None:
                self.log_query("?", "?", proto, "FORMERR")
            return reply
        if query.flags & dns.flags.QR:
            return None
        data = self.data        # one snapshot for the whole answer
        try:
            resp = dns.message.make_response(query)
        except Exception:
            return self._formerr(wire)
        resp.flags |= query.flags & dns.flags.CD
        extra = []
        if query.edns >= 0:
            extra.append("edns=%d" % query.payload)
        if len(query.question) != 1:
            resp.set_rcode(dns.rcode.FORMERR)
            self.log_query("?", "?", proto, "FORMERR", extra)
            return resp.to_wire()
        q = query.question[0]
        qname = q.name.to_text().lower()
        qtype = dns.rdatatype.to_text(q.rdtype)

        if proto == "tcp":
            limit = 65535
        elif query.edns >= 0:
            limit = min(max(512, query.payload), 65535)
        else:
            limit = 512

        def done(rcode, truncate=False):
            resp.set_rcode(rcode)
            if truncate:
                resp.flags |= dns.flags.TC
            try:
                wire_out = resp.to_wire(max_size=limit)
            except dns.exception.TooBig:
                # Too big for UDP: first drop the additional section, then
                # send TC and no records so the client retries over TCP.
                resp.additional = []
                try:
                    wire_out = resp.to_wire(max_size=limit)
                except dns.exception.TooBig:
                    resp.answer = []
                    resp.authority = []
                    resp.flags |= dns.flags.TC
                    wire_out = resp.to_wire(max_size=limit)
            flags = []
            if resp.flags & dns.flags.AA:
                flags.append("aa")
            if resp.flags & dns.flags.TC:
                flags.append("tc")
            self.log_query(qname, qtype, proto, dns.rcode.to_text(rcode),
                           flags + extra)
            return wire_out

        if query.opcode() != dns.opcode.QUERY:
            return done(dns.rcode.NOTIMP)
        if query.edns > 0:
            return done(dns.rcode.BADVERS)
        if q.rdclass != dns.rdataclass.IN or \
                q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            return done(dns.rcode.REFUSED)
        action, arg = data.behaviour(q.name, q.rdtype)
        if action == "DROP":
            self.log_query(qname, qtype, proto, "DROP", extra)
            return None
        if action in RCODE_ACTIONS:
            return done(dns.rcode.from_text(action))
        if action == "DELAY":
            time.sleep(arg)
        if action == "TRUNCATE" and proto == "udp":
            if data.find_zone(q.name) is not None:
                resp.flags |= dns.flags.AA
            return done(dns.rcode.NOERROR, truncate=True)

        rcode, aa, answer, authority, additional = data.resolve(q.name, q.rdtype)
        if aa:
            resp.flags |= dns.flags.AA
        resp.answer = answer
        resp.authority = authority
        resp.additional = additional
        return done(rcode)


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        wire, sock = self.request
        try:
            reply = self.server.dns.handle(wire, "udp")
            if reply is not None:
                sock.sendto(reply, self.client_address)
        except Exception as e:
            log_err("udp: %r" % e)


class TCPHandler(socketserver.BaseRequestHandler):
    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def handle(self):
        self.request.settimeout(TCP_IDLE)
        try:
            while True:       # several queries per connection (RFC 7766)
                head = self._read(2)
                if head is None:
                    return
                wire = self._read(struct.unpack("!H", head)[0])
                if wire is None:
                    return
                reply = self.server.dns.handle(wire, "tcp")
                if reply is not None:
                    self.request.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, socket.timeout):
            return
        except Exception as e:
            log_err("tcp: %r" % e)


class UDP4(socketserver.ThreadingUDPServer):
    daemon_threads = True
    max_packet_size = 65535


class TCP4(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UDP6(UDP4):
    address_family = socket.AF_INET6


class TCP6(TCP4):
    address_family = socket.AF_INET6


def bind_all(port, ipv6):
    """Bind every socket on one port; with port 0, retry until a port is free
    for all of them."""
    for _ in range(50):
        servers = []
        try:
            u = UDP4(("127.0.0.1", port), UDPHandler)
            servers.append(u)
            p = u.server_address[1]
            servers.append(TCP4(("127.0.0.1", p), TCPHandler))
            if ipv6:
                servers.append(UDP6(("::1", p), UDPHandler))
                servers.append(TCP6(("::1", p), TCPHandler))
            return p, servers
        except OSError:
            for s in servers:
                s.server_close()
            if port != 0:
                raise
    raise OSError("no free port for UDP and TCP")


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Authoritative DNS server for tests.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--pid-file")
    ap.add_argument("--query-log")
    ap.add_argument("--behaviours")
    ap.add_argument("--ipv6", action="store_true", help="also listen on ::1")
    ap.add_argument("zonefiles", nargs="+", metavar="ZONEFILE")
    args = ap.parse_args()

    # Signals are taken synchronously by the main thread; the server threads
    # inherit the mask and never see them.
    sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        server = Server(args)
        port, servers = bind_all(args.port, args.ipv6)
    except Exception as e:
        log_err(str(e))
        return 1
    for s in servers:
        s.dns = server
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
    if args.pid_file:
        write_atomic(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    log_err("listening on port %d, %d zones" % (port, len(server.data.apexes)))
    while True:
        sig = signal.sigwait(sigs)
        if sig == signal.SIGHUP:
            server.reload()
        else:
            break
    for s in servers:
        s.shutdown()
        s.server_close()
    for path in (args.pid_file, args.port_file):
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

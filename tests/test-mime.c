/*
 * test-mime.c - unit tests of the streaming MIME decoder (scoring/mime.c and
 * its modules: xfer, charset, html, urlhost, rfc2047, mimehdr).
 *
 * Each row of the table is a message and what the sink must receive (lines
 * of tests/mime-feed.h's record, in order) and must not, with the stats
 * expected.  Every message is fed whole, then in chunks of every size from
 * 1 byte up, and (unless it tests line breaks itself) with CRLF line
 * breaks: all must give the same record.  Generated messages test the
 * limits (text and header caps, absurd nesting, a 10 MiB body in bounded
 * memory, no allocation while the body streams).  A failure prints the
 * case, the chunk size and the record.
 */
#include "config.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scoring/charset.h"
#include "scoring/html.h"
#include "scoring/mime.h"
#include "scoring/rfc2047.h"
#include "scoring/urlhost.h"
#include "scoring/xfer.h"
#include "tests/mime-feed.h"

#define ANY -1

static const struct hm_mime_limits default_limits = { 32768, 4096, 8 };

struct mcase {
	const char *name;
	const char *msg;
	size_t len;			/* 0: strlen(msg) */
	const char *want;		/* record lines that must appear, in order */
	const char *nowant;		/* "|"-separated texts that must not appear */
	int parts, malformed, html_only, depth;	/* ANY: not checked */
	bool no_crlf;			/* do not test the CRLF variant */
};

#define MP(b) "Content-Type: multipart/mixed; boundary=\"" b "\"\n"

static const struct mcase cases[] = {
	/* ---- plain text, defaults ---- */
	{ "plain ascii", "Subject: hi\nContent-Type: text/plain\n\nHello world\n",
	  0, "S hi\nP text/plain\nB Hello world\\n", NULL, 1, 0, 0, 0 },
	{ "no content-type is text/plain", "Subject: x\n\nJust text.\n",
	  0, "P text/plain\nB Just text.\\n", NULL, 1, 0, 0, 0 },
	{ "content-type in any case, comments, no subtype is text/plain",
	  "CONTENT-TYPE: (c) Text/PLAIN (d) ; CharSet=\"UTF-8\"\n\nx\n",
	  0, "P text/plain\nB x\\n", NULL, 1, 0, 0, 0 },
	{ "invalid content-type falls back to text/plain", "Content-Type: text\n\nbody\n",
	  0, "P text/plain\nB body\\n", NULL, 1, 1, 0, 0 },
	{ "empty body", "Subject: e\n\n", 0, "P text/plain\nB ", NULL, 1, 0, 0, 0 },

	/* ---- Subject and From (RFC 2047) ---- */
	{ "subject B utf-8", "Subject: =?UTF-8?B?w6l0w6k=?=\n\n.\n", 0, "S \xc3\xa9t\xc3\xa9",
	  NULL, ANY, ANY, ANY, ANY },
	{ "subject Q latin-1 with underscores", "Subject: =?iso-8859-1?q?caf=E9_cr=E8me?=\n\n.\n",
	  0, "S caf\xc3\xa9 cr\xc3\xa8me", NULL, ANY, ANY, ANY, ANY },
	{ "adjacent encoded-words joined, the blank between dropped",
	  "Subject: =?utf-8?q?Hello?= =?utf-8?q?_World?=  =?utf-8?b?IQ==?=\n\n.\n",
	  0, "S Hello World!", NULL, ANY, ANY, ANY, ANY },
	{ "a character split between two B words comes out whole",
	  "Subject: =?utf-8?B?4oI=?= =?utf-8?B?rA==?= 5\n\n.\n",	/* U+20AC cut in two */
	  0, "S \xe2\x82\xac 5", NULL, ANY, ANY, ANY, ANY },
	{ "encoded-word and text keep their blank",
	  "Subject: Re: =?utf-8?q?=C3=A0?= bient\xc3\xb4t\n\n.\n",
	  0, "S Re: \xc3\xa0 bient\xc3\xb4t", NULL, ANY, ANY, ANY, ANY },
	{ "folded subject", "Subject: one\n two\n\tthree\n\n.\n", 0, "S one two\tthree", NULL,
	  ANY, ANY, ANY, ANY },
	{ "folded encoded-words", "Subject: =?utf-8?q?a?=\n =?utf-8?q?b?=\n\n.\n", 0, "S ab",
	  NULL, ANY, ANY, ANY, ANY },
	{ "koi8-r subject", "Subject: =?koi8-r?B?8NLJ18XU?=\n\n.\n",
	  0, "S \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", NULL, ANY, ANY, ANY, ANY },
	{ "malformed encoded-word kept as text", "Subject: =?utf-8?x?abc?= and =?utf-8?q?open\n\n.\n",
	  0, "S =?utf-8?x?abc?= and =?utf-8?q?open", NULL, ANY, ANY, ANY, ANY },
	{ "unknown charset in a word is not dropped", "Subject: =?x-klingon?q?Qapla=E9?=\n\n.\n",
	  0, "S Qapla\xc3\xa9", NULL, ANY, ANY, ANY, ANY },
	{ "8-bit latin-1 in a subject becomes UTF-8", "Subject: Caf\xe9\n\n.\n", 0,
	  "S Caf\xc3\xa9", NULL, ANY, ANY, ANY, ANY },
	{ "raw UTF-8 in a subject passes", "Subject: \xe6\x97\xa5\xe6\x9c\xac\n\n.\n", 0,
	  "S \xe6\x97\xa5\xe6\x9c\xac", NULL, ANY, ANY, ANY, ANY },
	{ "only the first subject", "Subject: first\nSubject: second\n\n.\n", 0, "S first",
	  "second", ANY, ANY, ANY, ANY },
	{ "NUL from Q encoding removed", "Subject: =?utf-8?q?a=00b?=\n\n.\n", 0, "S ab", NULL,
	  ANY, ANY, ANY, ANY },
	{ "from display names",
	  "From: =?utf-8?q?J=C3=BCrgen_M?= <j@example.org>, \"Doe, John\" <jd@example.org>,\n"
	  " bob@example.org (Bob the Builder), plain@example.org, Group: a@x, \"In G\" <b@x>;\n\n.\n",
	  0, "N J\xc3\xbcrgen M\nN Doe, John\nN Bob the Builder\nN In G", "N Group|N plain",
	  ANY, ANY, ANY, ANY },
	{ "encoded-word inside quotes (common) is decoded",
	  "From: \"=?iso-8859-1?Q?Ren=E9?=\" <r@x>\n\n.\n", 0, "N Ren\xc3\xa9", NULL,
	  ANY, ANY, ANY, ANY },

	/* ---- transfer encodings ---- */
	{ "base64 text", "Content-Transfer-Encoding: base64\nContent-Type: text/plain; charset=utf-8\n\n"
	  "SGVsbG8g\nw6l0w6kg\nd29ybGQ=\n", 0, "B Hello \xc3\xa9t\xc3\xa9 world", NULL, 1, 0, 0, 0 },
	{ "base64 in any case, spread over odd lines",
	  "Content-Transfer-Encoding: BASE64\n\nU\nGFyd\nGlh\nbA\n==\n", 0, "B Partial", NULL,
	  1, 0, 0, 0 },
	{ "bad base64 degrades", "Content-Transfer-Encoding: base64\n\nSGVs*bG8h\n", 0,
	  "B Hello!", NULL, 1, 1, 0, 0 },
	{ "quoted-printable", "Content-Transfer-Encoding: quoted-printable\n"
	  "Content-Type: text/plain; charset=utf-8\n\n"
	  "caf=C3=A9 soft=\nbreak and a =c3=\n=a9 split, =3D sign   \n"
	  "stray = and =ZZ\n", 0,
	  "B caf\xc3\xa9 softbreak and a \xc3\xa9 split, = sign\\nstray = and =ZZ\\n", NULL,
	  1, 1, 0, 0 },
	{ "quoted-printable soft break with trailing blanks",
	  "Content-Transfer-Encoding: quoted-printable\n\nab= \ncd\n", 0, "B abcd\\n", NULL,
	  1, 0, 0, 0 },
	{ "unknown transfer encoding kept as it is", "Content-Transfer-Encoding: x-uuencode\n\nabc\n",
	  0, "B abc\\n", NULL, 1, 0, 0, 0 },

	/* ---- charsets ---- */
	{ "iso-8859-1 is read as windows-1252", "Content-Type: text/plain; charset=ISO-8859-1\n\n"
	  "caf\xe9 \x93quoted\x94 \x80\n", 0,
	  "B caf\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac\\n", NULL, 1, 0, 0, 0 },
	{ "koi8-r through iconv", "Content-Type: text/plain; charset=\"koi8-r\"\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n",
	  0, "B \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\\n", NULL, 1, 0, 0, 0 },
	{ "iso-2022-jp (stateful) through iconv",
	  "Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s$K$A$O\x1b(B!\n", 0,
	  "B \xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf!\\n", NULL, 1, 0, 0, 0 },
	{ "shift_jis (as CP932)", "Content-Type: text/plain; charset=shift_jis\n\n\x93\xfa\x96\x7b\n",
	  0, "B \xe6\x97\xa5\xe6\x9c\xac\\n", NULL, 1, 0, 0, 0 },
	{ "gb2312 as GB18030, and a spam spelling of it",
	  MP("b") "\n--b\nContent-Type: text/plain; charset=gb2312\n\n\xc4\xe3\xba\xc3\n"
	  "--b\nContent-Type: text/plain; charset=GB2312_CHARSET\n\n\xc4\xe3\xba\xc3\n--b--\n", 0,
	  "B \xe4\xbd\xa0\xe5\xa5\xbd\\n\nB \xe4\xbd\xa0\xe5\xa5\xbd\\n", NULL, 2, 0, 0, 1 },
	{ "utf-16 through iconv", "Content-Type: text/plain; charset=utf-16le\n"
	  "Content-Transfer-Encoding: base64\n\naABpAKwg\n", 0, "B hi\xe2\x82\xac", NULL, 1, 0, 0, 0 },
	{ "unknown charset: UTF-8 where valid, windows-1252 otherwise",
	  "Content-Type: text/plain; charset=x-no-such-charset\n\n\xc3\xa9t\xc3\xa9 caf\xe9\n", 0,
	  "B \xc3\xa9t\xc3\xa9 caf\xc3\xa9\\n", NULL, 1, ANY, 0, 0 },
	{ "a charset name iconv reads as UTF-8 lets nothing invalid through",
	  "Content-Type: text/plain; charset=\"utf-\xf8" "8\"\n\nA\xf6\x99\x99\x99Z\n", 0,
	  "P text/plain", "\xf6", 1, 1, 0, 0 },
	{ "no charset, 8-bit UTF-8 passes", "Subject: x\n\n\xe2\x82\xac 10, \xc3\xa9t\xc3\xa9\n", 0,
	  "B \xe2\x82\xac 10, \xc3\xa9t\xc3\xa9\\n", NULL, 1, 0, 0, 0 },
	{ "no charset, 8-bit latin-1 as windows-1252",
	  "Subject: x\n\nna\xefve caf\xe9 \x96 \xfc" "ber\n", 0,
	  "B na\xc3\xafve caf\xc3\xa9 \xe2\x80\x93 \xc3\xbc" "ber\\n", NULL, 1, ANY, 0, 0 },
	{ "declared utf-8 with invalid bytes", "Content-Type: text/plain; charset=utf-8\n\n"
	  "ok \xc3\xa9 bad \xe9 \xed\xa0\x80 \xc0\xaf end\n", 0,
	  "B ok \xc3\xa9 bad \xc3\xa9 \xc3\xad\xc2\xa0\xe2\x82\xac \xc3\x80\xc2\xaf end\\n", NULL,
	  1, 1, 0, 0 },

	/* ---- HTML ---- */
	{ "html only", "Content-Type: text/html; charset=utf-8\n\n"
	  "<html><head><title>T</title><style>p { color: red }</style>\n"
	  "<script type=\"text/javascript\">var a = \"<b>no</b>\";</script></head>\n"
	  "<body><p>Caf&eacute; &amp; th&#233; &#x41;&#66; &lt;tag&gt;&nbsp;x &bogus; AT&T</p>"
	  "<!-- hidden comment --><div>V<b></b>ia<!-- x -->gra</div>"
	  "<a href=\"http://WWW.Example.COM/path?q=1\">link</a>"
	  "<img src='https://user@img.example.net:8080/x.gif'><a href=mailto:a@b.c>m</a>"
	  "<A HREF = //cdn.example.org/x>c</A><a href=\"/relative\">r</a>"
	  "<form action=\"http://post.example.com/\"><td background=http://bg.example.com/i>"
	  "x < y, 3<4 &#0; &#x110000; &#150;</body></html>\n", 0,
	  "P text/html\nH www.example.com\nH img.example.net\nH cdn.example.org\n"
	  "H post.example.com\nH bg.example.com\n"
	  "B \\n\\n\\nT\\n\\n\\n\\n\\n\\nCaf\xc3\xa9 & th\xc3\xa9 AB <tag> x &bogus; AT&T\\n\\n"
	  "Viagra\\nlinkmcr\\n\\nx < y, 3<4 \xef\xbf\xbd \xef\xbf\xbd \xe2\x80\x93\\n\\n\\n",
	  "color|var a|hidden|H relative|H a@b.c|<b>|<p>", 1, 0, 1, 0 },
	{ "html in pieces: a tag, a reference, a script end cut anywhere",
	  "Content-Type: text/html\n\n<p>One&nbsp;two</p><SCRIPT>if (a</b) x();</ScRiPt >three"
	  "<style>x</style  >four<br/>five\n", 0, "B \\nOne two\\nthreefour\\nfive\\n",
	  "if (a|x()", 1, 0, 1, 0 },
	{ "alternative: plain and html", MP("alt") "\n--alt\nContent-Type: text/plain\n\nplain text\n"
	  "--alt\nContent-Type: text/html\n\n<p>html text</p>\n--alt--\n", 0,
	  "P text/plain\nB plain text\\n\nP text/html\nB \\nhtml text\\n\\n", NULL, 2, 0, 0, 1 },
	{ "html quoted-printable latin-1", "Content-Type: text/html; charset=iso-8859-1\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n<a href=3D\"http://x.example.com/\">=E9t=\n=E9</a>\n",
	  0, "H x.example.com\nB \xc3\xa9t\xc3\xa9\\n", NULL, 1, 0, 1, 0 },

	/* ---- URL hosts in text ---- */
	{ "URL hosts in plain text", "Subject: u\n\nsee https://User:pw@Mail.Example.COM:8080/x?y, "
	  "http://foo.bar. or HTTP://UPPER.example.org/; not ftp://no.example.com "
	  "nor http://nodot/ nor https:// alone; http://www.under.com___ "
	  "http://www.cjk.example.com\xe7\xbd\x91 xhttp://glued.example.com:8080/ "
	  "http:http://twice.example.com\n", 0,
	  "H mail.example.com\nH foo.bar\nH upper.example.org\nH www.under.com\n"
	  "H www.cjk.example.com\nH glued.example.com\nH twice.example.com",
	  "H no.example.com|H nodot", 1, 0, 0, 0 },

	/* ---- structure ---- */
	{ "nested multiparts and attachments", MP("outer")
	  "\npreamble is not text\n--outer\n"
	  "Content-Type: multipart/alternative; boundary=inner\n\n--inner\n"
	  "Content-Type: text/plain\n\ninner plain\n--inner\nContent-Type: text/html\n\n<i>inner html</i>\n"
	  "--inner--\nepilogue of inner\n--outer\n"
	  "Content-Type: application/PDF; name=\"ignored.txt\"\n"
	  "Content-Disposition: attachment; filename=\"Report 2024.PDF\"\n"
	  "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--outer\n"
	  "Content-Type: application/octet-stream\n\nxx\n--outer\n"
	  "Content-Type: image/png; name=logo.png\n\nxx\n--outer--\nepilogue\n", 0,
	  "P text/plain\nB inner plain\\n\nP text/html\nB inner html\\n\n"
	  "P application/pdf\nA application/pdf pdf\nP application/octet-stream\n"
	  "A application/octet-stream \nP image/png\nA image/png png",
	  "preamble|epilogue|JVBER", 5, 0, 0, 2 },
	{ "RFC 2231 file names", MP("b") "\n--b\nContent-Type: application/msword\n"
	  "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.DOCX\n\nx\n--b\n"
	  "Content-Type: application/zip\nContent-Disposition: attachment;\n"
	  " filename*0=\"a very long name \"; filename*1*=%E2%82%AC.ZiP\n\nx\n--b\n"
	  "Content-Type: application/x-exe; name=\"=?utf-8?B?cGF5bWVudC5leGU=?=\"\n\nx\n--b\n"
	  "Content-Type: application/x-foo; name=\"no extension here\"\n\nx\n--b\n"
	  "Content-Type: application/x-bar; name=\"bad.ex!e\"\n\nx\n--b\n"
	  "Content-Type: application/pdf\nContent-Disposition: attachment; filename*=''report%2EPdf\n"
	  "\nx\n--b--\n", 0,
	  "A application/msword docx\nA application/zip zip\nA application/x-exe exe\n"
	  "A application/x-foo \nA application/x-bar \nA application/pdf pdf", NULL, 6, 0, 0, 1 },
	{ "text attachment is text", MP("b") "\n--b\nContent-Type: text/plain; name=notes.txt\n"
	  "Content-Disposition: attachment; filename=notes.txt\n\nattached notes\n--b--\n", 0,
	  "P text/plain\nB attached notes\\n", "A text/plain", 1, 0, 0, 1 },
	{ "other text types are attachments", MP("b") "\n--b\nContent-Type: text/calendar\n\n"
	  "BEGIN:VCALENDAR\n--b--\n", 0, "P text/calendar\nA text/calendar ", "VCALENDAR",
	  1, 0, 0, 1 },
	{ "message/rfc822 walked, its subject is body text", MP("m") "\n--m\nContent-Type: text/plain\n\n"
	  "see below\n--m\nContent-Type: message/rfc822\n\nFrom: x@y\n"
	  "Subject: =?utf-8?q?Fwd_=C3=A9?=\nContent-Type: multipart/alternative;\n boundary=\"in\"\n\n"
	  "--in\nContent-Type: text/plain\n\nforwarded text\n--in\nContent-Type: text/html\n\n<p>fw</p>\n"
	  "--in--\n--m--\n", 0,
	  "P text/plain\nB see below\\n\nB Fwd \xc3\xa9\nP text/plain\nB forwarded text\\n\nP text/html",
	  "S Fwd", 3, 0, 0, 3 },
	{ "multipart/digest parts default to message/rfc822",
	  "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n"
	  "Content-Type: text/plain\n\nexplicit\n--d--\n", 0,
	  "B one\nP text/plain\nB first\\n\nP text/plain\nB explicit\\n", NULL, 2, 0, 0, 2 },
	{ "folded part headers", MP("f") "\n--f\nContent-Type:\n text/plain;\n\tcharset=\"iso-8859-1\"\n"
	  "Content-Transfer-Encoding:\n quoted-printable\n\nd=E9j=E0\n--f--\n", 0,
	  "B d\xc3\xa9j\xc3\xa0\\n", NULL, 1, 0, 0, 1 },
	{ "boundary lines with trailing blanks", MP("tb") "\n--tb \t\nContent-Type: text/plain\n\n"
	  "one\n--tb  \nContent-Type: text/plain\n\ntwo\n--tb-- \t\nafter\n", 0,
	  "B one\\n\nB two\\n", "after", 2, 0, 0, 1 },
	{ "a line like a boundary is text", MP("b") "\n--b\n\n--bx\n---b\n--b-\n-- b\n--b--\n", 0,
	  "B --bx\\n---b\\n--b-\\n-- b\\n", NULL, 1, 0, 0, 1 },
	{ "part without headers is text/plain", MP("b") "\n--b\n\nno headers\n--b--\n", 0,
	  "P text/plain\nB no headers\\n", NULL, 1, 0, 0, 1 },
	{ "part with headers only", MP("b") "\n--b\nContent-Type: image/gif\n--b--\n", 0,
	  "P image/gif\nA image/gif ", NULL, 1, 0, 0, 1 },
	{ "a line that is no header ends the part's headers", MP("b") "\n--b\n"
	  "Content-Type: text/plain\nthis is body\n--b--\n", 0, "P text/plain\nB this is body\\n",
	  NULL, 1, 1, 0, 1 },
	{ "boundary of 100 characters",
	  MP("0123456789012345678901234567890123456789012345678901234567890123456789"
	     "012345678901234567890123456789")
	  "\n--0123456789012345678901234567890123456789012345678901234567890123456789"
	  "012345678901234567890123456789\nContent-Type: text/plain\n\nlong boundary\n"
	  "--0123456789012345678901234567890123456789012345678901234567890123456789"
	  "012345678901234567890123456789--\n", 0, "B long boundary\\n", NULL, 1, 0, 0, 1 },
	{ "boundary param unquoted with = and ? in it",
	  "Content-Type: multipart/mixed; boundary=----=_Part_1?x; charset=x\n\n"
	  "------=_Part_1?x\n\nok\n------=_Part_1?x--\n", 0, "B ok\\n", NULL, 1, 0, 0, 1 },

	/* ---- malformed ---- */
	{ "unterminated multipart", MP("u") "\n--u\nContent-Type: text/plain\n\nnever closed\n", 0,
	  "P text/plain\nB never closed\\n", NULL, 1, 1, 0, 1 },
	{ "unterminated inner multipart closed by the outer boundary", MP("o")
	  "\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner\n--o\n\nouter\n--o--\n",
	  0, "B inner\\n\nB outer\\n", NULL, 2, 1, 0, 2 },
	{ "missing boundary parameter: the content is read as text",
	  "Content-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nvisible\n--x--\n", 0,
	  "P text/plain\nB --x\\nContent-Type: text/plain\\n\\nvisible\\n--x--\\n", NULL, 1, 1, 0, 0 },
	{ "last line without a line break closes the multipart", MP("n") "\n--n\n\nlast\n--n--", 0,
	  "B last\\n", NULL, 1, 0, 0, 1 },
	{ "text without a final line break", "Subject: x\n\nno newline", 0, "B no newline\\n", NULL,
	  1, 0, 0, 0 },
	{ "NULs are removed", "Subject: n\n\nab\0cd\0\n", 17, "B abcd\\n", NULL, 1, 0, 0, 0 },
	{ "lone CR kept inside a line", "Subject: n\n\nab\rcd\r\nef\n", 0, "B ab\rcd\\nef\\n", NULL,
	  1, 0, 0, 0, true },
	{ "base64 message/rfc822 is opaque", MP("b") "\n--b\nContent-Type: message/rfc822\n"
	  "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n--b--\n", 0,
	  "P message/rfc822\nA message/rfc822 ", NULL, 1, 0, 0, 1 },
};

/* ---- running a message ---- */

struct run {
	char *record;
	struct hm_mime_stats st;
	size_t body_bytes, header_bytes;
	unsigned violations;
	char why[200];
};

static void run_msg(const char *msg, size_t len, size_t chunk, const struct hm_mime_limits *lim,
		    struct run *r)
{
	struct hm_test_events e;
	struct hm_text_sink sink;
	struct hm_mime *m;

	hm_test_events_init(&e);
	sink = hm_test_sink(&e);
	m = hm_mime_begin(lim, &sink);
	assert_non_null(m);
	hm_test_mime_feed(m, msg, len, chunk);
	r->st = *hm_mime_stats(m);
	hm_mime_free(&m);
	assert_null(m);
	r->record = strdup(e.s);
	r->body_bytes = e.body_bytes;
	r->header_bytes = e.header_bytes;
	r->violations = e.violations;
	memcpy(r->why, e.why, sizeof(r->why));
	hm_test_events_free(&e);
}

/* The message with every "\n" made "\r\n". */
static char *to_crlf(const char *msg, size_t len, size_t *outlen)
{
	char *out = malloc(2 * len + 1);
	size_t o = 0;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n')
			out[o++] = '\r';
		out[o++] = msg[i];
	}
	*outlen = o;
	return out;
}

/* Do the lines of want appear in record, whole and in order? */
static bool has_lines(const char *record, const char *want, const char **missing)
{
	const char *pos = record;
	char line[4096];

	while (want != NULL && *want != '\0') {
		const char *nl = strchr(want, '\n');
		size_t n = nl != NULL ? (size_t)(nl - want) : strlen(want);
		const char *p = pos;

		memcpy(line, want, n);
		line[n] = '\0';
		for (;;) {
			p = strstr(p, line);
			if (p == NULL) {
				*missing = want;
				return false;
			}
			if ((p == record || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
				break;
			p++;
		}
		pos = p + n;
		want = nl != NULL ? nl + 1 : want + n;
	}
	return true;
}

static bool check_case(const struct mcase *c, const struct run *r)
{
	const char *missing = NULL;
	bool ok = true;

	if (r->violations > 0) {
		print_error("%s: sink contract broken: %s\n", c->name, r->why);
		ok = false;
	}
	if (!has_lines(r->record, c->want, &missing)) {
		print_error("%s: missing (in order) \"%.80s\"\n", c->name, missing);
		ok = false;
	}
	if (c->nowant != NULL) {
		char buf[512], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", c->nowant);
		for (char *t = strtok_r(buf, "|", &save); t != NULL; t = strtok_r(NULL, "|", &save))
			if (strstr(r->record, t) != NULL) {
				print_error("%s: unwanted \"%s\"\n", c->name, t);
				ok = false;
			}
	}
#define STAT(field, want) \
	if ((want) != ANY && (int)r->st.field != (want)) { \
		print_error("%s: " #field " %d, want %d\n", c->name, (int)r->st.field, (want)); \
		ok = false; \
	}
	STAT(parts, c->parts);
	STAT(malformed, c->malformed);
	STAT(html_only, c->html_only);
	STAT(depth, c->depth);
	if (!ok)
		print_error("%s: record:\n%s\n", c->name, r->record);
	return ok;
}

static void test_table(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->msg);
		struct run whole;

		run_msg(c->msg, len, 0, &default_limits, &whole);
		if (!check_case(c, &whole)) {
			failed++;
			free(whole.record);
			continue;
		}
		/* Every chunk size gives the same record. */
		for (size_t chunk = 1; chunk <= len; chunk++) {
			struct run r;

			run_msg(c->msg, len, chunk, &default_limits, &r);
			if (strcmp(r.record, whole.record) != 0) {
				print_error("%s: chunks of %zu differ:\n%s\nwhole:\n%s\n", c->name, chunk,
					    r.record, whole.record);
				failed++;
				free(r.record);
				break;
			}
			free(r.record);
		}
		if (!c->no_crlf) {
			size_t clen;
			char *crlf = to_crlf(c->msg, len, &clen);

			for (size_t chunk = 0; chunk <= clen; chunk += chunk < 16 ? 1 : 7) {
				struct run r;

				run_msg(crlf, clen, chunk, &default_limits, &r);
				if (strcmp(r.record, whole.record) != 0) {
					print_error("%s: CRLF, chunks of %zu differ:\n%s\nLF:\n%s\n",
						    c->name, chunk, r.record, whole.record);
					failed++;
					free(r.record);
					break;
				}
				free(r.record);
			}
			free(crlf);
		}
		free(whole.record);
	}
	assert_int_equal(failed, 0);
}

/* ---- limits ---- */

static char *repeat(const char *head, const char *unit, size_t times, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * times + tl + 1);

	assert_non_null(s);
	memcpy(s, head, hl);
	for (size_t i = 0; i < times; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * times, tail, tl + 1);
	*len = hl + ul * times + tl;
	return s;
}

/* Body text stops at text_max, on a whole character, whatever the chunks. */
static void test_text_cap(void **state)
{
	struct hm_mime_limits lim = { 1001, 4096, 8 };
	size_t len;
	char *msg = repeat("Content-Type: text/plain; charset=utf-8\n\n", "\xe2\x82\xac\xc3\xa9x\n",
			   5000, "", &len);
	struct run whole, r;

	(void)state;
	run_msg(msg, len, 0, &lim, &whole);
	assert_int_equal(whole.violations, 0);
	assert_true(whole.st.truncated);
	assert_true(whole.body_bytes <= 1001);
	assert_true(whole.body_bytes >= 1001 - 3);
	for (size_t chunk = 1; chunk < 200; chunk += 13) {
		run_msg(msg, len, chunk, &lim, &r);
		assert_string_equal(r.record, whole.record);
		free(r.record);
	}
	free(whole.record);
	/* Under the cap: not truncated. */
	lim.text_max = 5000 * 7;
	run_msg(msg, len, 0, &lim, &r);
	assert_false(r.st.truncated);
	assert_int_equal(r.body_bytes, 5000 * 7);
	free(r.record);
	free(msg);
}

/* Subject and names share header_text_max; a cut never splits a character. */
static void test_header_cap(void **state)
{
	struct hm_mime_limits lim = { 32768, 10, 8 };
	struct run r;
	const char *msg = "Subject: \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"
			  "From: Someone <a@b>\n\nx\n";

	(void)state;
	run_msg(msg, strlen(msg), 0, &lim, &r);
	assert_int_equal(r.violations, 0);
	assert_int_equal(r.header_bytes, 10);
	assert_non_null(strstr(r.record, "S \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"));
	assert_null(strstr(r.record, "N "));
	free(r.record);
	lim.header_text_max = 9;	/* 4.5 characters: 4, and 1 byte of the name */
	run_msg(msg, strlen(msg), 0, &lim, &r);
	assert_int_equal(r.header_bytes, 9);
	assert_non_null(strstr(r.record, "S \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\nN S\n"));
	free(r.record);
}

/* 100 nested multiparts: depth stops at depth_max, the rest is opaque. */
static void test_absurd_nesting(void **state)
{
	char *msg = malloc(100 * 80 + 200), *p = msg;
	struct run r;

	(void)state;
	assert_non_null(msg);
	p += sprintf(p, "Content-Type: multipart/mixed; boundary=b0\n\n");
	for (int i = 1; i < 100; i++)
		p += sprintf(p, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i - 1, i);
	p += sprintf(p, "--b99\nContent-Type: text/plain\n\ndeep text\n");
	run_msg(msg, strlen(msg), 0, &default_limits, &r);
	assert_int_equal(r.violations, 0);
	assert_int_equal(r.st.depth, 8);
	assert_int_equal(r.st.parts, 1);
	assert_non_null(strstr(r.record, "P multipart/mixed\nA multipart/mixed \n"));
	assert_null(strstr(r.record, "deep text"));
	free(r.record);
	free(msg);
}

/* A boundary longer than the decoder keeps degrades, never overflows. */
static void test_huge_boundary(void **state)
{
	size_t n = 3000, len;
	char *b = malloc(n + 1), *msg = malloc(3 * n + 200);
	struct run r;

	(void)state;
	memset(b, 'q', n);
	b[n] = '\0';
	sprintf(msg, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\n\nin part\n--%s--\n",
		b, b, b);
	len = strlen(msg);
	run_msg(msg, len, 0, &default_limits, &r);
	assert_int_equal(r.violations, 0);
	assert_true(r.st.malformed);
	assert_non_null(strstr(r.record, "in part"));
	free(r.record);
	free(b);
	free(msg);
}

/*
 * Lines longer than the decoder's line buffer are cut into pieces at the
 * same places whatever the chunks (a quoted-printable line padded with 100
 * tabs across the cut found the whole-line path cutting elsewhere).
 */
static void test_long_lines(void **state)
{
	static const char head[] = "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n";
	size_t len = 0;
	char *msg = malloc(sizeof(head) + 5000);
	struct run whole, r;

	(void)state;
	assert_non_null(msg);
	memcpy(msg, head, sizeof(head) - 1);
	len = sizeof(head) - 1;
	memset(msg + len, 'a', 990);
	len += 990;
	memset(msg + len, '\t', 100);
	len += 100;
	msg[len++] = '\n';
	memset(msg + len, 'b', 3000);
	len += 3000;
	memcpy(msg + len, "=\nc\n", 4);
	len += 4;
	run_msg(msg, len, 0, &default_limits, &whole);
	assert_non_null(strstr(whole.record, "aaaa"));
	assert_non_null(strstr(whole.record, "\\nbbbb"));
	assert_non_null(strstr(whole.record, "bbbbc\\n"));
	for (size_t chunk = 1; chunk < 5000; chunk = chunk < 20 ? chunk + 1 : chunk * 2 + 1) {
		run_msg(msg, len, chunk, &default_limits, &r);
		if (strcmp(r.record, whole.record) != 0)
			fail_msg("chunks of %zu differ", chunk);
		free(r.record);
	}
	free(whole.record);
	free(msg);
}

/*
 * Hostile header values stay linear: a megabyte of encoded-word openings
 * without an end, of unterminated comments and quotes.
 */
static void test_hostile_headers(void **state)
{
	size_t len;
	char *subj = repeat("", "=?a?q?x ", 130000, "", &len);
	char *ct = repeat("multipart/mixed; a=\"b\"; ", "(((x; ", 100000, "boundary=zz", &len);
	char *from = repeat("", "\"a\\\" (b <c@d>, ", 60000, "", &len);
	struct hm_test_events e;
	struct hm_text_sink sink;
	struct hm_mime *m;

	(void)state;
	hm_test_events_init(&e);
	sink = hm_test_sink(&e);
	m = hm_mime_begin(&default_limits, &sink);
	assert_non_null(m);
	hm_mime_header(m, "Subject", subj);
	hm_mime_header(m, "Content-Type", ct);
	hm_mime_header(m, "From", from);
	hm_mime_eoh(m);
	hm_mime_body(m, (const unsigned char *)"body\n", 5);
	hm_mime_finish(m);
	hm_mime_free(&m);
	assert_int_equal(e.violations, 0);
	assert_true(e.header_bytes <= default_limits.header_text_max);
	assert_true(strncmp(e.s, "S ", 2) == 0);
	hm_test_events_free(&e);
	free(subj);
	free(ct);
	free(from);
}

/* HTML that is all markup is not parsed to its end: decoding stops at 1 MiB. */
static void test_markup_bounded(void **state)
{
	size_t len;
	char *msg = repeat("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
			   "Content-Type: text/html\n\n", "<b></b><!-- x --><i\n>", 100000,
			   "\n--b\nContent-Type: text/plain\n\nafter\n--b\n"
			   "Content-Type: image/png\n\n--b--\n", &len);
	struct run r;

	(void)state;
	run_msg(msg, len, 65536, &default_limits, &r);
	assert_int_equal(r.violations, 0);
	assert_true(r.st.truncated);
	assert_int_equal(r.st.parts, 3);
	assert_null(strstr(r.record, "after"));
	assert_non_null(strstr(r.record, "P image/png\nA image/png \n"));
	free(r.record);
	free(msg);
}

/*
 * A long Shift_JIS text: iconv gets it a buffer at a time, and the two-byte
 * characters cut by the buffer's end come out whole.
 */
static void test_iconv_long(void **state)
{
	size_t len, wlen;
	char *msg = repeat("Content-Type: text/plain; charset=shift_jis\n\nx", "\x93\xfa\x96\x7b", 3001,
			   "\n", &len);
	char *want = repeat("B x", "\xe6\x97\xa5\xe6\x9c\xac", 3001, "\\n\n", &wlen);
	struct run r;

	(void)state;
	for (size_t chunk = 0; chunk < 5000; chunk = chunk * 3 + 1) {
		run_msg(msg, len, chunk, &default_limits, &r);
		assert_int_equal(r.violations, 0);
		if (strstr(r.record, want) == NULL)
			fail_msg("chunks of %zu: the text differs", chunk);
		free(r.record);
	}
	free(msg);
	free(want);
}

/* Count the record's lines starting with prefix. */
static size_t count_lines(const char *record, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);

	for (const char *p = record; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		n += strncmp(p, prefix, pl) == 0;
	return n;
}

/*
 * 2,000 parts: all counted, at most 256 items about them, and a text part
 * past text_max still ends with its break (no text in between).
 */
static void test_many_parts(void **state)
{
	struct hm_mime_limits lim = { 20, 4096, 8 };
	size_t len;
	char *msg = repeat("Content-Type: multipart/mixed; boundary=b\n\n",
			   "--b\n\n0123456789\n--b\nContent-Type: image/gif\n\nx\n", 1000, "--b--\n", &len);
	struct run r;

	(void)state;
	run_msg(msg, len, 0, &lim, &r);
	assert_int_equal(r.violations, 0);
	assert_int_equal(r.st.parts, 2000);
	assert_true(r.st.truncated);
	/* PART and ATTACHMENT items share the 256; each reported text part breaks. */
	assert_int_equal(count_lines(r.record, "P ") + count_lines(r.record, "A "), 256);
	assert_int_equal(count_lines(r.record, "B "), count_lines(r.record, "P text/plain"));
	assert_non_null(strstr(r.record, "P text/plain\nB 0123456789\\n\nP image/gif\n"
				       "A image/gif \nP text/plain\nB 012345678\nP image/gif\n"
				       "A image/gif \nP text/plain\nB \n"));
	free(r.record);
	free(msg);
}

/* Allocated bytes now (glibc). */
static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

struct count_sink {
	size_t body, items;
	bool bad;
};

static void count_emit(void *arg, enum hm_text_kind kind, const char *s, size_t n)
{
	struct count_sink *c = arg;

	if (!hm_test_utf8_valid(s, n) || memchr(s, '\0', n) != NULL)
		c->bad = true;
	if (kind == HM_TEXT_BODY)
		c->body += n;
	c->items++;
}

/*
 * A 10 MiB body (text, a base64 attachment, long lines, HTML with many
 * links) in 64 KiB chunks: no allocation while it streams, text capped,
 * items bounded.
 */
static void test_big_body_bounded(void **state)
{
	struct count_sink cs = { 0 };
	struct hm_text_sink sink = { count_emit, &cs };
	struct hm_mime *m = hm_mime_begin(&default_limits, &sink);
	char *chunk = malloc(65536);
	size_t before, after;
	static const char head[] = "--b\nContent-Type: text/html; charset=koi8-r\n\n";

	(void)state;
	assert_non_null(m);
	assert_non_null(chunk);
	hm_mime_header(m, "Content-Type", "multipart/mixed; boundary=b");
	hm_mime_eoh(m);
	/* The first chunk opens the part (iconv is opened then). */
	hm_mime_body(m, (const unsigned char *)head, sizeof(head) - 1);
	before = heap_used();
	for (int i = 0; i < 160; i++) {
		size_t n = 0;

		while (n + 80 < 65536) {
			switch ((i + n / 80) % 4) {
			case 0: n += (size_t)sprintf(chunk + n, "<a href=\"http://h%zu.example.com/\">x</a>\n", n); break;
			case 1: n += (size_t)sprintf(chunk + n, "word \xf0\xd2\xc9\xd7\xc5\xd4 %zu\n", n); break;
			case 2: memset(chunk + n, 'x', 79); n += 79; break;	/* a line of 64 KiB */
			default: n += (size_t)sprintf(chunk + n, "&eacute;&#x41;<b>bold</b>\n"); break;
			}
		}
		hm_mime_body(m, (const unsigned char *)chunk, n);
	}
	after = heap_used();
	hm_mime_finish(m);
	assert_true(hm_mime_stats(m)->truncated);
	assert_true(cs.body <= default_limits.text_max);
	assert_false(cs.bad);
	assert_true(cs.items < 2000);
	hm_mime_free(&m);
	free(chunk);
	if (after != before)
		print_error("heap grew by %zd bytes while 10 MiB streamed\n", (ssize_t)(after - before));
	assert_true(after == before);
}

/* ---- modules on their own ---- */

static void test_qp_split_everywhere(void **state)
{
	const char *in = "a=C3=A9b=\n=3d  \nc=";
	size_t n = strlen(in);

	(void)state;
	for (size_t cut = 0; cut <= n; cut++) {
		struct hm_qp q;
		unsigned char out[64];
		size_t o = 0;
		bool bad = false;

		/* Feed line by line, each line cut in two at cut. */
		hm_qp_init(&q);
		for (const char *l = in; *l != '\0';) {
			const char *nl = strchr(l, '\n');
			size_t ll = nl ? (size_t)(nl - l) : strlen(l);
			size_t c = cut < ll ? cut : ll;

			o += hm_qp_decode(&q, (const unsigned char *)l, c, false, out + o, &bad);
			o += hm_qp_decode(&q, (const unsigned char *)l + c, ll - c, nl != NULL, out + o, &bad);
			l += ll + (nl != NULL);
		}
		o += hm_qp_finish(&q, out + o);
		out[o] = '\0';
		if (strcmp((char *)out, "a\xc3\xa9" "b=\nc=") != 0)
			fail_msg("cut %zu: \"%s\"", cut, out);
	}
}

static void host_cat(void *arg, const char *host, size_t n)
{
	strncat(arg, host, n);
	strcat(arg, " ");
}

/* The text scanner finds the same hosts wherever its input is cut. */
static void test_urlscan_split(void **state)
{
	const char *text = "go to http://a.example.com/x and HTTPS://user@b.example.org:81 now,"
			   "https:/no.example.com http://c.example.net";
	size_t n = strlen(text);

	(void)state;
	for (size_t cut = 0; cut <= n; cut++) {
		for (size_t cut2 = cut; cut2 <= n; cut2 += 5) {
			struct hm_urlscan u;
			char got[256] = "";

			hm_urlscan_init(&u);
			hm_urlscan_feed(&u, text, cut, host_cat, got);
			hm_urlscan_feed(&u, text + cut, cut2 - cut, host_cat, got);
			hm_urlscan_feed(&u, text + cut2, n - cut2, host_cat, got);
			hm_urlscan_flush(&u, host_cat, got);
			if (strcmp(got, "a.example.com b.example.org c.example.net ") != 0)
				fail_msg("cut at %zu and %zu: \"%s\"", cut, cut2, got);
		}
	}
}

static void test_url_host(void **state)
{
	static const struct {
		const char *url, *host;
	} t[] = {
		{ "http://www.example.com/", "www.example.com" },
		{ "  HTTPS://A.B.C", "a.b.c" },
		{ "//cdn.x.org/y", "cdn.x.org" },
		{ "http://user:pass@host.example.net:81/", "host.example.net" },
		{ "http://example.com.", "example.com" },
		{ "http://localhost/", "" },
		{ "ftp://x.y/", "" },
		{ "javascript:alert(1)", "" },
		{ "http://", "" },
		{ "http://m\xc3\xbcnchen.de/", "m\xc3\xbcnchen.de" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[HM_URLHOST_MAX + 1];
		size_t n = hm_url_host(t[i].url, strlen(t[i].url), out);

		out[n] = '\0';
		if (strcmp(out, t[i].host) != 0)
			fail_msg("\"%s\": \"%s\", want \"%s\"", t[i].url, out, t[i].host);
	}
}

static void test_entities(void **state)
{
	static const struct {
		const char *name, *want;
	} t[] = {
		{ "amp", "&" }, { "eacute", "\xc3\xa9" }, { "Eacute", "\xc3\x89" },
		{ "EACUTE", NULL }, { "aelig", "\xc3\xa6" }, { "szlig", "\xc3\x9f" },
		{ "#65", "A" }, { "#x20AC", "\xe2\x82\xac" }, { "#X41", "A" },
		{ "#150", "\xe2\x80\x93" }, { "#xD800", "\xef\xbf\xbd" },
		{ "#99999999999", "\xef\xbf\xbd" }, { "#", NULL }, { "#x", NULL },
		{ "nosuch", NULL }, { "shy", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[5];
		size_t n = hm_html_entity(t[i].name, strlen(t[i].name), out);

		out[n] = '\0';
		if (t[i].want == NULL ? n != 0 : strcmp(out, t[i].want) != 0)
			fail_msg("&%s;: \"%s\"", t[i].name, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_text_cap),
		cmocka_unit_test(test_header_cap),
		cmocka_unit_test(test_absurd_nesting),
		cmocka_unit_test(test_huge_boundary),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_markup_bounded),
		cmocka_unit_test(test_iconv_long),
		cmocka_unit_test(test_big_body_bounded),
		cmocka_unit_test(test_qp_split_everywhere),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_urlscan_split),
		cmocka_unit_test(test_entities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * msgcheck.c - header facts of a message (From, Date, Message-ID) and the
 * symbols they fire; the RFC 5322 date-time parser.
 *
 * The parser is hand-written rather than strptime(3), which depends on the
 * locale for month and day names and knows neither comments nor the
 * obsolete zones.  It never allocates and reads the value once.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scoring/msgcheck.h"

#define COMMENT_DEPTH_MAX 16		/* nested comments in a Date value */

void hm_msgcheck_init(struct hm_msgcheck *m)
{
	memset(m, 0, sizeof(*m));
	m->date_state = HM_DATE_ABSENT;
}

/* White space only (libmilter's leading space and folding included)? */
static bool blank(const char *v)
{
	for (; *v; v++)
		if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
			return false;
	return true;
}

void hm_msgcheck_header(struct hm_msgcheck *m, const char *name, const char *value)
{
	if (name == NULL || value == NULL)
		return;
	if (strcasecmp(name, "From") == 0) {
		if (m->from_headers < ~0u)
			m->from_headers++;
		if (!blank(value) && m->from_nonempty < ~0u)
			m->from_nonempty++;
	} else if (strcasecmp(name, "Message-ID") == 0) {
		if (!blank(value) && m->msgid_nonempty < ~0u)
			m->msgid_nonempty++;
	} else if (strcasecmp(name, "Date") == 0) {
		/* Judge the first non-empty Date only; later ones change nothing. */
		if (m->date_state != HM_DATE_ABSENT || blank(value))
			return;
		if (hm_date_parse(value, &m->date, m->date_err, sizeof(m->date_err)) == 0)
			m->date_state = HM_DATE_OK;
		else
			m->date_state = HM_DATE_BAD;
	}
}

/* "N unit" with the unit in the singular for 1. */
static void amount(char *buf, size_t len, long long n, const char *unit)
{
	snprintf(buf, len, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

void hm_msgcheck_finish(const struct hm_msgcheck *m, const struct hm_from_list *from,
			time_t now, const struct hm_weights *w, struct hm_symbols *out)
{
	char detail[HM_SYM_DETAIL_MAX];
	long long diff;

	if (m->from_nonempty == 0) {
		hm_symbols_fire(out, w, HM_SYM_MISSING_FROM, m->from_headers ? "empty" : NULL);
	} else if (m->from_headers > 1) {
		snprintf(detail, sizeof(detail), "%u From headers", m->from_headers);
		hm_symbols_fire(out, w, HM_SYM_MULTIPLE_FROM, detail);
	} else if (from != NULL && from->overflow) {
		snprintf(detail, sizeof(detail), "more than %d addresses", HM_FROM_MAX);
		hm_symbols_fire(out, w, HM_SYM_MULTIPLE_FROM, detail);
	} else if (from != NULL && from->count > 1) {
		snprintf(detail, sizeof(detail), "%zu addresses", from->count);
		hm_symbols_fire(out, w, HM_SYM_MULTIPLE_FROM, detail);
	}

	if (m->msgid_nonempty == 0)
		hm_symbols_fire(out, w, HM_SYM_MISSING_MESSAGE_ID, NULL);

	switch (m->date_state) {
	case HM_DATE_ABSENT:
		hm_symbols_fire(out, w, HM_SYM_MISSING_DATE, NULL);
		break;
	case HM_DATE_BAD:
		snprintf(detail, sizeof(detail), "unparseable: %s",
			 m->date_err[0] ? m->date_err : "?");
		hm_symbols_fire(out, w, HM_SYM_MISSING_DATE, detail);
		break;
	case HM_DATE_OK:
		/* Both are far from the ends of the range: the parser caps years at 9999. */
		if (__builtin_sub_overflow((long long)now, (long long)m->date, &diff))
			break;
		if (diff > HM_DATE_PAST_MAX) {
			amount(detail, sizeof(detail), diff / 86400, "day");
			hm_symbols_fire(out, w, HM_SYM_DATE_IN_PAST, detail);
		} else if (-diff > HM_DATE_FUTURE_MAX) {
			if (-diff < 2 * 86400)
				amount(detail, sizeof(detail), -diff / 3600, "hour");
			else
				amount(detail, sizeof(detail), -diff / 86400, "day");
			hm_symbols_fire(out, w, HM_SYM_DATE_IN_FUTURE, detail);
		}
		break;
	}
}

/* ---- RFC 5322 date-time ---- */

struct dparse {
	const char *s;
	const char *err;
};

static bool fail(struct dparse *p, const char *err)
{
	if (p->err == NULL)
		p->err = err;
	return false;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skip CFWS: white space, line breaks of folding, nested comments. */
static bool skip_cfws(struct dparse *p)
{
	for (;;) {
		char c = *p->s;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p->s++;
		} else if (c == '(') {
			int depth = 0;

			do {
				c = *p->s++;
				if (c == '\0')
					return fail(p, "unterminated comment");
				if (c == '\\') {
					if (*p->s == '\0')
						return fail(p, "unterminated comment");
					p->s++;
				} else if (c == '(') {
					if (++depth > COMMENT_DEPTH_MAX)
						return fail(p, "comments nested too deep");
				} else if (c == ')') {
					depth--;
				}
			} while (depth > 0);
		} else {
			return true;
		}
	}
}

/*
 * A run of digits: between min and max of them, or an error.  The whole
 * run is read, so "2024123" as a year is an error, not 2024 and a rest.
 */
static bool digits(struct dparse *p, int min, int max, int *val, int *n_r, const char *err)
{
	int n = 0, v = 0;

	while (is_digit(*p->s)) {
		if (n < max)
			v = v * 10 + (*p->s - '0');
		n++;
		p->s++;
	}
	if (n < min || n > max)
		return fail(p, err);
	*val = v;
	if (n_r)
		*n_r = n;
	return true;
}

/* A run of ASCII letters into buf (at most len - 1 of them, else an error). */
static bool word(struct dparse *p, char *buf, size_t len, const char *err)
{
	size_t n = 0;

	while (is_alpha(*p->s)) {
		if (n + 1 >= len)
			return fail(p, err);
		buf[n++] = *p->s++;
	}
	buf[n] = '\0';
	return n > 0 ? true : fail(p, err);
}

/* Index of w in a list of names (case-insensitive), or -1. */
static int lookup(const char *w, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (strcasecmp(w, names[i]) == 0)
			return i;
	return -1;
}

static const char *const day_names[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static const struct {
	const char *name;
	int minutes;			/* east of UTC */
} zone_names[] = {
	{ "UT", 0 }, { "GMT", 0 },
	{ "EDT", -4 * 60 }, { "EST", -5 * 60 }, { "CDT", -5 * 60 }, { "CST", -6 * 60 },
	{ "MDT", -6 * 60 }, { "MST", -7 * 60 }, { "PDT", -7 * 60 }, { "PST", -8 * 60 },
};

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days from 0001-01-01 to the first of January of year y (proleptic Gregorian). */
static long long days_before_year(long long y)
{
	y--;
	return y * 365 + y / 4 - y / 100 + y / 400;
}

static long long days_since_epoch(int y, int m, int d)
{
	static const int before_month[12] = {
		0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
	};
	long long days = days_before_year(y) - days_before_year(1970);

	days += before_month[m - 1] + (m > 2 && leap(y) ? 1 : 0);
	return days + d - 1;
}

/* The zone: +hhmm / -hhmm, a name, or a military letter.  Minutes east of UTC. */
static bool zone(struct dparse *p, int *minutes)
{
	char w[8];
	int v, i;

	if (*p->s == '+' || *p->s == '-') {
		int sign = *p->s++ == '-' ? -1 : 1;

		if (!digits(p, 4, 4, &v, NULL, "bad zone"))
			return false;
		if (v % 100 > 59)
			return fail(p, "bad zone");
		*minutes = sign * (v / 100 * 60 + v % 100);
		return true;
	}
	if (!word(p, w, sizeof(w), "bad zone"))
		return false;
	for (i = 0; i < (int)(sizeof(zone_names) / sizeof(zone_names[0])); i++) {
		if (strcasecmp(w, zone_names[i].name) == 0) {
			*minutes = zone_names[i].minutes;
			return true;
		}
	}
	/* RFC 5322 4.3: military zones were defined wrongly in RFC 822; take them as -0000. */
	if (w[1] == '\0' && w[0] != 'J' && w[0] != 'j') {
		*minutes = 0;
		return true;
	}
	return fail(p, "bad zone");
}

static bool date_time(struct dparse *p, time_t *t_r)
{
	char w[8];
	int day, mon, year, ny, hour, min, sec = 0, zmin;

	if (!skip_cfws(p))
		return false;
	if (is_alpha(*p->s)) {
		if (!word(p, w, sizeof(w), "bad day of week") ||
		    lookup(w, day_names, 7) < 0)
			return fail(p, "bad day of week");
		if (!skip_cfws(p))
			return false;
		if (*p->s != ',')
			return fail(p, "no comma after the day of week");
		p->s++;
		if (!skip_cfws(p))
			return false;
	}
	if (!digits(p, 1, 2, &day, NULL, "bad day") || !skip_cfws(p))
		return false;
	if (!word(p, w, sizeof(w), "bad month") || (mon = lookup(w, month_names, 12) + 1) == 0)
		return fail(p, "bad month");
	if (!skip_cfws(p) || !digits(p, 2, 4, &year, &ny, "bad year") || !skip_cfws(p))
		return false;
	if (ny == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ny == 3)
		year += 1900;
	else if (year < 1900)
		return fail(p, "year before 1900");
	if (day < 1 || day > month_days(year, mon))
		return fail(p, "no such day in that month");

	if (!digits(p, 1, 2, &hour, NULL, "bad hour") || !skip_cfws(p))
		return false;
	if (*p->s != ':')
		return fail(p, "bad time");
	p->s++;
	if (!skip_cfws(p) || !digits(p, 2, 2, &min, NULL, "bad minute") || !skip_cfws(p))
		return false;
	if (*p->s == ':') {
		p->s++;
		if (!skip_cfws(p) || !digits(p, 2, 2, &sec, NULL, "bad second") ||
		    !skip_cfws(p))
			return false;
	}
	if (hour > 23 || min > 59 || sec > 60)	/* 60: a leap second */
		return fail(p, "time out of range");
	if (!zone(p, &zmin) || !skip_cfws(p))
		return false;
	if (*p->s != '\0')
		return fail(p, "text after the zone");

	*t_r = (time_t)(days_since_epoch(year, mon, day) * 86400 +
			hour * 3600 + min * 60 + sec - zmin * 60);
	return true;
}

int hm_date_parse(const char *value, time_t *t_r, char *err, size_t errlen)
{
	struct dparse p = { value, NULL };
	time_t t;

	if (value == NULL || !date_time(&p, &t)) {
		snprintf(err, errlen, "%s", p.err ? p.err : "empty");
		return -1;
	}
	*t_r = t;
	return 0;
}

/*
 * urlhost.c - URL hosts from attribute values and from running text.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "scoring/urlhost.h"

/* Bytes a host name may hold: letters, digits, "-", ".", "_", and UTF-8. */
static bool hostchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* Bytes user info or a port may hold before the "@" that ends user info. */
static bool userchar(unsigned char c)
{
	return hostchar(c) || c == '~' || c == '%' || c == '!' || c == '$' || c == '&' ||
	       c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
	       c == ';' || c == '=' || c == ':';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Trim what no host name ends with (".", "-", "_"), check: its length, or 0. */
static size_t host_done(char *h, size_t len)
{
	while (len > 0 && (h[len - 1] == '.' || h[len - 1] == '-' || h[len - 1] == '_'))
		len--;
	while (len > 0 && h[0] == '.') {
		memmove(h, h + 1, --len);
	}
	if (len == 0 || len > HM_URLHOST_MAX || memchr(h, '.', len) == NULL)
		return 0;
	h[len] = '\0';
	return len;
}

size_t hm_url_host(const char *url, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)url;
	size_t i = 0, len = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (n - i >= 7 && strncasecmp(url + i, "http://", 7) == 0)
		i += 7;
	else if (n - i >= 8 && strncasecmp(url + i, "https://", 8) == 0)
		i += 8;
	else if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/')
		i += 2;
	else
		return 0;
	/* User info ends at the last "@" before the path. */
	for (size_t j = i; j < n && (userchar(s[j]) || s[j] == '@'); j++)
		if (s[j] == '@')
			i = j + 1;
	for (; i < n && hostchar(s[i]); i++) {
		if (len == HM_URLHOST_MAX)
			return 0;
		out[len++] = (char)lower(s[i]);
	}
	return host_done(out, len);
}

void hm_urlscan_init(struct hm_urlscan *u)
{
	memset(u, 0, sizeof(*u));
}

static void emit_host(struct hm_urlscan *u, hm_host_fn *fn, void *arg)
{
	size_t len = u->toolong ? 0 : host_done(u->host, u->hlen);

	if (len > 0)
		fn(arg, u->host, len);
	u->state = 0;
	u->idx = 0;
	u->hlen = 0;
	u->toolong = false;
}

/*
 * Does the text before offset j of s (continued back into u->back) end
 * with "http" or "https", any case?
 */
static bool scheme_before(const struct hm_urlscan *u, const unsigned char *s, size_t j)
{
	unsigned char b[5];

	for (size_t k = 1; k <= 5; k++)
		b[5 - k] = lower(j >= k ? s[j - k] : u->back[5 - (k - j)]);
	return memcmp(b + 1, "http", 4) == 0 || memcmp(b, "https", 5) == 0;
}

void hm_urlscan_feed(struct hm_urlscan *u, const char *str, size_t n, hm_host_fn *fn, void *arg)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (u->state == 0) {
			/* Fast path: a URL scheme ends at a ":", a rare byte in text. */
			const unsigned char *colon = memchr(s + i, ':', n - i);

			if (colon == NULL)
				break;
			i = (size_t)(colon - s);
			if (scheme_before(u, s, i)) {
				u->state = 3;
				u->idx = 0;
			}
		} else if (u->state == 3) {
			if (c == '/' && ++u->idx == 2)
				u->state = 1;
			else if (c != '/')
				u->state = 0;
			if (c == ':')
				i--;		/* it may end another scheme: look again */
		} else if (u->state == 1 && hostchar(c) && c < 0x80) {
			/* In running text a host ends at non-ASCII: CJK text often
			 * follows a URL without a blank, IDN hosts in text are rare. */
			if (u->hlen < HM_URLHOST_MAX)
				u->host[u->hlen++] = (char)lower(c);
			else
				u->toolong = true;
		} else if (u->state == 1 && c == '@') {
			u->hlen = 0;		/* that was user info */
			u->toolong = false;
		} else if (u->state == 1 && c == ':') {
			u->state = 2;
		} else if (u->state == 2 && c == '@') {
			u->hlen = 0;		/* "user:password@" */
			u->toolong = false;
			u->state = 1;
		} else if (u->state == 2 && userchar(c)) {
			/* a port, or a password */
		} else {
			emit_host(u, fn, arg);
		}
	}
	/* Remember the last bytes: a scheme may end in the next piece. */
	if (n >= sizeof(u->back)) {
		memcpy(u->back, s + n - sizeof(u->back), sizeof(u->back));
	} else {
		memmove(u->back, u->back + n, sizeof(u->back) - n);
		memcpy(u->back + sizeof(u->back) - n, s, n);
	}
}

void hm_urlscan_flush(struct hm_urlscan *u, hm_host_fn *fn, void *arg)
{
	if (u->state != 0)
		emit_host(u, fn, arg);
	u->state = 0;
	u->idx = 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * daemon/ejson.c — MongoDB Extended JSON in client request bodies, decoded
 * to plain JSON before any provider or program sees them.
 *
 * The App Services SDKs send request values as canonical EJSON (realm-web
 * a device id as {"$oid": "..."}, both SDKs numbers as {"$numberInt":
 * "2"}); the hosted service decodes them before its functions run, and so
 * does sesamed, once, for the client API's JSON bodies.  The mapping (also
 * in sesamed(8)):
 *
 *   {"$numberInt": "N"}     an integer, -2^31 .. 2^31-1
 *   {"$numberLong": "N"}    an integer, -2^63 .. 2^63-1
 *   {"$numberDouble": "X"}  a real; "Infinity", "-Infinity" and "NaN" (which
 *                           JSON cannot hold) and overflows are refused
 *   {"$oid": "24 hex"}      the 24 hex digits as a lowercase string
 *   {"$date": {"$numberLong": "MS"}} or {"$date": "ISO-8601"}
 *                           the integer milliseconds since the epoch
 *   $numberDecimal, $binary, $uuid, $regularExpression, $timestamp,
 *   $symbol, $code, $codeWithScope, $dbPointer, $minKey, $maxKey,
 *   $undefined              refused: no plain JSON value means the same
 *
 * Only an object whose single member is one of these keys is EJSON; any
 * other object, including one with a "$" key beside other members, is
 * data and stays as it is.  Nesting deeper than EJSON_MAX_DEPTH is
 * refused.  Every refusal names the member by its path
 * ("options.device.deviceId", "arguments[0]").
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"

#define PATH_MAX_BYTES 200

/* Where in the body a value is, for messages. */
struct where {
	char path[PATH_MAX_BYTES + 4];
	size_t len;
};

/* Append ".key" (or "key" at the top) or "[i]"; a path that does not fit
 * ends in "..." and is never cut inside a UTF-8 character. */
static size_t where_push(struct where *w, const char *key, size_t index)
{
	size_t before = w->len, room, n;
	char seg[PATH_MAX_BYTES + 16];

	if (key)
		n = (size_t)snprintf(seg, sizeof(seg), "%s%s", w->len ? "." : "", key);
	else
		n = (size_t)snprintf(seg, sizeof(seg), "[%zu]", index);
	if (n >= sizeof(seg))
		n = sizeof(seg) - 1;
	room = PATH_MAX_BYTES - w->len;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)seg[n] & 0xc0) == 0x80)
			n--;
		memcpy(w->path + w->len, seg, n);
		memcpy(w->path + w->len + n, "...", 4);
		w->len = PATH_MAX_BYTES;
		return before;
	}
	memcpy(w->path + w->len, seg, n);
	w->len += n;
	w->path[w->len] = '\0';
	return before;
}

static void where_pop(struct where *w, size_t len)
{
	w->len = len;
	w->path[len] = '\0';
}

static int refuse(const struct where *w, sesame_error *err, const char *what)
{
	return derr(err, SESAME_MALFORMED, "ejson", "invalid EJSON at \"%s\": %s", w->len ? w->path : "(body)", what);
}

/* The integer of a decimal string (optional '-', digits) in [min, max]. */
static bool parse_integer(const char *s, long long min, long long max, long long *out)
{
	const char *p = s + (*s == '-');
	char *end;
	long long v;

	if (*p < '0' || *p > '9' || strspn(p, "0123456789") != strlen(p))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A finite double in the JSON number syntax (no hex, no inf or nan words). */
static bool parse_double(const char *s, double *out)
{
	const char *p = s + (*s == '-');
	size_t digits = strspn(p, "0123456789");
	char *end;
	double v;

	if (digits == 0)
		return false;
	p += digits;
	if (*p == '.') {
		digits = strspn(++p, "0123456789");
		if (digits == 0)
			return false;
		p += digits;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '+' || *p == '-';
		digits = strspn(p, "0123456789");
		if (digits == 0)
			return false;
		p += digits;
	}
	if (*p != '\0')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* n digits at s; -1 when any is not a digit. */
static int digits_at(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * RFC 3339 date-time (EJSON's relaxed $date): YYYY-MM-DDTHH:MM:SS, an
 * optional fraction (milliseconds kept, the rest cut), then Z or +HH:MM /
 * -HH:MM; the milliseconds since the epoch.
 */
static bool parse_iso_date(const char *s, long long *ms)
{
	int year = digits_at(s, 4), mon, day, hour, min, sec, frac = 0, fdigits = 0, off = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p;
	struct tm tm = {0};
	time_t t;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
	    s[16] != ':')
		return false;
	mon = digits_at(s + 5, 2);
	day = digits_at(s + 8, 2);
	hour = digits_at(s + 11, 2);
	min = digits_at(s + 14, 2);
	sec = digits_at(s + 17, 2);
	if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour < 0 || hour > 23 || min < 0 ||
	    min > 59 || sec < 0 || sec > 60)
		return false;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, fdigits++)
			if (fdigits < 3)
				frac = frac * 10 + (*p - '0');
		if (fdigits == 0)
			return false;
		for (; fdigits < 3; fdigits++)
			frac *= 10;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = digits_at(p + 1, 2), om = digits_at(p + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return false;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second counts as :59 */
	t = timegm(&tm);
	/* timegm() normalises 31 April to 1 May: the day must survive. */
	if (tm.tm_mday != day)
		return false;
	*ms = ((long long)t - off) * 1000 + frac;
	return true;
}

/* The EJSON keys of a single-member object that sesamed refuses. */
static const char *const refused[] = {
    "$numberDecimal", "$binary", "$uuid",   "$regularExpression", "$timestamp", "$symbol", "$code", "$codeWithScope",
    "$dbPointer",     "$minKey", "$maxKey", "$undefined",	  NULL};

/* The key of `v` when it is a single-member object with a known EJSON key. */
static const char *wrapper_key(const json_t *v)
{
	static const char *const decoded[] = {"$numberInt", "$numberLong", "$numberDouble", "$oid", "$date", NULL};
	const char *key;
	json_t *m;
	size_t i;

	if (!json_is_object(v) || json_object_size(v) != 1)
		return NULL;
	json_object_foreach ((json_t *)v, key, m) {
		for (i = 0; decoded[i]; i++)
			if (strcmp(key, decoded[i]) == 0)
				return decoded[i];
		for (i = 0; refused[i]; i++)
			if (strcmp(key, refused[i]) == 0)
				return refused[i];
	}
	return NULL;
}

/* The plain value of the wrapper `v` whose key is `key`. */
static int unwrap(const char *key, const json_t *v, json_t **out, const struct where *w, sesame_error *err)
{
	const json_t *inner = json_object_get(v, key);
	const char *s = json_string_value(inner);
	char text[96];
	long long n;
	double d;
	size_t i;

	*out = NULL;
	if (strcmp(key, "$numberInt") == 0) {
		if (!s || !parse_integer(s, INT32_MIN, INT32_MAX, &n))
			return refuse(w, err, "$numberInt must be a string of a 32-bit integer");
		*out = json_integer((json_int_t)n);
	} else if (strcmp(key, "$numberLong") == 0) {
		if (!s || !parse_integer(s, INT64_MIN, INT64_MAX, &n))
			return refuse(w, err, "$numberLong must be a string of a 64-bit integer");
		*out = json_integer((json_int_t)n);
	} else if (strcmp(key, "$numberDouble") == 0) {
		if (s && (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0 || strcmp(s, "NaN") == 0)) {
			snprintf(text, sizeof(text), "$numberDouble \"%s\" has no JSON form", s);
			return refuse(w, err, text);
		}
		if (!s || !parse_double(s, &d))
			return refuse(w, err, "$numberDouble must be a string of a finite number");
		*out = json_real(d);
	} else if (strcmp(key, "$oid") == 0) {
		char hex[25];

		if (!s || json_string_length(inner) != 24 || strspn(s, "0123456789abcdefABCDEF") != 24)
			return refuse(w, err, "$oid must be a string of 24 hexadecimal digits");
		for (i = 0; i < 24; i++)
			hex[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
		hex[24] = '\0';
		*out = json_string(hex);
	} else if (strcmp(key, "$date") == 0) {
		const char *ms = json_string_value(json_object_get(inner, "$numberLong"));

		if (json_is_object(inner) && json_object_size(inner) == 1 && ms &&
		    parse_integer(ms, INT64_MIN, INT64_MAX, &n))
			*out = json_integer((json_int_t)n);
		else if (s && parse_iso_date(s, &n))
			*out = json_integer((json_int_t)n);
		else
			return refuse(
			    w, err,
			    "$date must be {\"$numberLong\": \"<milliseconds>\"} or an ISO-8601 date-time string");
	} else {
		snprintf(text, sizeof(text), "EJSON %s has no plain JSON form and is not accepted", key);
		return refuse(w, err, text);
	}
	if (!*out)
		return derr(err, SESAME_INTERNAL, "nomem", "out of memory");
	return SESAME_OK;
}

/* Decode the members of object or array `v` in place. */
static int decode(json_t *v, int depth, struct where *w, sesame_error *err)
{
	const char *key;
	json_t *m, *plain;
	size_t i, mark;

	if (!json_is_object(v) && !json_is_array(v))
		return SESAME_OK;
	if (depth > EJSON_MAX_DEPTH)
		return refuse(w, err, "nested deeper than " EJSON_MAX_DEPTH_TEXT " levels");
	if (json_is_object(v)) {
		json_object_foreach (v, key, m) {
			const char *wk = wrapper_key(m);
			int rc;

			mark = where_push(w, key, 0);
			if (wk) {
				rc = unwrap(wk, m, &plain, w, err);
				/* Replacing a member's value keeps the iteration valid. */
				if (rc == SESAME_OK && json_object_set_new(v, key, plain) != 0)
					rc = derr(err, SESAME_INTERNAL, "nomem", "out of memory");
			} else {
				rc = decode(m, depth + 1, w, err);
			}
			where_pop(w, mark);
			if (rc != SESAME_OK)
				return rc;
		}
		return SESAME_OK;
	}
	json_array_foreach (v, i, m) {
		const char *wk = wrapper_key(m);
		int rc;

		mark = where_push(w, NULL, i);
		if (wk) {
			rc = unwrap(wk, m, &plain, w, err);
			if (rc == SESAME_OK && json_array_set_new(v, i, plain) != 0)
				rc = derr(err, SESAME_INTERNAL, "nomem", "out of memory");
		} else {
			rc = decode(m, depth + 1, w, err);
		}
		where_pop(w, mark);
		if (rc != SESAME_OK)
			return rc;
	}
	return SESAME_OK;
}

int ejson_decode(json_t *body, sesame_error *err)
{
	struct where w = {"", 0};

	return decode(body, 1, &w, err);
}

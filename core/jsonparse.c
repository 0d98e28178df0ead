/*
 * core/jsonparse.c — the JSON of a token's header and payload, read in one
 * pass straight into jansson values.
 *
 * Token verification is the hottest path sesame has, and jansson's
 * json_loadb() reads a byte at a time through a stream abstraction, copies
 * every token into a growing buffer and allocates each string twice: for a
 * 600-byte ID-token payload that is most of what a verification costs
 * beyond the signature.  The claims still have to become jansson values
 * (they cross the provider ABI as json_t), so this parser builds exactly
 * what json_loadb() builds, from a scan that walks the text once and copies
 * a string only when it holds an escape.
 *
 * It accepts exactly what json_loadb(text, len, JSON_REJECT_DUPLICATES)
 * accepts and refuses the rest with the same classes of error, so the
 * hostile-input checks built on jansson's (duplicate members at any depth,
 * \u0000 in strings and keys, numbers out of range, invalid UTF-8, lone
 * surrogates, nesting deeper than 2048, trailing text) stay the same:
 * tests/unit/test-jsonparse.c compares the two on every case it has.  One
 * difference is deliberate: a raw NUL byte is refused wherever it is
 * (jansson drops one that directly follows a number).
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jose.h"

/* jansson's JSON_PARSER_MAX_DEPTH. */
#define MAX_DEPTH 2048
/* Longest number text read without an allocation. */
#define NUMBER_BUFFER 64

struct parser {
	const unsigned char *start, *p, *end;
	unsigned depth;
	/* Unescaped strings are built here; grown as needed. */
	char *buf;
	size_t cap;
	char small[256];
	struct jsonparse_error *e;
};

static json_t *fail(struct parser *ps, int code, const char *text)
{
	if (ps->e->code == JSONPARSE_OK) {
		ps->e->code = code;
		ps->e->text = text;
		ps->e->offset = (size_t)(ps->p - ps->start);
	}
	return NULL;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

/*
 * The length of the UTF-8 sequence at `s` (at most `left` bytes) if it is
 * one jansson accepts — no overlong form, no surrogate, nothing above
 * U+10FFFF — else 0.
 */
static size_t utf8_length(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	uint32_t v;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	return n;
}

static bool reserve(struct parser *ps, size_t need)
{
	char *grown;
	size_t cap;

	if (need <= ps->cap)
		return true;
	cap = ps->cap * 2 > need ? ps->cap * 2 : need;
	grown = ps->buf == ps->small ? malloc(cap) : realloc(ps->buf, cap);
	if (!grown)
		return false;
	if (ps->buf == ps->small)
		memcpy(grown, ps->small, ps->cap);
	ps->buf = grown;
	ps->cap = cap;
	return true;
}

static int hex4(const unsigned char *s)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		unsigned c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (int)(c - 'A' + 10);
		else
			return -1;
	}
	return v;
}

static size_t utf8_encode(uint32_t v, char *out)
{
	if (v < 0x80) {
		out[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		out[0] = (char)(0xc0 | (v >> 6));
		out[1] = (char)(0x80 | (v & 0x3f));
		return 2;
	}
	if (v < 0x10000) {
		out[0] = (char)(0xe0 | (v >> 12));
		out[1] = (char)(0x80 | ((v >> 6) & 0x3f));
		out[2] = (char)(0x80 | (v & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (v >> 18));
	out[1] = (char)(0x80 | ((v >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((v >> 6) & 0x3f));
	out[3] = (char)(0x80 | (v & 0x3f));
	return 4;
}

/* The rest of a string holding an escape, from `from` (the first escape),
 * unescaped into ps->buf after the `done` bytes before it. */
static bool unescape(struct parser *ps, const unsigned char *begin, const unsigned char *from, const char **s,
		     size_t *n, bool *nul)
{
	size_t o = (size_t)(from - begin);

	/* Unescaped text is never longer than its source. */
	if (!reserve(ps, (size_t)(ps->end - begin) + 1)) {
		fail(ps, JSONPARSE_MEMORY, "out of memory");
		return false;
	}
	memcpy(ps->buf, begin, o);
	ps->p = from;
	while (ps->p < ps->end) {
		unsigned c = *ps->p;
		int v, w;

		if (c == '"') {
			ps->p++;
			*s = ps->buf;
			*n = o;
			return true;
		}
		if (c < 0x20) {
			fail(ps, JSONPARSE_SYNTAX, "control character in string");
			return false;
		}
		if (c >= 0x80) {
			size_t k = utf8_length(ps->p, (size_t)(ps->end - ps->p));

			if (k == 0) {
				fail(ps, JSONPARSE_SYNTAX, "invalid UTF-8");
				return false;
			}
			memcpy(ps->buf + o, ps->p, k);
			o += k;
			ps->p += k;
			continue;
		}
		if (c != '\\') {
			ps->buf[o++] = (char)c;
			ps->p++;
			continue;
		}
		if (ps->end - ps->p < 2) {
			fail(ps, JSONPARSE_SYNTAX, "premature end of input");
			return false;
		}
		c = ps->p[1];
		ps->p += 2;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			ps->buf[o++] = (char)c;
			continue;
		case 'b':
			ps->buf[o++] = '\b';
			continue;
		case 'f':
			ps->buf[o++] = '\f';
			continue;
		case 'n':
			ps->buf[o++] = '\n';
			continue;
		case 'r':
			ps->buf[o++] = '\r';
			continue;
		case 't':
			ps->buf[o++] = '\t';
			continue;
		case 'u':
			break;
		default:
			fail(ps, JSONPARSE_SYNTAX, "invalid escape");
			return false;
		}
		v = ps->end - ps->p >= 4 ? hex4(ps->p) : -1;
		if (v < 0) {
			fail(ps, JSONPARSE_SYNTAX, "invalid escape");
			return false;
		}
		ps->p += 4;
		if (v >= 0xd800 && v <= 0xdbff) {
			/* A high surrogate must be followed by a low one. */
			w = ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' ? hex4(ps->p + 2) : -1;
			if (w < 0xdc00 || w > 0xdfff) {
				fail(ps, JSONPARSE_SYNTAX, "invalid Unicode surrogate");
				return false;
			}
			ps->p += 6;
			v = ((v - 0xd800) << 10) + (w - 0xdc00) + 0x10000;
		} else if (v >= 0xdc00 && v <= 0xdfff) {
			fail(ps, JSONPARSE_SYNTAX, "invalid Unicode surrogate");
			return false;
		}
		if (v == 0)
			*nul = true;
		o += utf8_encode((uint32_t)v, ps->buf + o);
	}
	fail(ps, JSONPARSE_SYNTAX, "premature end of input");
	return false;
}

/*
 * A string, ps->p just after its opening quote: `*s` points into the text
 * when it holds no escape (the common case: nothing is copied), else into
 * ps->buf, valid until the next string.  `*nul` says it holds U+0000.
 */
static bool scan_string(struct parser *ps, const char **s, size_t *n, bool *nul)
{
	const unsigned char *begin = ps->p, *q = ps->p;

	*nul = false;
	while (q < ps->end) {
		unsigned c = *q;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			q++;
			continue;
		}
		if (c == '"') {
			*s = (const char *)begin;
			*n = (size_t)(q - begin);
			ps->p = q + 1;
			return true;
		}
		if (c == '\\')
			return unescape(ps, begin, q, s, n, nul);
		if (c < 0x20) {
			ps->p = q;
			fail(ps, JSONPARSE_SYNTAX, "control character in string");
			return false;
		}
		c = (unsigned)utf8_length(q, (size_t)(ps->end - q));
		if (c == 0) {
			ps->p = q;
			fail(ps, JSONPARSE_SYNTAX, "invalid UTF-8");
			return false;
		}
		q += c;
	}
	ps->p = q;
	fail(ps, JSONPARSE_SYNTAX, "premature end of input");
	return false;
}

/* strtod in the C locale whatever the process's: "1.5" is always 1.5. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static json_t *parse_real(struct parser *ps, const unsigned char *from)
{
	size_t n = (size_t)(ps->p - from);
	char small[NUMBER_BUFFER], *text = n < sizeof(small) ? small : malloc(n + 1), *end;
	double v;

	if (!text)
		return fail(ps, JSONPARSE_MEMORY, "out of memory");
	memcpy(text, from, n);
	text[n] = '\0';
	pthread_once(&c_locale_once, c_locale_init);
	errno = 0;
	v = c_locale ? strtod_l(text, &end, c_locale) : strtod(text, &end);
	if (text != small)
		free(text);
	if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) {
		ps->p = from;
		return fail(ps, JSONPARSE_OVERFLOW, "real number overflow");
	}
	return json_real(v);
}

/* A number as JSON (RFC 8259 6) spells it: an integer of json_int_t's
 * range, or a real. */
static json_t *parse_number(struct parser *ps)
{
	const unsigned char *from = ps->p;
	bool neg = false, real = false;
	uint64_t mag = 0, limit;
	bool over = false;

	if (*ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (ps->p == ps->end || *ps->p < '0' || *ps->p > '9')
		return fail(ps, JSONPARSE_SYNTAX, "invalid number");
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (*ps->p == '0') {
		ps->p++;
		if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			return fail(ps, JSONPARSE_SYNTAX, "invalid number (leading zero)");
	} else {
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
			unsigned d = *ps->p++ - '0';

			if (mag > (limit - d) / 10)
				over = true;
			else
				mag = mag * 10 + d;
		}
	}
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p == ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, JSONPARSE_SYNTAX, "invalid number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
		real = true;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p == ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, JSONPARSE_SYNTAX, "invalid number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
		real = true;
	}
	/* jansson reads one byte past a number and checks its UTF-8 first. */
	if (ps->p < ps->end && *ps->p >= 0x80 && utf8_length(ps->p, (size_t)(ps->end - ps->p)) == 0)
		return fail(ps, JSONPARSE_SYNTAX, "invalid UTF-8");
	if (real)
		return parse_real(ps, from);
	if (over) {
		ps->p = from;
		return fail(ps, JSONPARSE_OVERFLOW, neg ? "too big negative integer" : "too big integer");
	}
	/* -2^63 has no positive counterpart: negate in unsigned arithmetic. */
	return json_integer(neg ? (json_int_t)(0 - mag) : (json_int_t)mag);
}

static json_t *parse_literal(struct parser *ps, const char *word, size_t n, json_t *(*make)(void))
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0 ||
	    ((size_t)(ps->end - ps->p) > n && ((ps->p[n] | 0x20) >= 'a' && (ps->p[n] | 0x20) <= 'z')))
		return fail(ps, JSONPARSE_SYNTAX, "invalid token");
	ps->p += n;
	return make();
}

/*
 * A syntax error at ps->p: `text` names what was expected.  jansson reads
 * the whole next token before its parser looks at it, so a number too
 * large there is reported as an overflow: so is it here.
 */
static json_t *unexpected(struct parser *ps, const char *text)
{
	const unsigned char *at = ps->p;

	if (ps->p < ps->end && (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')))
		json_decref(parse_number(ps));
	ps->p = at;
	return fail(ps, JSONPARSE_SYNTAX, text);
}

static json_t *parse_value(struct parser *ps);

static json_t *parse_object(struct parser *ps)
{
	json_t *obj = json_object();

	if (!obj)
		return fail(ps, JSONPARSE_MEMORY, "out of memory");
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return obj;
	}
	for (;;) {
		const char *key;
		char *copy = NULL;
		size_t n;
		bool nul;
		json_t *v;

		if (ps->p == ps->end || *ps->p != '"') {
			unexpected(ps, "string or '}' expected");
			goto error;
		}
		ps->p++;
		if (!scan_string(ps, &key, &n, &nul))
			goto error;
		if (nul) {
			fail(ps, JSONPARSE_SYNTAX, "NUL byte in object key not supported");
			goto error;
		}
		/* An unescaped key lives in ps->buf, which the value may reuse. */
		if (key == ps->buf) {
			copy = malloc(n ? n : 1);
			if (!copy) {
				fail(ps, JSONPARSE_MEMORY, "out of memory");
				goto error;
			}
			memcpy(copy, key, n);
			key = copy;
		}
		/* Before the value, as jansson does, so that an input with two
		 * faults gets the same error from both. */
		if (json_object_getn(obj, key, n)) {
			free(copy);
			fail(ps, JSONPARSE_SYNTAX, "duplicate object key");
			goto error;
		}
		skip_space(ps);
		if (ps->p == ps->end || *ps->p != ':') {
			free(copy);
			unexpected(ps, "':' expected");
			goto error;
		}
		ps->p++;
		v = parse_value(ps);
		if (!v || json_object_setn_new_nocheck(obj, key, n, v) != 0) {
			free(copy);
			if (v)
				fail(ps, JSONPARSE_MEMORY, "out of memory");
			goto error;
		}
		free(copy);
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return obj;
		}
		unexpected(ps, "'}' expected");
		goto error;
	}
error:
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(struct parser *ps)
{
	json_t *arr = json_array();

	if (!arr)
		return fail(ps, JSONPARSE_MEMORY, "out of memory");
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return arr;
	}
	for (;;) {
		json_t *v = parse_value(ps);

		if (!v)
			goto error;
		if (json_array_append_new(arr, v) != 0) {
			fail(ps, JSONPARSE_MEMORY, "out of memory");
			goto error;
		}
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return arr;
		}
		unexpected(ps, "']' expected");
		goto error;
	}
error:
	json_decref(arr);
	return NULL;
}

static json_t *parse_value(struct parser *ps)
{
	json_t *v;
	const char *s;
	size_t n;
	bool nul;

	skip_space(ps);
	if (ps->p == ps->end)
		return fail(ps, JSONPARSE_SYNTAX, "premature end of input");
	/* Every value counts, as in jansson: 2048 nested values at most. */
	if (ps->depth >= MAX_DEPTH)
		return fail(ps, JSONPARSE_SYNTAX, "maximum parsing depth reached");
	switch (*ps->p) {
	case '{':
	case '[':
		ps->depth++;
		v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
		ps->depth--;
		return v;
	case '"':
		ps->p++;
		if (!scan_string(ps, &s, &n, &nul))
			return NULL;
		if (nul)
			return fail(ps, JSONPARSE_NUL, "\\u0000 is not allowed");
		/* Checked above: valid UTF-8 without NUL. */
		v = json_stringn_nocheck(s, n);
		return v ? v : fail(ps, JSONPARSE_MEMORY, "out of memory");
	case 't':
		return parse_literal(ps, "true", 4, json_true);
	case 'f':
		return parse_literal(ps, "false", 5, json_false);
	case 'n':
		return parse_literal(ps, "null", 4, json_null);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			v = parse_number(ps);
			return v || ps->e->code != JSONPARSE_OK ? v : fail(ps, JSONPARSE_MEMORY, "out of memory");
		}
		return fail(ps, JSONPARSE_SYNTAX, "invalid token");
	}
}

json_t *jsonparse_load(const char *text, size_t len, struct jsonparse_error *e)
{
	struct parser ps = {
	    .start = (const unsigned char *)text,
	    .p = (const unsigned char *)text,
	    .end = (const unsigned char *)text + len,
	    .e = e,
	};
	json_t *v = NULL;

	ps.buf = ps.small;
	ps.cap = sizeof(ps.small);
	e->code = JSONPARSE_OK;
	e->text = NULL;
	e->offset = 0;
	skip_space(&ps);
	if (ps.p == ps.end || (*ps.p != '{' && *ps.p != '['))
		unexpected(&ps, "'[' or '{' expected");
	else
		v = parse_value(&ps);
	if (v) {
		skip_space(&ps);
		if (ps.p != ps.end) {
			json_decref(v);
			v = unexpected(&ps, "end of file expected");
		}
	}
	if (ps.buf != ps.small)
		free(ps.buf);
	return v;
}

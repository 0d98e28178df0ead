/* SPDX-License-Identifier: MIT */
/*
 * daemon/metrics.c — counters, a latency histogram and a gauge, exposed in
 * Prometheus text format 0.0.4 at /metrics.
 *
 * Series are keyed by their rendered label set.  Each family holds at most
 * MAX_SERIES of them: label values come from bounded sets (route patterns,
 * configured provider names), and the cap keeps a bug or a hostile client
 * from growing memory without bound — past it, observations land in one
 * series labelled "other".  One mutex guards everything: an observation is
 * a short linear scan, far cheaper than the request it counts.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define MAX_SERIES 256
#define OVERFLOW_LABELS "overflow=\"other\""

/* Upper bounds of the latency buckets, in seconds. */
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS ARRAY_SIZE(buckets)

struct series {
	char *labels; /* rendered: name="value",name="value" */
	uint64_t count;
	double sum;
	uint64_t bucket[N_BUCKETS]; /* histograms only; not cumulative here */
};

struct family {
	struct series *s; /* MAX_SERIES of them */
	size_t n;
	struct series *overflow; /* in s, once created */
};

struct metrics {
	pthread_mutex_t lock;
	struct family requests;	 /* sesamed_http_requests_total{method,route,status} */
	struct family latency;	 /* sesamed_http_request_duration_seconds{method,route} */
	struct family logins;	 /* sesamed_logins_total{provider,outcome} */
	struct family refreshes; /* sesamed_session_refreshes_total{outcome} */
	struct family reloads;	 /* sesamed_config_reloads_total{outcome} */
	int64_t active_sessions;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void family_free(struct family *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->s[i].labels);
	free(f->s);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	family_free(&m->requests);
	family_free(&m->latency);
	family_free(&m->logins);
	family_free(&m->refreshes);
	family_free(&m->reloads);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- a growable text buffer ---------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
			char *p = realloc(b->p, cap);

			if (!p) {
				b->failed = true;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

/* The longest label set an observation renders; a longer one (a provider
 * name of hundreds of bytes) is counted in the "other" series. */
#define LABELS_MAX 512

static bool put(char *out, size_t *len, const char *s, size_t n)
{
	if (n >= LABELS_MAX - *len)
		return false;
	memcpy(out + *len, s, n);
	*len += n;
	return true;
}

/*
 * Render `n` name/value label pairs into `out` (LABELS_MAX bytes), each
 * value escaped as the text format wants (\\, \" and \n): on every request,
 * so without allocating.  False when they do not fit.
 */
static bool labels_render(char *out, size_t n, const char *const *names, const char *const *values)
{
	size_t len = 0, i;
	const char *v, *plain;

	for (i = 0; i < n; i++) {
		if ((i && !put(out, &len, ",", 1)) || !put(out, &len, names[i], strlen(names[i])) ||
		    !put(out, &len, "=\"", 2))
			return false;
		for (v = values[i]; *v; v = plain + 1) {
			plain = v + strcspn(v, "\\\"\n");
			if (!put(out, &len, v, (size_t)(plain - v)))
				return false;
			if (!*plain)
				break;
			if (!put(out, &len, *plain == '\n' ? "\\n" : *plain == '"' ? "\\\"" : "\\\\", 2))
				return false;
		}
		if (!put(out, &len, "\"", 1))
			return false;
	}
	out[len] = '\0';
	return true;
}

/* The series of `labels` (rendered, or NULL when they did not fit),
 * created when new.  Past MAX_SERIES - 1 distinct sets, or when they did
 * not fit, the family's one overflow series: MAX_SERIES at most in all.
 * NULL when out of memory.  Lock held. */
static struct series *family_series(struct family *f, const char *labels)
{
	bool overflow;
	size_t i;

	for (i = 0; labels && i < f->n; i++)
		if (strcmp(f->s[i].labels, labels) == 0)
			return &f->s[i];
	/* One slot stays free for the overflow series until it exists. */
	overflow = !labels || f->n == MAX_SERIES - (f->overflow ? 0 : 1);
	if (overflow && f->overflow)
		return f->overflow;
	if (!f->s) {
		f->s = calloc(MAX_SERIES, sizeof(*f->s));
		if (!f->s)
			return NULL;
	}
	f->s[f->n].labels = strdup(overflow ? OVERFLOW_LABELS : labels);
	if (!f->s[f->n].labels)
		return NULL;
	if (overflow)
		f->overflow = &f->s[f->n];
	return &f->s[f->n++];
}

static void family_count(struct metrics *m, struct family *f, size_t n, const char *const *names,
			 const char *const *values)
{
	char labels[LABELS_MAX];
	bool fit = labels_render(labels, n, names, values);
	struct series *s;

	pthread_mutex_lock(&m->lock);
	s = family_series(f, fit ? labels : NULL);
	if (s)
		s->count++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_count_request(struct metrics *m, const char *method, const char *route, unsigned status)
{
	static const char *const names[] = {"method", "route", "status"};
	char code[16];
	const char *values[] = {method, route, code};

	snprintf(code, sizeof(code), "%u", status);
	family_count(m, &m->requests, 3, names, values);
}

void metrics_observe_duration(struct metrics *m, const char *method, const char *route, double seconds)
{
	static const char *const names[] = {"method", "route"};
	const char *values[] = {method, route};
	char labels[LABELS_MAX];
	struct series *s;
	bool fit;
	size_t i;

	fit = labels_render(labels, 2, names, values);
	pthread_mutex_lock(&m->lock);
	s = family_series(&m->latency, fit ? labels : NULL);
	if (s) {
		s->count++;
		s->sum += seconds;
		for (i = 0; i < N_BUCKETS; i++) {
			if (seconds <= buckets[i]) {
				s->bucket[i]++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_count_login(struct metrics *m, const char *provider, const char *outcome)
{
	static const char *const names[] = {"provider", "outcome"};
	const char *values[] = {provider, outcome};

	family_count(m, &m->logins, 2, names, values);
}

void metrics_count_refresh(struct metrics *m, const char *outcome)
{
	static const char *const names[] = {"outcome"};

	family_count(m, &m->refreshes, 1, names, &outcome);
}

void metrics_count_reload(struct metrics *m, const char *outcome)
{
	static const char *const names[] = {"outcome"};

	family_count(m, &m->reloads, 1, names, &outcome);
}

void metrics_set_active_sessions(struct metrics *m, int64_t sessions)
{
	pthread_mutex_lock(&m->lock);
	m->active_sessions = sessions;
	pthread_mutex_unlock(&m->lock);
}

/* ---- exposition ------------------------------------------------------------ */

static void render_counter(struct buf *b, const char *name, const char *help, const struct family *f)
{
	size_t i;

	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (i = 0; i < f->n; i++)
		buf_printf(b, "%s{%s} %llu\n", name, f->s[i].labels, (unsigned long long)f->s[i].count);
}

static void render_histogram(struct buf *b, const char *name, const char *help, const struct family *f)
{
	size_t i, j;

	buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < f->n; i++) {
		const struct series *s = &f->s[i];
		uint64_t cumulative = 0;

		for (j = 0; j < N_BUCKETS; j++) {
			cumulative += s->bucket[j];
			buf_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, s->labels, buckets[j],
				   (unsigned long long)cumulative);
		}
		buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, s->labels, (unsigned long long)s->count);
		buf_printf(b, "%s_sum{%s} %.9g\n", name, s->labels, s->sum);
		buf_printf(b, "%s_count{%s} %llu\n", name, s->labels, (unsigned long long)s->count);
	}
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct buf b = {NULL, 0, 0, false};

	pthread_mutex_lock(&m->lock);
	render_counter(&b, "sesamed_http_requests_total", "HTTP requests answered, by method, route and status.",
		       &m->requests);
	render_histogram(&b, "sesamed_http_request_duration_seconds",
			 "Time from the request headers to the response, by method and route.", &m->latency);
	render_counter(&b, "sesamed_logins_total", "Logins by provider instance and outcome.", &m->logins);
	render_counter(&b, "sesamed_session_refreshes_total", "Access token refreshes by outcome.", &m->refreshes);
	render_counter(&b, "sesamed_config_reloads_total", "Configuration reloads (SIGHUP) by outcome.", &m->reloads);
	buf_printf(&b,
		   "# HELP sesamed_active_sessions Sessions not yet expired or ended.\n"
		   "# TYPE sesamed_active_sessions gauge\nsesamed_active_sessions %lld\n",
		   (long long)m->active_sessions);
	pthread_mutex_unlock(&m->lock);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

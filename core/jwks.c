/* SPDX-License-Identifier: MIT */
/*
 * core/jwks.c — a JWKS URI fetched lazily and cached: max-age honoured and
 * clamped, refetched on an unknown kid at most once per cooldown, the last
 * good keys kept when a fetch fails, fail closed when there are none.
 * Thread-safe: the current key set is swapped under a mutex and handed out
 * with a reference, so a refresh never frees keys still in use.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jose.h"

#define MAX_ALGORITHMS 16

struct jwks_source {
	char *url;
	char *name;
	bool test_mode;
	const struct logger *log;
	char *algorithms[MAX_ALGORITHMS + 1]; /* NULL-terminated copy, or all NULL */
	bool restrict_algorithms;
	int64_t min_ttl, max_ttl, default_ttl, cooldown;
	long timeout_ms;

	pthread_mutex_t lock;
	pthread_cond_t fetched;
	struct jose_keyset *set; /* the last good keys, or NULL */
	int64_t expires;	 /* refetch at or after this time */
	int64_t last_attempt;	 /* stamped at every fetch, failed or not */
	bool attempted;
	bool fetching; /* one thread fetches, the others go on */
	char last_error[SESAME_ERROR_TEXT_LENGTH];
};

void jwks_source_free(struct jwks_source *src)
{
	size_t i;

	if (!src)
		return;
	keyset_unref(src->set);
	pthread_mutex_destroy(&src->lock);
	pthread_cond_destroy(&src->fetched);
	for (i = 0; i < MAX_ALGORITHMS; i++)
		free(src->algorithms[i]);
	free(src->url);
	free(src->name);
	free(src);
}

static int64_t or_default(int64_t v, int64_t def)
{
	return v > 0 ? v : def;
}

int jwks_source_new(const struct jwks_options *opt, struct jwks_source **out, sesame_error *err)
{
	struct jwks_source *src;
	size_t i;
	int rc;

	*out = NULL;
	rc = http_check_url(opt->url, opt->test_mode, err);
	if (rc != SESAME_OK) {
		/* Keep the message naming the URL; a bad URI is a configuration error. */
		if (err)
			err->status = SESAME_CONFIG;
		return SESAME_CONFIG;
	}
	src = calloc(1, sizeof(*src));
	if (!src)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	pthread_mutex_init(&src->lock, NULL);
	pthread_cond_init(&src->fetched, NULL);
	src->url = strdup(opt->url);
	src->name = strdup(opt->name ? opt->name : "jwks");
	src->test_mode = opt->test_mode;
	src->log = opt->log;
	src->min_ttl = or_default(opt->min_ttl, 60);
	src->max_ttl = or_default(opt->max_ttl, 24 * 3600);
	src->default_ttl = or_default(opt->default_ttl, 3600);
	src->cooldown = or_default(opt->cooldown, 60);
	src->timeout_ms = opt->timeout_ms;
	if (!src->url || !src->name)
		goto oom;
	for (i = 0; opt->algorithms && opt->algorithms[i]; i++) {
		if (i == MAX_ALGORITHMS) {
			jwks_source_free(src);
			return seterr(err, SESAME_CONFIG, "key", "more than %d algorithms listed", MAX_ALGORITHMS);
		}
		src->algorithms[i] = strdup(opt->algorithms[i]);
		if (!src->algorithms[i])
			goto oom;
	}
	src->restrict_algorithms = opt->algorithms != NULL;
	*out = src;
	return SESAME_OK;
oom:
	jwks_source_free(src);
	return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
}

static int64_t clamp_ttl(const struct jwks_source *src, long max_age)
{
	if (max_age < 0)
		return src->default_ttl;
	if (max_age < src->min_ttl)
		return src->min_ttl;
	return max_age > src->max_ttl ? src->max_ttl : max_age;
}

/* Fetch and parse the JWKS, without the lock held. */
static int fetch(struct jwks_source *src, struct jose_keyset **set, int64_t *ttl, sesame_error *err)
{
	struct sesame_http_request req = {
	    .struct_size = sizeof(req), .method = "GET", .url = src->url, .timeout_ms = src->timeout_ms};
	static const char *const accept[] = {"Accept: application/json, application/jwk-set+json", NULL};
	struct sesame_http_response resp;
	long max_age = -1;
	int rc;

	*set = NULL;
	req.headers = accept;
	rc = http_perform(src->test_mode, &req, &resp, &max_age, err);
	if (rc != SESAME_OK)
		return rc == SESAME_INTERNAL ? rc : SESAME_UNAVAILABLE;
	if (resp.status != 200) {
		rc = seterr(err, SESAME_UNAVAILABLE, "http", "%.200s answered HTTP %ld", src->url, resp.status);
		goto out;
	}
	rc = jwks_parse(resp.body, resp.body_length, false,
			src->restrict_algorithms ? (const char *const *)src->algorithms : NULL, src->log, src->url, set,
			err);
	if (rc != SESAME_OK) {
		rc = rc == SESAME_INTERNAL ? rc : SESAME_UNAVAILABLE;
		goto out;
	}
	if ((*set)->n == 0) {
		keyset_unref(*set);
		*set = NULL;
		rc = seterr(err, SESAME_UNAVAILABLE, "jwks", "%.200s holds no usable key", src->url);
		goto out;
	}
	*ttl = clamp_ttl(src, max_age);
out:
	http_response_clear(&resp);
	return rc;
}

/* Called with the lock held; drops it while fetching. */
static void refresh_locked(struct jwks_source *src, int64_t now)
{
	struct jose_keyset *set = NULL;
	sesame_error ferr;
	int64_t ttl = 0;
	int rc;

	src->fetching = true;
	src->attempted = true;
	src->last_attempt = now;
	pthread_mutex_unlock(&src->lock);
	err_clear(&ferr);
	rc = fetch(src, &set, &ttl, &ferr);
	pthread_mutex_lock(&src->lock);
	if (rc == SESAME_OK) {
		keyset_unref(src->set);
		src->set = set;
		src->expires = now + ttl;
		src->last_error[0] = '\0';
		log_msg(src->log, SESAME_LOG_INFO, "%s: fetched %zu keys from %s, cached for %lld s", src->name, set->n,
			src->url, (long long)ttl);
	} else {
		memcpy(src->last_error, ferr.text, sizeof(src->last_error));
		log_msg(src->log, SESAME_LOG_WARNING, "%s: cannot refresh the keys: %s%s", src->name, ferr.text,
			src->set ? " (keeping the previous keys)" : "");
	}
	src->fetching = false;
	pthread_cond_broadcast(&src->fetched);
}

int jwks_source_get(struct jwks_source *src, int64_t now, bool refresh, struct jose_keyset **out, sesame_error *err)
{
	int rc = SESAME_OK;

	*out = NULL;
	pthread_mutex_lock(&src->lock);
	for (;;) {
		bool due = !src->set || now >= src->expires || refresh;
		bool allowed = !src->attempted || now - src->last_attempt >= src->cooldown || now < src->last_attempt;

		if (due && allowed && !src->fetching) {
			refresh_locked(src, now);
			break;
		}
		/* Another thread fetches: go on with the current keys, or wait
		 * for its result when there are none yet. */
		if (due && src->fetching && !src->set) {
			pthread_cond_wait(&src->fetched, &src->lock);
			refresh = false;
			continue;
		}
		break;
	}
	if (src->set)
		*out = keyset_ref(src->set);
	else
		rc = seterr(err, SESAME_UNAVAILABLE, "jwks", "no keys from %.200s: %s", src->url,
			    src->last_error[0] ? src->last_error : "not fetched yet");
	pthread_mutex_unlock(&src->lock);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * daemon/throttle.c — per-client throttling: token buckets keyed by a
 * client address (or a short key derived from one).
 *
 * Each key has a bucket of `capacity` tokens refilled at `capacity` tokens
 * a period (a minute for throttle_new()).  An attempt reserves a token
 * with throttle_take() before any work, in the same locked step as the
 * check, so parallel attempts can never take more tokens than there are;
 * an attempt that turns out not to count (a successful login) gives its
 * token back with throttle_refund().  A key with less than one token left
 * is refused (429) until one has grown back.  throttle_check() and
 * throttle_fail() are the older check-then-charge pair, racy under
 * parallel requests: kept for callers that have not moved to take/refund.
 *
 * The table has a fixed number of slots so an attacker cycling through
 * addresses cannot make it grow: an address lives in one of PROBE slots
 * after its hash (seeded at random, so nobody can aim addresses at one
 * slot).  A full bucket carries no information, so its slot is free; when
 * every candidate slot is busy the one idle longest is taken over.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "daemon.h"

#define PROBE 8

struct slot {
	char client[INET6_ADDRSTRLEN];
	double tokens;
	int64_t last_ms; /* when `tokens` was computed */
};

struct throttle {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t n;
	double capacity;
	double per_ms;	  /* tokens regained per millisecond */
	double period_ms; /* the time to regain `capacity` tokens */
	uint64_t seed;
};

struct throttle *throttle_new(unsigned slots, unsigned per_minute)
{
	return throttle_new_period(slots, per_minute, 60);
}

struct throttle *throttle_new_period(unsigned slots, unsigned capacity, unsigned period_seconds)
{
	struct throttle *t;

	if (slots == 0 || capacity == 0 || period_seconds == 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (!t->slots || RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1) {
		free(t->slots);
		free(t);
		return NULL;
	}
	t->n = slots;
	t->capacity = capacity;
	t->period_ms = period_seconds * 1000.0;
	t->per_ms = capacity / t->period_ms;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

/* FNV-1a, seeded. */
static uint64_t client_hash(const struct throttle *t, const char *client)
{
	uint64_t h = 14695981039346656037ULL ^ t->seed;

	for (; *client; client++) {
		h ^= (unsigned char)*client;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The tokens of slot `s` at `now_ms`. */
static double slot_tokens(const struct throttle *t, const struct slot *s, int64_t now_ms)
{
	double tokens;

	if (!s->client[0])
		return t->capacity;
	tokens = s->tokens + (now_ms > s->last_ms ? (double)(now_ms - s->last_ms) * t->per_ms : 0);
	return tokens > t->capacity ? t->capacity : tokens;
}

/* The slot of `client`, or NULL. */
static struct slot *slot_find(struct throttle *t, const char *client)
{
	uint64_t h = client_hash(t, client);
	size_t i;

	for (i = 0; i < PROBE && i < t->n; i++) {
		struct slot *s = &t->slots[(h + i) % t->n];

		if (s->client[0] && strcmp(s->client, client) == 0)
			return s;
	}
	return NULL;
}

/* A slot for a new client: a free one (empty or refilled), else the one
 * idle longest. */
static struct slot *slot_claim(struct throttle *t, const char *client, int64_t now_ms)
{
	uint64_t h = client_hash(t, client);
	struct slot *oldest = NULL;
	size_t i;

	for (i = 0; i < PROBE && i < t->n; i++) {
		struct slot *s = &t->slots[(h + i) % t->n];

		if (slot_tokens(t, s, now_ms) >= t->capacity)
			return s;
		if (!oldest || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	return oldest;
}

/* The seconds until a bucket holding `tokens` has one: rounded up, and at
 * least 1, as Retry-After counts whole seconds. */
static unsigned wait_seconds(const struct throttle *t, double tokens)
{
	/* Not through per_ms, whose rounding would turn 1800 s into 1801. */
	double secs = (1.0 - tokens) * t->period_ms / t->capacity / 1000.0;
	unsigned wait = (unsigned)secs;

	if (wait < secs || wait == 0)
		wait++;
	return wait;
}

unsigned throttle_check(struct throttle *t, const char *client, int64_t now_ms)
{
	struct slot *s;
	double tokens;
	unsigned wait = 0;

	pthread_mutex_lock(&t->lock);
	s = slot_find(t, client);
	if (s) {
		tokens = slot_tokens(t, s, now_ms);
		if (tokens < 1.0)
			wait = wait_seconds(t, tokens);
	}
	pthread_mutex_unlock(&t->lock);
	return wait;
}

/* The slot of `client`, claimed (with a full bucket) when it has none. */
static struct slot *slot_get(struct throttle *t, const char *client, size_t len, int64_t now_ms)
{
	struct slot *s = slot_find(t, client);

	if (!s) {
		s = slot_claim(t, client, now_ms);
		memcpy(s->client, client, len + 1);
		s->tokens = t->capacity;
		s->last_ms = now_ms;
	}
	return s;
}

unsigned throttle_take(struct throttle *t, const char *client, int64_t now_ms)
{
	size_t len = strlen(client);
	struct slot *s;
	double tokens;
	unsigned wait = 0;

	/* Not a key we could have produced: never refused, never tracked. */
	if (len == 0 || len >= sizeof(s->client))
		return 0;
	pthread_mutex_lock(&t->lock);
	s = slot_get(t, client, len, now_ms);
	tokens = slot_tokens(t, s, now_ms);
	if (tokens < 1.0) {
		wait = wait_seconds(t, tokens);
	} else {
		s->tokens = tokens - 1.0;
		s->last_ms = now_ms;
	}
	pthread_mutex_unlock(&t->lock);
	return wait;
}

void throttle_refund(struct throttle *t, const char *client, int64_t now_ms)
{
	size_t len = strlen(client);
	struct slot *s;
	double tokens;

	if (len == 0 || len >= sizeof(s->client))
		return;
	pthread_mutex_lock(&t->lock);
	/* A slot taken over by another key meanwhile holds nothing of ours
	 * (its bucket had refilled, or was the one idle longest). */
	s = slot_find(t, client);
	if (s) {
		tokens = slot_tokens(t, s, now_ms) + 1.0;
		s->tokens = tokens > t->capacity ? t->capacity : tokens;
		s->last_ms = now_ms;
	}
	pthread_mutex_unlock(&t->lock);
}

void throttle_fail(struct throttle *t, const char *client, int64_t now_ms)
{
	struct slot *s;
	double tokens;
	size_t len = strlen(client);

	if (len == 0 || len >= sizeof(s->client))
		return;
	pthread_mutex_lock(&t->lock);
	s = slot_get(t, client, len, now_ms);
	tokens = slot_tokens(t, s, now_ms) - 1.0;
	s->tokens = tokens < 0 ? 0 : tokens;
	s->last_ms = now_ms;
	pthread_mutex_unlock(&t->lock);
}

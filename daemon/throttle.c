/*
 * daemon/throttle.c — per-client-address throttling of failed logins.
 *
 * Each address has a token bucket of `per_minute` tokens refilled at
 * `per_minute` tokens a minute; a failed login takes a token, and an
 * address with less than one token left is refused (429) until one has
 * grown back.  Successful logins cost nothing.
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
	double per_ms; /* tokens regained per millisecond */
	uint64_t seed;
};

struct throttle *throttle_new(unsigned slots, unsigned per_minute)
{
	struct throttle *t;

	if (slots == 0 || per_minute == 0)
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
	t->capacity = per_minute;
	t->per_ms = per_minute / 60000.0;
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

unsigned throttle_check(struct throttle *t, const char *client, int64_t now_ms)
{
	struct slot *s;
	double tokens;
	unsigned wait = 0;

	pthread_mutex_lock(&t->lock);
	s = slot_find(t, client);
	if (s) {
		tokens = slot_tokens(t, s, now_ms);
		if (tokens < 1.0) {
			double secs = (1.0 - tokens) / t->per_ms / 1000.0;

			/* Rounded up, and at least 1: Retry-After counts whole seconds. */
			wait = (unsigned)secs;
			if (wait < secs || wait == 0)
				wait++;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return wait;
}

void throttle_fail(struct throttle *t, const char *client, int64_t now_ms)
{
	struct slot *s;
	double tokens;
	size_t len = strlen(client);

	if (len == 0 || len >= sizeof(s->client))
		return;
	pthread_mutex_lock(&t->lock);
	s = slot_find(t, client);
	if (!s) {
		s = slot_claim(t, client, now_ms);
		memcpy(s->client, client, len + 1);
		s->tokens = t->capacity;
		s->last_ms = now_ms;
	}
	tokens = slot_tokens(t, s, now_ms) - 1.0;
	s->tokens = tokens < 0 ? 0 : tokens;
	s->last_ms = now_ms;
	pthread_mutex_unlock(&t->lock);
}

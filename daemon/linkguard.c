/* SPDX-License-Identifier: MIT */
/*
 * daemon/linkguard.c — the damper of the link-conflict request storm.
 *
 * Linking an identity that another user holds answers 401 InvalidSession
 * "a user already exists with the specified provider", which the native
 * SDKs (realm-core) expect: they refresh once, retry once, and map exactly
 * that answer to "credentials cannot be linked".  realm-web 2.0.1 instead
 * answers every 401 InvalidSession on an access-token call with a refresh
 * and a retry, without limit.  So sesamed remembers the conflicting links
 * it refused, for a short window: the first LINKGUARD_ANSWERED identical
 * attempts get the 401, a further one a status no SDK retries.
 *
 * "Identical" means the same session (the caller's access-token "sid"),
 * the same provider instance and the same credential, which is exactly
 * what a retry resends.  Only an HMAC-SHA-256 of the three is kept, under
 * a key drawn when the table is made and never shown, so the table holds
 * no credential (a password hashed without a secret key could be guessed
 * offline).
 *
 * The table has a fixed number of slots: a new attempt takes an empty or
 * expired slot, else the one closest to expiry, so it never grows and an
 * evicted entry merely starts over.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "daemon.h"

#define KEY_BYTES 32

struct entry {
	unsigned char key[KEY_BYTES]; /* HMAC of (sid, provider, credential) */
	unsigned count;
	int64_t expires_ms; /* 0: free */
};

struct linkguard {
	pthread_mutex_t lock;
	unsigned char secret[KEY_BYTES];
	struct entry *slots;
	size_t n;
	int64_t window_ms;
};

struct linkguard *linkguard_new(size_t slots, unsigned window_seconds)
{
	struct linkguard *g;

	if (slots == 0 || window_seconds == 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->slots = calloc(slots, sizeof(*g->slots));
	if (!g->slots || RAND_bytes(g->secret, sizeof(g->secret)) != 1) {
		free(g->slots);
		free(g);
		return NULL;
	}
	g->n = slots;
	g->window_ms = (int64_t)window_seconds * 1000;
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

void linkguard_free(struct linkguard *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	OPENSSL_cleanse(g->secret, sizeof(g->secret));
	free(g->slots);
	free(g);
}

/* HMAC-SHA-256(secret, sid NUL provider NUL credential-as-sorted-compact-JSON). */
static bool attempt_key(const struct linkguard *g, const char *sid, const char *provider, const json_t *credential,
			unsigned char out[KEY_BYTES])
{
	char *cred = json_dumps(credential, JSON_COMPACT | JSON_SORT_KEYS);
	size_t ls = strlen(sid), lp = strlen(provider), lc = cred ? strlen(cred) : 0, len = ls + lp + lc + 2,
	       outlen = 0;
	unsigned char *buf = cred ? malloc(len) : NULL;
	bool ok = false;

	if (buf) {
		memcpy(buf, sid, ls + 1);
		memcpy(buf + ls + 1, provider, lp + 1);
		memcpy(buf + ls + lp + 2, cred, lc);
		ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, g->secret, sizeof(g->secret), buf, len, out,
			       KEY_BYTES, &outlen) != NULL &&
		     outlen == KEY_BYTES;
		/* The credential may hold a password. */
		OPENSSL_cleanse(buf, len);
	}
	if (cred)
		OPENSSL_cleanse(cred, lc);
	free(buf);
	free(cred);
	return ok;
}

unsigned linkguard_conflict(struct linkguard *g, const char *sid, const char *provider, const json_t *credential,
			    int64_t now_ms)
{
	unsigned char key[KEY_BYTES];
	struct entry *e = NULL, *victim = NULL;
	unsigned count;
	size_t i;

	/* Without a key the attempt cannot be recognised: answer as a first one. */
	if (!g || !sid || !provider || !credential || !attempt_key(g, sid, provider, credential, key))
		return 1;
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < g->n && !e; i++) {
		struct entry *s = &g->slots[i];

		if (s->expires_ms > now_ms && CRYPTO_memcmp(s->key, key, KEY_BYTES) == 0)
			e = s;
		else if (!victim || s->expires_ms < victim->expires_ms)
			victim = s;
	}
	if (!e) {
		e = victim;
		memcpy(e->key, key, KEY_BYTES);
		e->count = 0;
	}
	e->count++;
	/* The window runs from the latest attempt: a client that keeps
	 * retrying keeps getting the answer it cannot retry. */
	e->expires_ms = now_ms + g->window_ms;
	count = e->count;
	pthread_mutex_unlock(&g->lock);
	OPENSSL_cleanse(key, sizeof(key));
	return count;
}

size_t linkguard_used(struct linkguard *g, int64_t now_ms)
{
	size_t i, used = 0;

	pthread_mutex_lock(&g->lock);
	for (i = 0; i < g->n; i++)
		used += g->slots[i].expires_ms > now_ms;
	pthread_mutex_unlock(&g->lock);
	return used;
}

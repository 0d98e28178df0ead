/* SPDX-License-Identifier: MIT */
/*
 * core/password.c — password hashing for provider plugins (the host's
 * password_hash and password_verify): scrypt through OpenSSL's EVP_KDF,
 * stored as a PHC string
 *
 *   $scrypt$ln=LOG2N,r=R,p=P$SALT$HASH
 *
 * with SALT (16 random bytes) and HASH (32 bytes) in base64 without
 * padding (the PHC "B64" alphabet), so a plugin needs no OpenSSL of its own
 * and the parameters travel with each hash (a weaker hash is rehashed at
 * the next successful login).  In the tests' build of the core
 * (SESAME_TEST_HOOKS) every derivation counts in ctx->kdf_runs, which lets
 * a test check that a path ran the KDF without timing it.
 *
 * Each derivation allocates 128·r·(N + p + 2) bytes (128 MiB with the
 * default parameters), so unbounded concurrency is a denial of service:
 * every derivation first reserves its memory from a budget (the
 * "password_hashing" settings of sesame.json) and gives it back when done;
 * one that finds the budget spent waits in a bounded queue for a bounded
 * time, then fails with SESAME_UNAVAILABLE "busy".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "internal.h"
#include "jose.h"

#define SALT_BYTES	 16
#define HASH_BYTES	 32
#define MAX_PASSWORD	 4096
#define MAX_PHC		 256

static bool params_valid(unsigned log2_n, unsigned r, unsigned p)
{
	return log2_n >= PASSWORD_LOG2N_MIN && log2_n <= PASSWORD_LOG2N_MAX && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

/* ---- the memory budget --------------------------------------------------------- */

/*
 * Memory is the process's, not a context's: sesamed runs two contexts side
 * by side while it reloads, and an embedder may run several, so the bytes
 * in use and the requests waiting are counted once per process.  Each
 * context's own settings say how much may be in use when it reserves
 * (kdf_memory_budget), how many may wait (kdf_queue) and how long
 * (kdf_wait_ms).
 */
static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	pthread_cond_t freed; /* on the monotonic clock */
	uint64_t used;	      /* bytes reserved by derivations running now */
	unsigned waiting;     /* requests waiting for memory */
} gate = {.once = PTHREAD_ONCE_INIT};

static void gate_init(void)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&gate.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&gate.freed, &ca);
	pthread_condattr_destroy(&ca);
}

uint64_t password_scrypt_bytes(unsigned log2_n, unsigned r, unsigned p)
{
	/* What OpenSSL allocates: B (128·r·p) and V with X and T (128·r·(N + 2)). */
	return 128 * (uint64_t)r * (((uint64_t)1 << log2_n) + p + 2);
}

int password_reserve(sesame_ctx *ctx, uint64_t bytes, sesame_error *err)
{
	const struct config *cfg = &ctx->cfg;
	/* A provider's init() hashing during sesame_configure() (a reload of
	 * a busy daemon, say) waits for its turn however long it takes: failing
	 * would leave the new configuration's provider out of service. */
	bool patient = !ctx->configured;
	struct timespec deadline;
	bool busy = false;

	if (bytes > cfg->kdf_memory_budget)
		return seterr(err, SESAME_CONFIG, "budget",
			      "one password hash needs %llu bytes, more than password_hashing.memory_budget (%llu): "
			      "lower the scrypt parameters or raise the budget",
			      (unsigned long long)bytes, (unsigned long long)cfg->kdf_memory_budget);
	pthread_once(&gate.once, gate_init);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += cfg->kdf_wait_ms / 1000;
	deadline.tv_nsec += (long)(cfg->kdf_wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&gate.lock);
	if (gate.used + bytes > cfg->kdf_memory_budget) {
		if (!patient && gate.waiting >= cfg->kdf_queue) {
			busy = true;
		} else {
			gate.waiting++;
			while (!busy && gate.used + bytes > cfg->kdf_memory_budget) {
				if (patient)
					pthread_cond_wait(&gate.freed, &gate.lock);
				else if (pthread_cond_timedwait(&gate.freed, &gate.lock, &deadline) == ETIMEDOUT)
					busy = gate.used + bytes > cfg->kdf_memory_budget;
			}
			gate.waiting--;
		}
	}
	if (!busy)
		gate.used += bytes;
	pthread_mutex_unlock(&gate.lock);
	if (busy)
		return seterr(err, SESAME_UNAVAILABLE, "busy",
			      "password hashing is busy (password_hashing.memory_budget is in use); try again later");
	return SESAME_OK;
}

void password_release(uint64_t bytes)
{
	pthread_mutex_lock(&gate.lock);
	gate.used -= bytes;
	pthread_cond_broadcast(&gate.freed);
	pthread_mutex_unlock(&gate.lock);
}

void password_gate_state(uint64_t *used, unsigned *waiting)
{
	pthread_once(&gate.once, gate_init);
	pthread_mutex_lock(&gate.lock);
	*used = gate.used;
	*waiting = gate.waiting;
	pthread_mutex_unlock(&gate.lock);
}

/* ---- scrypt ---------------------------------------------------------------------- */

/* The derivation itself, within its reservation: OpenSSL's own memory
 * limit is the number of bytes reserved, so the two cannot disagree. */
static int scrypt(const char *password, size_t length, const unsigned char *salt, size_t salt_len, unsigned log2_n,
		  unsigned r, unsigned p, unsigned char out[HASH_BYTES])
{
	uint64_t n = (uint64_t)1 << log2_n, maxmem = password_scrypt_bytes(log2_n, r, p);
	uint32_t r32 = r, p32 = p;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password, length),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
	    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32),
	    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
	    OSSL_PARAM_construct_end(),
	};
	int ok = kctx && EVP_KDF_derive(kctx, out, HASH_BYTES, params) == 1;

	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? SESAME_OK : SESAME_INTERNAL;
}

/* Base64 (PHC B64: standard alphabet, no padding). */
static char *b64(const unsigned char *in, size_t len)
{
	char *s = b64url_encode(in, len), *c;

	for (c = s; c && *c; c++)
		*c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
	return s;
}

static unsigned char *unb64(const char *in, size_t len, size_t *out_len)
{
	char *copy = strndup(in, len), *c;
	unsigned char *out;

	if (!copy)
		return NULL;
	for (c = copy; *c; c++) {
		if (*c == '-' || *c == '_') { /* not of the B64 alphabet */
			free(copy);
			return NULL;
		}
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	}
	out = b64url_decode(copy, len, out_len);
	free(copy);
	return out;
}

/* Reserve the memory, count the run, derive, give the memory back.  The
 * errors of password_reserve(), or SESAME_INTERNAL. */
static int derive(sesame_ctx *ctx, const char *password, size_t length, const unsigned char *salt, size_t salt_len,
		  unsigned log2_n, unsigned r, unsigned p, unsigned char out[HASH_BYTES], sesame_error *err)
{
	uint64_t bytes = password_scrypt_bytes(log2_n, r, p);
	int rc = password_reserve(ctx, bytes, err);

	if (rc != SESAME_OK)
		return rc;
#ifdef SESAME_TEST_HOOKS
	atomic_fetch_add(&ctx->kdf_runs, 1);
#endif
	rc = scrypt(password, length, salt, salt_len, log2_n, r, p, out);
	password_release(bytes);
	return rc == SESAME_OK ? SESAME_OK : seterr(err, SESAME_INTERNAL, "kdf", "scrypt failed");
}

int password_hash(sesame_ctx *ctx, const char *password, size_t length, unsigned log2_n, unsigned r, unsigned p,
		  char **phc, sesame_error *err)
{
	unsigned char salt[SALT_BYTES], hash[HASH_BYTES];
	char *s = NULL, *h = NULL;
	int rc;

	*phc = NULL;
	if (!password || length > MAX_PASSWORD || !params_valid(log2_n, r, p))
		return seterr(err, SESAME_USAGE, "usage",
			      "password_hash: no password, one over %d bytes, or scrypt parameters out of range",
			      MAX_PASSWORD);
	if (util_random(salt, sizeof(salt)) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "random", "no randomness");
	rc = derive(ctx, password, length, salt, sizeof(salt), log2_n, r, p, hash, err);
	if (rc == SESAME_OK && (!(s = b64(salt, sizeof(salt))) || !(h = b64(hash, sizeof(hash))) ||
				!(*phc = malloc(MAX_PHC))))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (rc == SESAME_OK)
		snprintf(*phc, MAX_PHC, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", log2_n, r, p, s, h);
	util_wipe(hash, sizeof(hash));
	free(s);
	util_free_secret(h);
	return rc;
}

/* The parts of a PHC string; false when it is not one of ours. */
static bool phc_parse(const char *phc, unsigned *log2_n, unsigned *r, unsigned *p, const char **salt,
		      size_t *salt_len, const char **hash)
{
	int used = 0;
	const char *dollar;

	if (!phc || strlen(phc) >= MAX_PHC ||
	    sscanf(phc, "$scrypt$ln=%2u,r=%2u,p=%2u$%n", log2_n, r, p, &used) != 3 || used == 0 ||
	    !params_valid(*log2_n, *r, *p))
		return false;
	*salt = phc + used;
	dollar = strchr(*salt, '$');
	if (!dollar || dollar == *salt)
		return false;
	*salt_len = (size_t)(dollar - *salt);
	*hash = dollar + 1;
	return **hash != '\0';
}

int password_verify(sesame_ctx *ctx, const char *password, size_t length, const char *phc, unsigned log2_n,
		    unsigned r, unsigned p, int *match, int *weaker, sesame_error *err)
{
	unsigned stored_n, stored_r, stored_p;
	const char *salt_text = NULL, *hash_text = "";
	unsigned char *salt = NULL, hash[HASH_BYTES];
	size_t salt_len = 0, text_len;
	char *computed = NULL;
	int rc;

	*match = 0;
	if (weaker)
		*weaker = 0;
	if (!password || length > MAX_PASSWORD)
		return seterr(err, SESAME_USAGE, "usage", "password_verify: no password or one over %d bytes",
			      MAX_PASSWORD);
	if (!phc_parse(phc, &stored_n, &stored_r, &stored_p, &salt_text, &text_len, &hash_text) ||
	    !(salt = unb64(salt_text, text_len, &salt_len)) || salt_len < 8)
		rc = seterr(err, SESAME_MALFORMED, "hash", "the stored password hash is not a $scrypt$ PHC string");
	else {
		rc = derive(ctx, password, length, salt, salt_len, stored_n, stored_r, stored_p, hash, err);
		if (rc == SESAME_OK && !(computed = b64(hash, sizeof(hash))))
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc == SESAME_OK) {
		*match = strlen(computed) == strlen(hash_text) && util_ct_equal(computed, hash_text, strlen(computed));
		/* Any parameter below the configured ones: rehash. */
		if (weaker)
			*weaker = stored_n < log2_n || stored_r < r || stored_p < p;
	}
	util_wipe(hash, sizeof(hash));
	util_free_secret(computed);
	free(salt);
	return rc;
}

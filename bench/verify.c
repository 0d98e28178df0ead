/* SPDX-License-Identifier: MIT */
/*
 * bench/verify.c — token verification throughput: sesame's full path
 * (keys_verify: parse, header checks, key selection, signature, claims)
 * against raw OpenSSL on the same signing input and signature with a
 * prepared key (the limit), libjwt's jwt_decode and node jose's jwtVerify,
 * for RS256, ES256, EdDSA and HS256 on ~900-byte ID-token-like JWTs.
 * Implementations are run alternately and the median of the repetitions
 * is reported.
 *
 *   verify KEYDIR OUTDIR [--quick] [--seconds S] [--reps N] [--jose SCRIPT]
 *   verify KEYDIR OUTDIR --profile ALG N   only N sesame verifications of
 *                                          ALG, for perf or callgrind
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#ifdef HAVE_LIBJWT
#include <jwt.h>
#endif

#include "internal.h"
#include "jose.h"

#define MAX_REPS 15
#define HS_SECRET "bench-hs256-secret-of-32-bytes-or-more!!"

enum impl { I_SESAME, I_OPENSSL, I_LIBJWT, I_JOSE, N_IMPL };
static const char *const impl_names[N_IMPL] = {"sesame", "openssl", "libjwt", "jose"};

struct alg_case {
	const char *name;  /* JOSE alg */
	const char *label; /* for bench: lines */
	const char *priv;  /* PEM file in KEYDIR, NULL for HS256 */
	const char *pub;
	/* prepared state */
	struct sesame_keys *keys; /* sesame: public key (or secret) */
	char *token;
	char *pub_pem; /* libjwt / jose key material */
	size_t pub_pem_len;
	EVP_PKEY *pkey;
	EVP_MD_CTX *tmpl;
	EVP_MAC_CTX *mac;
	unsigned char *sig; /* DER for ECDSA */
	size_t sig_len;
	const char *input;
	size_t input_len;
	double rate[N_IMPL][MAX_REPS];
	double cpurate[2][MAX_REPS]; /* sesame, openssl: per second of the thread's CPU time */
	double rate2[2][MAX_REPS]; /* sesame, openssl on 2 threads */
	bool no_libjwt;		   /* libjwt cannot verify this alg */
};

static struct alg_case cases[] = {
    {.name = "RS256", .label = "rs256", .priv = "rsa.pem", .pub = "rsa.pub.pem"},
    {.name = "ES256", .label = "es256", .priv = "ec256.pem", .pub = "ec256.pub.pem"},
    {.name = "EdDSA", .label = "eddsa", .priv = "ed25519.pem", .pub = "ed25519.pub.pem"},
    {.name = "HS256", .label = "hs256"},
};

static const char *const audiences[] = {"1234987819200.apps.googleusercontent.com", NULL};
static const char *const issuers[] = {"https://accounts.google.com", NULL};
static struct sesame_jwt_rules rules = {
    .struct_size = sizeof(struct sesame_jwt_rules), .audiences = audiences, .issuers = issuers, .leeway = -1};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "verify: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		die("cannot read", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("cannot read", path);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p)
		die("out of memory", NULL);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Typical claims of a Google ID token; the token comes out at ~900 bytes
 * for RS256 (the signature alone is 342 characters). */
static json_t *google_claims(int64_t now)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
			 issuers[0], "azp", audiences[0], "aud", audiences[0], "sub", "110169484474386276334", "email",
			 "jane.doe.example@gmail.com", "email_verified", 1, "at_hash", "HK6E_P6Dh8Y93mRNtsDB1Q",
			 "nonce", "0394852-3190485-2490358", "name", "Jane Doe", "picture",
			 "https://lh3.googleusercontent.com/a/ACg8ocJ-2Xq0f9aZk3sVx_example_photo_id=s96-c",
			 "given_name", "Jane", "family_name", "Doe", "locale", "en", "iat", (json_int_t)now, "exp",
			 (json_int_t)(now + 3600), "hd", "example.com");
}

static struct sesame_keys *load_keys(const char *alg, const char *key)
{
	json_t *list = json_pack("[{s:s, s:s, s:s}]", "alg", alg, "kid", "bench-key", "key", key);
	struct sesame_keys *keys = NULL;
	sesame_error err;

	if (!list || keys_from_config(list, &keys, &err) != SESAME_OK)
		die("keys_from_config", list ? err.text : "out of memory");
	json_decref(list);
	return keys;
}

/* Raw R || S to DER, once, outside the timed loop: the limit is the
 * verification itself. */
static void ecdsa_to_der(struct alg_case *c, const unsigned char *raw, size_t len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)len / 2, NULL), *s = BN_bin2bn(raw + len / 2, (int)len / 2, NULL);
	unsigned char *der = NULL;
	int n;

	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1 || (n = i2d_ECDSA_SIG(es, &der)) <= 0)
		die("cannot encode an ECDSA signature", NULL);
	c->sig = malloc((size_t)n);
	memcpy(c->sig, der, (size_t)n);
	c->sig_len = (size_t)n;
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
}

static void prepare(struct alg_case *c, const char *keydir, const char *outdir)
{
	int64_t now = (int64_t)time(NULL);
	json_t *claims = google_claims(now), *meta;
	struct sesame_keys *signer;
	sesame_error err;
	const char *dot;
	char *priv, *p, *meta_text;
	size_t n;

	if (c->priv) {
		p = path_join(keydir, c->priv);
		priv = slurp(p, NULL);
		free(p);
		p = path_join(keydir, c->pub);
		c->pub_pem = slurp(p, &c->pub_pem_len);
		free(p);
	} else {
		priv = strdup(HS_SECRET);
		c->pub_pem = strdup(HS_SECRET);
		c->pub_pem_len = strlen(HS_SECRET);
	}
	signer = load_keys(c->name, priv);
	if (keys_sign(signer, "bench-key", NULL, claims, &c->token, &err) != SESAME_OK)
		die("keys_sign", err.text);
	keys_free(signer);
	free(priv);
	json_decref(claims);
	/* sesame verifies with the public key only, as a relying party does. */
	c->keys = load_keys(c->name, c->pub_pem);

	dot = strrchr(c->token, '.');
	c->input = c->token;
	c->input_len = (size_t)(dot - c->token);
	{
		unsigned char *raw = b64url_decode(dot + 1, strlen(dot + 1), &n);

		if (!raw)
			die("bad signature encoding", NULL);
		if (strcmp(c->name, "ES256") == 0) {
			ecdsa_to_der(c, raw, n);
			free(raw);
		} else {
			c->sig = raw;
			c->sig_len = n;
		}
	}
	if (c->priv) {
		BIO *bio = BIO_new_mem_buf(c->pub_pem, (int)c->pub_pem_len);

		c->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
		c->tmpl = EVP_MD_CTX_new();
		if (!c->pkey || !c->tmpl ||
		    EVP_DigestVerifyInit(c->tmpl, NULL, strcmp(c->name, "EdDSA") == 0 ? NULL : EVP_sha256(), NULL,
					 c->pkey) != 1)
			die("cannot prepare the OpenSSL key", c->name);
	} else {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
				       OSSL_PARAM_construct_end()};

		c->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
		if (!c->mac || EVP_MAC_init(c->mac, (const unsigned char *)HS_SECRET, strlen(HS_SECRET), params) != 1)
			die("cannot prepare HMAC", NULL);
		EVP_MAC_free(mac);
	}
	/* What node jose needs: the token, the key, the expected aud/iss. */
	meta = json_pack("{s:s, s:s, s:s, s:s, s:s}", "alg", c->name, "token", c->token, "key", c->pub_pem, "aud",
			 audiences[0], "iss", issuers[0]);
	meta_text = json_dumps(meta, 0);
	p = malloc(strlen(outdir) + 32);
	snprintf(p, strlen(outdir) + 32, "%s/token-%s.json", outdir, c->label);
	{
		FILE *f = fopen(p, "w");

		if (!f || fputs(meta_text, f) < 0 || fclose(f) != 0)
			die("cannot write", p);
	}
	free(p);
	free(meta_text);
	json_decref(meta);
}

/* ---- one verification by each implementation ------------------------------ */

static int one_sesame(struct alg_case *c)
{
	json_t *claims = NULL;
	sesame_error err;
	int rc = keys_verify(c->keys, c->token, &rules, (int64_t)time(NULL), &claims, &err);

	json_decref(claims);
	return rc == SESAME_OK;
}

static int one_openssl(struct alg_case *c)
{
	if (c->mac) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		size_t maclen = 0;
		EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(c->mac);
		int ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)c->input, c->input_len) == 1 &&
			 EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == c->sig_len &&
			 CRYPTO_memcmp(mac, c->sig, maclen) == 0;

		EVP_MAC_CTX_free(ctx);
		return ok;
	} else {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok = ctx && EVP_MD_CTX_copy_ex(ctx, c->tmpl) == 1 &&
			 EVP_DigestVerify(ctx, c->sig, c->sig_len, (const unsigned char *)c->input, c->input_len) == 1;

		EVP_MD_CTX_free(ctx);
		return ok;
	}
}

#ifdef HAVE_LIBJWT
static int one_libjwt(struct alg_case *c)
{
	jwt_t *jwt = NULL;
	int ok = jwt_decode(&jwt, c->token, (const unsigned char *)c->pub_pem, (int)c->pub_pem_len) == 0;

	jwt_free(jwt);
	return ok;
}
#endif

typedef int (*one_fn)(struct alg_case *c);

struct run {
	one_fn fn;
	struct alg_case *c;
	double seconds;
	long count;
	double cpu; /* seconds of the thread's CPU time */
	int failed;
};

/* Seconds of CPU time the calling thread has used: unlike the wall clock,
 * it does not count the time a busy shared machine gave to others. */
static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Verify in a loop for `seconds`; checks the clock every 16 tokens. */
static void *run_loop(void *arg)
{
	struct run *r = arg;
	double end = now_s() + r->seconds, cpu0 = thread_cpu_s();
	long n = 0;

	do {
		int i;

		for (i = 0; i < 16; i++)
			if (!r->fn(r->c))
				r->failed = 1;
		n += 16;
	} while (now_s() < end);
	r->count = n;
	r->cpu = thread_cpu_s() - cpu0;
	return NULL;
}

/* Tokens/s of `fn` on `threads` threads. */
static double measure(one_fn fn, struct alg_case *c, double seconds, int threads)
{
	struct run r[2];
	pthread_t tid[2];
	double t0, t1;
	long total = 0;
	int i;

	for (i = 0; i < threads; i++)
		r[i] = (struct run){.fn = fn, .c = c, .seconds = seconds};
	t0 = now_s();
	for (i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, run_loop, &r[i]) != 0)
			die("pthread_create", NULL);
	for (i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		if (r[i].failed)
			die("a verification failed", c->name);
		total += r[i].count;
	}
	t1 = now_s();
	return (double)total / (t1 - t0);
}

/*
 * `a` and `b` on this thread in turn, SLICES slices of each within
 * `seconds` apiece: a drift of the machine's speed, which on a shared VM
 * goes over seconds, weighs on both alike.  Their rates per second of
 * wall-clock time to rate[0] and rate[1], per second of thread CPU time to
 * cpurate[0] and cpurate[1].
 */
#define SLICES 20

static void measure_pair(one_fn a, one_fn b, struct alg_case *c, double seconds, double rate[2],
			 double cpurate[2])
{
	one_fn fn[2] = {a, b};
	double wall[2] = {0, 0}, cpu[2] = {0, 0};
	long count[2] = {0, 0};
	int slice, k;

	for (slice = 0; slice < SLICES; slice++) {
		for (k = 0; k < 2; k++) {
			struct run r = {.fn = fn[k], .c = c, .seconds = seconds / SLICES};
			double t0 = now_s();

			run_loop(&r);
			if (r.failed)
				die("a verification failed", c->name);
			wall[k] += now_s() - t0;
			cpu[k] += r.cpu;
			count[k] += r.count;
		}
	}
	for (k = 0; k < 2; k++) {
		rate[k] = (double)count[k] / wall[k];
		cpurate[k] = cpu[k] > 0 ? (double)count[k] / cpu[k] : 0;
	}
}

/* node jose: the script prints one rate (tokens/s) or fails. */
static double measure_jose(const char *script, const char *outdir, struct alg_case *c, double seconds)
{
	char cmd[2048], line[128];
	double rate = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "node '%s' '%s/token-%s.json' %.3f", script, outdir, c->label, seconds);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (fgets(line, sizeof(line), p))
		rate = strtod(line, NULL);
	if (pclose(p) != 0)
		return 0;
	return rate;
}

static bool has(const bool *have, const struct alg_case *c, int i)
{
	return have[i] && !(i == I_LIBJWT && c->no_libjwt);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Median of the per-repetition ratios a[i]/b[i]: both measured side by
 * side, so the drift of the machine cancels out of each pair. */
static double median_ratio(const double *a, const double *b, int n)
{
	double r[MAX_REPS];
	int i;

	for (i = 0; i < n; i++)
		r[i] = b[i] > 0 ? a[i] / b[i] : 0;
	return median(r, n);
}

int main(int argc, char **argv)
{
	const char *keydir, *outdir, *jose = NULL;
	double seconds = 0.5;
	int reps = 5, i, rep, k;
	bool have[N_IMPL] = {true, true, false, false};
	const char *profile = NULL;
	long profile_n = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: verify KEYDIR OUTDIR [--quick] [--seconds S] [--reps N] [--jose SCRIPT]\n");
		return 2;
	}
	keydir = argv[1];
	outdir = argv[2];
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			seconds = 0.25;
			reps = 3;
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = (int)strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--profile") == 0 && i + 2 < argc) {
			profile = argv[++i];
			profile_n = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--jose") == 0 && i + 1 < argc) {
			jose = argv[++i];
		} else {
			fprintf(stderr, "verify: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || seconds <= 0 || seconds > 10)
		die("--reps must be 1..15 and --seconds 0..10", NULL);
#ifdef HAVE_LIBJWT
	have[I_LIBJWT] = true;
#else
	printf("note: libjwt not found at build time (pkg-config libjwt): its column is skipped\n");
#endif
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++)
		prepare(&cases[k], keydir, outdir);
	if (profile) {
		for (k = 0; k < (int)ARRAY_SIZE(cases) && strcmp(cases[k].name, profile) != 0; k++)
			;
		if (k == (int)ARRAY_SIZE(cases))
			die("no such alg", profile);
		for (; profile_n > 0; profile_n--)
			if (!one_sesame(&cases[k]))
				die("a verification failed", profile);
		return 0;
	}
	if (jose) {
		have[I_JOSE] = measure_jose(jose, outdir, &cases[0], 0.05) > 0;
		if (!have[I_JOSE])
			printf("note: node jose did not run (%s): its column is skipped\n", jose);
	}
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++) {
		struct alg_case *c = &cases[k];

		if (!one_sesame(c) || !one_openssl(c))
			die("the bench token does not verify", c->name);
#ifdef HAVE_LIBJWT
		c->no_libjwt = !one_libjwt(c);
		if (c->no_libjwt)
			printf("note: libjwt cannot verify %s tokens: skipped\n", c->name);
#endif
		printf("%s token: %zu bytes\n", c->name, strlen(c->token));
	}
	fflush(stdout);

	/* Alternate: every implementation once per repetition, in turn. */
	for (rep = 0; rep < reps; rep++) {
		for (k = 0; k < (int)ARRAY_SIZE(cases); k++) {
			struct alg_case *c = &cases[k];

			double rate[2], cpurate[2];

			measure_pair(one_sesame, one_openssl, c, seconds, rate, cpurate);
			c->rate[I_SESAME][rep] = rate[0];
			c->rate[I_OPENSSL][rep] = rate[1];
			c->cpurate[0][rep] = cpurate[0];
			c->cpurate[1][rep] = cpurate[1];
#ifdef HAVE_LIBJWT
			if (!c->no_libjwt)
				c->rate[I_LIBJWT][rep] = measure(one_libjwt, c, seconds, 1);
#endif
			if (have[I_JOSE])
				c->rate[I_JOSE][rep] = measure_jose(jose, outdir, c, seconds);
			c->rate2[0][rep] = measure(one_sesame, c, seconds, 2);
			c->rate2[1][rep] = measure(one_openssl, c, seconds, 2);
		}
	}

	printf("\nToken verification, tokens/s (median of %d alternated runs of %.2f s)\n", reps, seconds);
	printf("%-6s %10s %10s %10s %10s | %8s %8s %8s | %9s %9s\n", "alg", "sesame", "openssl", "libjwt", "jose",
	       "/openssl", "/libjwt", "/jose", "2thr s", "2thr o");
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++) {
		struct alg_case *c = &cases[k];

		printf("%-6s", c->name);
		for (i = 0; i < N_IMPL; i++)
			if (has(have, c, i))
				printf(" %10.0f", median(c->rate[i], reps));
			else
				printf(" %10s", "-");
		printf(" |");
		for (i = I_OPENSSL; i < N_IMPL; i++)
			if (has(have, c, i))
				printf(" %7.2fx", median_ratio(c->rate[I_SESAME], c->rate[i], reps));
			else
				printf(" %8s", "-");
		printf(" | %8.2fx %8.2fx\n", median_ratio(c->rate2[0], c->rate[I_SESAME], reps),
		       median_ratio(c->rate2[1], c->rate[I_OPENSSL], reps));
	}
	printf("(2thr: 2-thread rate / 1-thread rate, sesame and openssl)\n");
	printf("sesame/openssl per second of thread CPU time (what a busy machine's preemption does not skew):");
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++)
		printf(" %s %.2fx", cases[k].name, median_ratio(cases[k].cpurate[0], cases[k].cpurate[1], reps));
	printf("\n\n");
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++) {
		struct alg_case *c = &cases[k];

		for (i = 0; i < N_IMPL; i++)
			if (has(have, c, i))
				printf("bench: verify_%s_%s %.0f tokens/s\n", c->label, impl_names[i],
				       median(c->rate[i], reps));
		printf("bench: verify_%s_sesame_2threads %.0f tokens/s\n", c->label, median(c->rate2[0], reps));
	}
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++) {
		struct alg_case *c = &cases[k];

		for (i = I_OPENSSL; i < N_IMPL; i++)
			if (has(have, c, i))
				printf("ratio: verify_%s_sesame/%s %.3f\n", c->label, impl_names[i],
				       median_ratio(c->rate[I_SESAME], c->rate[i], reps));
		printf("ratio: verify_%s_sesame/openssl_cpu %.3f\n", c->label,
		       median_ratio(c->cpurate[0], c->cpurate[1], reps));
		printf("ratio: verify_%s_sesame_scaling_2threads %.3f\n", c->label,
		       median_ratio(c->rate2[0], c->rate[I_SESAME], reps));
		printf("ratio: verify_%s_openssl_scaling_2threads %.3f\n", c->label,
		       median_ratio(c->rate2[1], c->rate[I_OPENSSL], reps));
	}
	for (k = 0; k < (int)ARRAY_SIZE(cases); k++) {
		struct alg_case *c = &cases[k];

		keys_free(c->keys);
		free(c->token);
		free(c->pub_pem);
		free(c->sig);
		EVP_PKEY_free(c->pkey);
		EVP_MD_CTX_free(c->tmpl);
		EVP_MAC_CTX_free(c->mac);
	}
	return 0;
}

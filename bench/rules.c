/* SPDX-License-Identifier: MIT */
/*
 * bench/rules.c — rule decisions per second: a realistic rule file (10
 * roles, field-level permissions, the applying role last) and a 1 KiB
 * document, decided by sesame's compiled rules, against the same rules in
 * node with mingo (the query matcher a JavaScript backend would use), and
 * against what a decision is measured by: one access-token verification.
 * Implementations run alternately; medians of the repetitions are
 * reported, ratios are medians of per-repetition ratios.
 *
 *   rules BUILDDIR OUTDIR [--quick] [--mingo SCRIPT]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rules.h"

#define MAX_REPS 15
#define USER_ID "65f0c0ffee0123456789abcd"

/* Nine roles that do not apply to the benchmark's user, then the owner's. */
static const char rules_text[] =
    "{\"database\": \"shop\", \"collection\": \"orders\", \"roles\": [\n"
    " {\"name\": \"admin\", \"apply_when\": {\"%%user.custom_data.role\": \"admin\"}, \"read\": true, \"write\": true},\n"
    " {\"name\": \"auditor\", \"apply_when\": {\"%%user.custom_data.role\": \"auditor\", \"region\": "
    "\"%%user.custom_data.region\"}, \"read\": true, \"insert\": false, \"delete\": false},\n"
    " {\"name\": \"support\", \"apply_when\": {\"%%user.custom_data.role\": {\"$in\": [\"support\", \"lead\"]}}, "
    "\"fields\": {\"status\": {\"read\": true, \"write\": true}, \"notes\": {\"read\": true, \"write\": true}, "
    "\"customer\": {\"read\": true}}, \"additional_fields\": {\"read\": false}},\n"
    " {\"name\": \"warehouse\", \"apply_when\": {\"%%user.custom_data.role\": \"warehouse\", \"status\": {\"$in\": "
    "[\"paid\", \"packed\"]}}, \"fields\": {\"items\": {\"read\": true}, \"status\": {\"read\": true, \"write\": "
    "true}, \"shipping\": {\"read\": true, \"write\": true}}},\n"
    " {\"name\": \"courier\", \"apply_when\": {\"%%user.custom_data.role\": \"courier\", \"shipping.courier_id\": "
    "\"%%user.id\"}, \"fields\": {\"shipping\": {\"read\": true, \"fields\": {\"status\": {\"write\": true}}}}},\n"
    " {\"name\": \"finance\", \"apply_when\": {\"%%user.custom_data.role\": \"finance\", \"total\": {\"$gte\": "
    "1000}}, \"fields\": {\"total\": {\"read\": true}, \"payment\": {\"read\": true, \"write\": true}}},\n"
    " {\"name\": \"manager\", \"apply_when\": {\"%%user.custom_data.level\": {\"$gt\": 5}, \"region\": "
    "\"%%user.custom_data.region\"}, \"read\": true, \"fields\": {\"discount\": {\"write\": true}}},\n"
    " {\"name\": \"shared\", \"apply_when\": {\"shared_with\": \"%%user.id\", \"status\": {\"$ne\": \"draft\"}}, "
    "\"read\": true, \"insert\": false, \"delete\": false},\n"
    " {\"name\": \"partner\", \"apply_when\": {\"%%user.data.email\": {\"$exists\": true}, \"partner\": "
    "\"%%user.custom_data.partner\"}, \"fields\": {\"items\": {\"read\": true}, \"total\": {\"read\": true}}},\n"
    " {\"name\": \"owner\", \"apply_when\": {\"owner_id\": \"%%user.id\"}, \"document_filters\": {\"write\": "
    "{\"status\": {\"$in\": [\"draft\", \"open\"]}}}, \"fields\": {\"_id\": {\"read\": true}, \"owner_id\": "
    "{\"read\": true}, \"status\": {\"read\": true}, \"items\": {\"read\": true, \"write\": true}, \"notes\": "
    "{\"read\": true, \"write\": true}, \"shipping\": {\"read\": true, \"write\": true}, \"total\": {\"read\": true}, "
    "\"created\": {\"read\": true, \"write\": {\"%%prev\": {\"$exists\": false}}}, \"internal\": {\"read\": false}}, "
    "\"additional_fields\": {\"read\": true}, \"insert\": true, \"delete\": false}\n"
    "]}\n";

static const char user_text[] =
    "{\"id\": \"" USER_ID "\", \"type\": \"normal\", \"data\": {\"email\": \"ann@example.com\", \"name\": \"Ann\"}, "
    "\"custom_data\": {\"role\": \"customer\", \"region\": \"eu\", \"level\": 2, \"partner\": \"none\"}, "
    "\"identities\": [{\"id\": \"ann@example.com\", \"provider\": \"local-userpass\", \"provider_type\": "
    "\"local-userpass\", \"data\": {}}]}";

static const char doc_text[] =
    "{\"_id\": \"66a1b2c3d4e5f60718293a4b\", \"owner_id\": \"" USER_ID "\", \"status\": \"open\", "
    "\"region\": \"eu\", \"partner\": \"acme\", \"created\": 1718000000, \"total\": 149.9, \"discount\": 0, "
    "\"customer\": {\"name\": \"Ann Example\", \"email\": \"ann@example.com\", \"phone\": \"+33 1 23 45 67 89\"}, "
    "\"items\": [{\"sku\": \"A-1001\", \"name\": \"Blue mug\", \"qty\": 2, \"price\": 12.5}, {\"sku\": "
    "\"B-2002\", \"name\": \"Tea pot\", \"qty\": 1, \"price\": 49.9}, {\"sku\": \"C-3003\", \"name\": \"Green "
    "tea 250 g\", \"qty\": 3, \"price\": 25.0}], \"shipping\": {\"courier_id\": \"77aa00bb11cc22dd33ee44ff\", "
    "\"status\": \"waiting\", \"address\": {\"street\": \"12 rue de la Paix\", \"city\": \"Paris\", \"zip\": "
    "\"75002\", \"country\": \"FR\"}}, \"payment\": {\"method\": \"card\", \"last4\": \"4242\", \"paid_at\": null}, "
    "\"shared_with\": [\"11aa00bb11cc22dd33ee44ff\", \"22aa00bb11cc22dd33ee44ff\"], \"notes\": \"Leave the parcel "
    "with the neighbour if nobody is home; ring twice.\", \"tags\": [\"gift\", \"fragile\"], \"internal\": "
    "{\"risk\": 0.02, \"reviewed_by\": \"system\"}}";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "rules bench: %s: %s\n", what, why);
	exit(1);
}

static char *path_of(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p)
		die("memory", "out of memory");
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = path_of(dir, name);
	FILE *f = fopen(p, "w");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		die(p, "cannot write");
	free(p);
}

enum impl { I_READ, I_WRITE, I_FILTER, I_API, I_VERIFY, I_MINGO, I_MINGO_CACHED, N_IMPL };
static const char *const names[N_IMPL] = {"decision_read", "decision_write", "filter_read",	   "evaluate_api",
					  "token_verify",  "mingo_read",     "mingo_cached_read"};

struct bench {
	struct ruleset rs;
	json_t *user, *doc, *changed;
	sesame_ctx *ctx;
	sesame_caller *sys;
	char user_id[32];
	char *token;
	const char *outdir, *mingo;
};

/* One operation of implementation `i` (not node's). */
static void once(struct bench *b, enum impl i)
{
	json_t *out = NULL;
	sesame_error err;
	int rc = SESAME_OK;

	switch (i) {
	case I_READ:
		rc = rules_decide(&b->rs, b->user, ACT_READ, b->doc, NULL, &out, &err);
		break;
	case I_WRITE:
		rc = rules_decide(&b->rs, b->user, ACT_WRITE, b->changed, b->doc, &out, &err);
		break;
	case I_FILTER:
		rc = rules_filter(&b->rs, b->user, ACT_READ, &out, &err);
		break;
	case I_API:
		rc = sesame_rules_evaluate(b->sys, b->user_id, "shop.orders", "read", b->doc, NULL, &out, &err);
		break;
	default:
		rc = sesame_access_token_verify(b->ctx, b->token, 0, &out, &err);
		break;
	}
	if (rc != SESAME_OK)
		die(names[i], err.text);
	json_decref(out);
}

static double measure(struct bench *b, enum impl i, double seconds)
{
	double t0 = now_s(), t;
	long n = 0;

	do {
		int k;

		for (k = 0; k < 64; k++)
			once(b, i);
		n += 64;
		t = now_s();
	} while (t - t0 < seconds);
	return (double)n / (t - t0);
}

/* node with mingo: the script prints one rate (decisions/s) or fails. */
static double measure_mingo(struct bench *b, bool cached, double seconds)
{
	char cmd[4096], line[128];
	double rate = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "node '%s' '%s' %s %.3f", b->mingo, b->outdir, cached ? "cached" : "request", seconds);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (fgets(line, sizeof(line), p))
		rate = strtod(line, NULL);
	if (pclose(p) != 0)
		return 0;
	return rate;
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

static double median_ratio(const double *a, const double *b, int n)
{
	double r[MAX_REPS];
	int i;

	for (i = 0; i < n; i++)
		r[i] = b[i] > 0 ? a[i] / b[i] : 0;
	return median(r, n);
}

/* A context with an anon-user provider and an SQLite store in OUTDIR/ctx,
 * one anonymous user, its access token, and the rules above. */
static void setup_ctx(struct bench *b, const char *builddir)
{
	char *dir = path_of(b->outdir, "rules-ctx"), *provs, *rules, *main_path, text[4096], *plugins, *stores;
	json_t *session = NULL, *none = json_object();
	sesame_error err;

	plugins = path_of(builddir, "plugins/providers/.libs");
	stores = path_of(builddir, "plugins/stores/.libs");
	provs = path_of(dir, "providers.d");
	rules = path_of(dir, "rules.d");
	snprintf(text, sizeof(text), "rm -rf '%s' && mkdir -p '%s' '%s' && chmod 700 '%s'", dir, provs, rules, dir);
	if (system(text) != 0)
		die(dir, "cannot create");
	write_file(provs, "anon.json", "{\"type\": \"anon-user\"}\n");
	write_file(rules, "shop.orders.json", rules_text);
	snprintf(text, sizeof(text),
		 "{\"app_id\": \"bench-app\", \"plugin_dir\": \"%s\", \"store_dir\": \"%s\", \"provider_dirs\": [\"%s\"], "
		 "\"rules_dirs\": [\"%s\"], \"state_dir\": \"%s\"}\n",
		 plugins, stores, provs, rules, dir);
	write_file(dir, "sesame.json", text);
	main_path = path_of(dir, "sesame.json");
	b->ctx = sesame_new();
	sesame_set_logger(b->ctx, NULL, NULL, SESAME_LOG_WARNING);
	if (!b->ctx || sesame_configure(b->ctx, main_path, 0, &err) != SESAME_OK)
		die("sesame_configure", err.text);
	b->sys = sesame_caller_system(b->ctx);
	if (sesame_login(b->ctx, "anon", none, NULL, &session, &err) != SESAME_OK)
		die("login", err.text);
	json_decref(none);
	snprintf(b->user_id, sizeof(b->user_id), "%s", json_string_value(json_object_get(session, "user_id")));
	b->token = strdup(json_string_value(json_object_get(session, "access_token")));
	json_decref(session);
	/* The stored user owns the document through its custom data and id. */
	{
		json_t *cd = json_object_get(b->user, "custom_data");

		if (sesame_user_custom_data_set(b->sys, b->user_id, cd, &err) != SESAME_OK)
			die("custom data", err.text);
		json_object_set_new(b->doc, "owner_id", json_string(b->user_id));
		json_object_set_new(b->changed, "owner_id", json_string(b->user_id));
		json_object_set_new(b->user, "id", json_string(b->user_id));
	}
	free(dir);
	free(provs);
	free(rules);
	free(main_path);
	free(plugins);
	free(stores);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	double seconds = 0.5, rate[N_IMPL][MAX_REPS] = {{0}};
	bool have[N_IMPL];
	int reps = 5, rep, i;
	char *rules_path;
	sesame_error err;
	json_t *decision = NULL;
	size_t doc_len;
	char *dump;

	if (argc < 3) {
		fprintf(stderr, "usage: rules BUILDDIR OUTDIR [--quick] [--mingo SCRIPT]\n");
		return 2;
	}
	b.outdir = argv[2];
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			seconds = 0.3;
			reps = 3;
		} else if (strcmp(argv[i], "--mingo") == 0 && i + 1 < argc) {
			b.mingo = argv[++i];
		}
	}
	mkdir(b.outdir, 0755);
	b.user = json_loads(user_text, 0, NULL);
	b.doc = json_loads(doc_text, 0, NULL);
	b.changed = json_loads(doc_text, 0, NULL);
	if (!b.user || !b.doc || !b.changed)
		die("fixtures", "do not parse");
	json_object_set_new(b.changed, "notes", json_string("Ring once."));
	setup_ctx(&b, argv[1]);
	dump = json_dumps(b.doc, JSON_COMPACT);
	doc_len = strlen(dump);
	free(dump);
	/* The files node reads: the same rules, user and document. */
	write_file(b.outdir, "rules-bench.json", rules_text);
	dump = json_dumps(b.user, JSON_COMPACT);
	write_file(b.outdir, "rules-user.json", dump);
	free(dump);
	dump = json_dumps(b.doc, JSON_COMPACT);
	write_file(b.outdir, "rules-doc.json", dump);
	free(dump);
	rules_path = path_of(b.outdir, "rules-bench.json");
	if (ruleset_load(&b.rs, "shop.orders", rules_path, &err) != SESAME_OK)
		die("rules", err.text);
	free(rules_path);
	if (rules_decide(&b.rs, b.user, ACT_READ, b.doc, NULL, &decision, &err) != SESAME_OK ||
	    !json_is_true(json_object_get(decision, "allowed")))
		die("the owner's decision", "not allowed");
	json_decref(decision);
	for (i = 0; i < N_IMPL; i++)
		have[i] = i < I_MINGO || (b.mingo && measure_mingo(&b, i == I_MINGO_CACHED, 0.05) > 0);
	if (b.mingo && !have[I_MINGO])
		printf("note: node with mingo did not run (%s): its columns are skipped\n", b.mingo);
	printf("rule file: 10 roles (the owner's last), field permissions; document %zu bytes\n", doc_len);
	for (rep = 0; rep < reps; rep++)
		for (i = 0; i < N_IMPL; i++) {
			if (!have[i])
				continue;
			rate[i][rep] =
			    i >= I_MINGO ? measure_mingo(&b, i == I_MINGO_CACHED, seconds) : measure(&b, (enum impl)i, seconds);
		}
	printf("%-18s %14s\n", "what", "per second");
	for (i = 0; i < N_IMPL; i++)
		if (have[i])
			printf("%-18s %14.0f\n", names[i], median(rate[i], reps));
	for (i = 0; i < N_IMPL; i++)
		if (have[i])
			printf("bench: rules_%s %.0f per_s\n", names[i], median(rate[i], reps));
	if (have[I_MINGO]) {
		printf("ratio: rules_decision_read/mingo %.2f\n", median_ratio(rate[I_READ], rate[I_MINGO], reps));
		printf("ratio: rules_decision_read/mingo_cached %.2f\n",
		       median_ratio(rate[I_READ], rate[I_MINGO_CACHED], reps));
		printf("ratio: rules_evaluate_api/mingo %.2f\n", median_ratio(rate[I_API], rate[I_MINGO], reps));
	}
	printf("ratio: rules_decision_read/token_verify %.2f\n", median_ratio(rate[I_READ], rate[I_VERIFY], reps));
	printf("ratio: rules_decision_write/token_verify %.2f\n", median_ratio(rate[I_WRITE], rate[I_VERIFY], reps));
	printf("ratio: rules_evaluate_api/token_verify %.2f\n", median_ratio(rate[I_API], rate[I_VERIFY], reps));
	ruleset_free(&b.rs);
	json_decref(b.user);
	json_decref(b.doc);
	json_decref(b.changed);
	sesame_caller_free(b.sys);
	sesame_free(b.ctx);
	free(b.token);
	return 0;
}

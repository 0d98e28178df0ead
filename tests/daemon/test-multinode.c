/* SPDX-License-Identifier: MIT */
/*
 * tests/daemon/test-multinode.c — two sesamed nodes on one PostgreSQL
 * database, driven over HTTP as a load balancer would spread clients:
 * concurrent first logins of one identity on both nodes make one user; a
 * logout, a disabled or a deleted user on one node is refused by the other
 * at once; a key rotated by `sesame keys rotate` is verified by every node
 * at once and signed with within seconds (the test moves the nodes' clocks
 * instead of waiting); the email/password failure counters and one-time
 * reset and confirmation tokens are shared; the per-address throttles are
 * not (each node counts its own); connections cut by the server answer 503
 * (once) and the next login reconnects; and one node killed with SIGKILL
 * under load loses no
 * acknowledged login and leaves no duplicate user, its clients retrying
 * on the other node.  Runs against the cluster of
 * tests/store/postgres-suite.sh.  Every wait is bounded; nothing asserts a
 * duration.
 */
#include "config.h"

#include <stdatomic.h>

#include "harness.h"
#include "../store/pgtest.h"

#define FIX(route) "/api/client/v2.0/app/test-app/auth/providers/fix/" route
#define UP(route) "/api/client/v2.0/app/test-app/auth/providers/up/" route
#define MAIL(route) "/api/client/v2.0/app/test-app/auth/providers/mail/" route
#define ANON(route) "/api/client/v2.0/app/test-app/auth/providers/anon-user/" route
#define CONF(route) "/api/client/v2.0/app/test-app/auth/providers/conf/" route
#define ADMIN_AUTH "Authorization: Bearer " ADMIN_KEY

static const char *const plugins[] = {"local-userpass", "anon-user", NULL};

struct nodes {
	char *db;
	struct daemon *a, *b;
};

/* One node on database `db`, with the providers every node has. */
static struct daemon *node_new(const char *tag, const char *db)
{
	char extra[2048], text[2048], *conninfo = pg_conninfo(db), *sender, *box;
	struct daemon *d;

	snprintf(extra, sizeof(extra),
		 "\"admin_key\": \"" ADMIN_KEY
		 "\", \"test_mode\": true,"
		 " \"store\": {\"type\": \"postgres\", \"conninfo\": \"%s\", \"pool_size\": 6},"
		 " \"daemon\": {\"login_failures_per_minute\": 100000, \"identifier_failures_per_hour\": 100000,"
		 " \"account_requests_per_hour\": 100000, \"anon_logins_per_minute\": 3,"
		 " \"max_connections_per_address\": 0}",
		 conninfo);
	d = daemon_new(tag, extra, plugins);
	provider(d, "fix", "{\"type\": \"fixture-good\"}");
	provider(d, "anon-user", "{\"type\": \"anon-user\"}");
	provider(d, "up",
		 "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"max_failures\": 3, "
		 "\"scrypt\": {\"log2_n\": 10}}}");
	/* The reset mailer writes the node's own outbox. */
	sender = install_sender(d, &box);
	snprintf(
	    text, sizeof(text),
	    "{\"type\": \"local-userpass\", \"config\": {\"auto_confirm\": true, \"reset_command\": [\"%s\", \"%s\"],"
	    " \"scrypt\": {\"log2_n\": 10}}}",
	    sender, box);
	provider(d, "mail", text);
	snprintf(text, sizeof(text),
		 "{\"type\": \"local-userpass\", \"config\": {\"confirm_command\": [\"%s\", \"%s\"],"
		 " \"scrypt\": {\"log2_n\": 10}}}",
		 sender, box);
	provider(d, "conf", text);
	free(sender);
	free(box);
	free(conninfo);
	return d;
}

static struct nodes *nodes_start(const char *tag)
{
	struct nodes *n = calloc(1, sizeof(*n));
	char name[64];

	assert_non_null(n);
	n->db = pg_create_database(tag, NULL);
	snprintf(name, sizeof(name), "%s-a", tag);
	n->a = node_new(name, n->db);
	snprintf(name, sizeof(name), "%s-b", tag);
	n->b = node_new(name, n->db);
	daemon_start(n->a);
	daemon_start(n->b);
	return n;
}

/* Stop both nodes (each must exit 0: drained, leak-free), drop the database. */
static int nodes_stop(struct nodes *n)
{
	int rc = daemon_finish(n->a);

	rc |= daemon_finish(n->b);
	pg_drop_database(n->db);
	free(n->db);
	free(n);
	return rc;
}

static int group_setup(void **state)
{
	if (!pg_available()) {
		fprintf(stderr, "test-multinode needs the cluster of tests/store/postgres-suite.sh\n");
		return -1;
	}
	*state = nodes_start("nodes");
	return 0;
}

static int group_teardown(void **state)
{
	return nodes_stop(*state);
}

/* ---- requests ---------------------------------------------------------------- */

static void admin(const struct daemon *d, const char *method, const char *path, struct http *r)
{
	struct req q = {method, path, {ADMIN_AUTH, NULL}, NULL, false, NULL};

	http(d, &q, r);
}

/* Log `user` in with the fixture provider on `d`; the answer (fails the
 * test on anything but 200). */
static json_t *login(const struct daemon *d, const char *user)
{
	char body[256];
	struct http r;
	json_t *v;

	snprintf(body, sizeof(body), "{\"user\": \"%s\"}", user);
	post(d, FIX("login"), body, &r);
	if (r.status != 200)
		fail_msg("login %s on %s: %ld %s", user, d->url, r.status, r.body ? r.body : "");
	v = json_body(&r);
	http_free(&r);
	return v;
}

static long refresh_status(const struct daemon *d, const char *refresh)
{
	struct http r;
	long status;

	bearer_call(d, "POST", "/api/client/v2.0/auth/session", refresh, &r);
	status = r.status;
	http_free(&r);
	return status;
}

/* Every user, with its identities, as node `d` lists them. */
static json_t *all_users(const struct daemon *d)
{
	json_t *all = json_array(), *page, *u;
	char path[256], after[32] = "";
	struct http r;
	size_t i;

	for (;;) {
		snprintf(path, sizeof(path), "/api/admin/v1/users?limit=1000%s%s", after[0] ? "&after=" : "", after);
		admin(d, "GET", path, &r);
		assert_int_equal(r.status, 200);
		page = json_body(&r);
		http_free(&r);
		if (json_array_size(page) == 0) {
			json_decref(page);
			return all;
		}
		json_array_foreach (page, i, u)
			json_array_append(all, u);
		snprintf(after, sizeof(after), "%s", str(json_array_get(page, json_array_size(page) - 1), "id"));
		json_decref(page);
	}
}

/* The kid in a token's header, decoded here: "{\"alg\":...,\"kid\":\"...\"}". */
static char *token_kid(const char *token)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *dot = strchr(token, '.');
	unsigned char raw[512];
	size_t n = 0, i;
	unsigned bits = 0, acc = 0;
	json_t *h;
	char *kid;

	assert_non_null(dot);
	for (i = 0; token + i < dot && n < sizeof(raw) - 1; i++) {
		const char *p = strchr(alphabet, token[i]);

		assert_non_null(p);
		acc = (acc << 6) | (unsigned)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	h = json_loadb((const char *)raw, n, 0, NULL);
	assert_non_null(h);
	kid = strdup(str(h, "kid"));
	json_decref(h);
	return kid;
}

static json_t *jwks_kids(const struct daemon *d)
{
	struct req q = {"GET", "/.well-known/jwks.json", {NULL}, NULL, false, NULL};
	json_t *v, *kids = json_array(), *k;
	struct http r;
	size_t i;

	http(d, &q, &r);
	assert_int_equal(r.status, 200);
	v = json_body(&r);
	json_array_foreach (json_object_get(v, "keys"), i, k)
		json_array_append_new(kids, json_string(str(k, "kid")));
	json_decref(v);
	http_free(&r);
	return kids;
}

static bool contains(const json_t *list, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach (list, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* ---- first logins -------------------------------------------------------------- */

struct racer {
	const struct daemon *d;
	pthread_barrier_t *go;
	long status;
	char user_id[32];
};

static void *race_login(void *arg)
{
	struct racer *r = arg;
	struct http h;
	json_t *v;

	pthread_barrier_wait(r->go);
	post(r->d, FIX("login"), "{\"user\": \"shared-identity\"}", &h);
	r->status = h.status;
	if (h.status == 200 && (v = json_loadb(h.body, h.len, 0, NULL)) != NULL) {
		snprintf(r->user_id, sizeof(r->user_id), "%s", json_string_value(json_object_get(v, "user_id")));
		json_decref(v);
	}
	http_free(&h);
	return NULL;
}

static void test_first_logins_on_both_nodes_make_one_user(void **state)
{
	enum { N = 16 };
	struct nodes *n = *state;
	struct racer r[N];
	pthread_t t[N];
	pthread_barrier_t go;
	json_t *users, *u;
	size_t i, holders = 0;

	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		r[i] = (struct racer){.d = i % 2 ? n->b : n->a, .go = &go};
		assert_int_equal(pthread_create(&t[i], NULL, race_login, &r[i]), 0);
	}
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < N; i++) {
		if (r[i].status != 200)
			fail_msg("login %zu on node %c: HTTP %ld", i, i % 2 ? 'b' : 'a', r[i].status);
		assert_string_equal(r[i].user_id, r[0].user_id);
	}
	users = all_users(n->a);
	json_array_foreach (users, i, u) {
		const json_t *ids = json_object_get(u, "identities");
		size_t j;

		for (j = 0; j < json_array_size(ids); j++)
			if (strcmp(str(json_array_get(ids, j), "id"), "shared-identity") == 0)
				holders++;
	}
	assert_int_equal(holders, 1);
	json_decref(users);
}

/* ---- revocation ------------------------------------------------------------------ */

static void test_revocation_on_one_node_is_refused_by_the_other(void **state)
{
	struct nodes *n = *state;
	json_t *s = login(n->a, "rosa"), *again;
	char path[256];
	struct http r;

	/* The other node knows the session... */
	assert_int_equal(refresh_status(n->b, str(s, "refresh_token")), 201);
	bearer_call(n->b, "GET", "/api/client/v2.0/auth/profile", str(s, "access_token"), &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	/* ...until it is logged out on the first. */
	bearer_call(n->a, "DELETE", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_int_equal(r.status, 204);
	http_free(&r);
	bearer_call(n->b, "POST", "/api/client/v2.0/auth/session", str(s, "refresh_token"), &r);
	assert_error(&r, 401, "InvalidSession", "failed to find refresh token");
	http_free(&r);
	json_decref(s);

	/* Disabled on one node: refused on the other at once. */
	s = login(n->a, "sven");
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s/disable", str(s, "user_id"));
	admin(n->a, "PUT", path, &r);
	assert_true(r.status == 200 || r.status == 204);
	http_free(&r);
	assert_int_equal(refresh_status(n->b, str(s, "refresh_token")), 401);
	bearer_call(n->b, "GET", "/api/client/v2.0/auth/profile", str(s, "access_token"), &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	post(n->b, FIX("login"), "{\"user\": \"sven\"}", &r);
	assert_error(&r, 401, "UserDisabled", "");
	http_free(&r);
	json_decref(s);

	/* Deleted on one node: gone on the other; signing up again is a new user. */
	s = login(n->b, "dora");
	snprintf(path, sizeof(path), "/api/admin/v1/users/%s", str(s, "user_id"));
	admin(n->a, "DELETE", path, &r);
	assert_true(r.status == 200 || r.status == 204);
	http_free(&r);
	assert_int_equal(refresh_status(n->b, str(s, "refresh_token")), 401);
	admin(n->b, "GET", path, &r);
	assert_int_equal(r.status, 404);
	http_free(&r);
	again = login(n->b, "dora");
	assert_string_not_equal(str(again, "user_id"), str(s, "user_id"));
	json_decref(again);
	json_decref(s);
}

/* ---- signing keys ---------------------------------------------------------------- */

static void test_rotated_key_reaches_both_nodes(void **state)
{
	struct nodes *n = *state;
	json_t *before = login(n->a, "kai"), *on_b, *rot, *kids;
	char *k0 = token_kid(str(before, "access_token")), *kid, cmd[2048], *out = NULL;
	struct http r;

	on_b = login(n->b, "kai");
	kid = token_kid(str(on_b, "access_token"));
	assert_string_equal(kid, k0);
	free(kid);
	json_decref(on_b);

	/* The operator rotates from the command line, beside the running nodes. */
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' keys rotate", tu_env("SESAME_CLI"), n->a->config);
	assert_int_equal(tu_run(cmd, &out, NULL), 0);
	rot = json_loads(out, 0, NULL);
	assert_non_null(rot);
	free(out);
	assert_string_not_equal(str(rot, "kid"), k0);

	/* Within 5 seconds (moved on the node's clock, not waited for), node b
	 * signs with the new key without a restart or a signal... */
	clock_advance(n->b, 5);
	on_b = login(n->b, "kai");
	kid = token_kid(str(on_b, "access_token"));
	assert_string_equal(kid, str(rot, "kid"));
	free(kid);
	/* ...and node a, which has not looked yet, verifies it at once. */
	bearer_call(n->a, "GET", "/api/client/v2.0/auth/profile", str(on_b, "access_token"), &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	/* Both publish the new key and the retired one; old tokens still verify. */
	kids = jwks_kids(n->a);
	assert_true(contains(kids, str(rot, "kid")) && contains(kids, k0));
	json_decref(kids);
	kids = jwks_kids(n->b);
	assert_true(contains(kids, str(rot, "kid")) && contains(kids, k0));
	json_decref(kids);
	bearer_call(n->b, "GET", "/api/client/v2.0/auth/profile", str(before, "access_token"), &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	clock_advance(n->a, 5);
	json_decref(on_b);
	on_b = login(n->a, "kai");
	kid = token_kid(str(on_b, "access_token"));
	assert_string_equal(kid, str(rot, "kid"));
	free(kid);
	json_decref(on_b);
	json_decref(rot);
	json_decref(before);
	free(k0);
}

/* ---- the email/password provider's shared records ---------------------------------- */

static void test_failure_counters_and_tokens_are_shared(void **state)
{
	struct nodes *n = *state;
	char *first, *second;
	struct http r;

	/* max_failures 3, counted in the database: 2 on a and 1 on b lock the
	 * address on both (either node alone counted fewer than 3). */
	post(n->a, UP("register"), "{\"email\": \"ada@example.org\", \"password\": \"correct-horse\"}", &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	post(n->a, UP("login"), "{\"username\": \"ada@example.org\", \"password\": \"wrong-one\"}", &r);
	assert_error(&r, 401, "InvalidPassword", "");
	http_free(&r);
	post(n->b, UP("login"), "{\"username\": \"ada@example.org\", \"password\": \"wrong-two\"}", &r);
	assert_error(&r, 401, "InvalidPassword", "");
	http_free(&r);
	post(n->a, UP("login"), "{\"username\": \"ada@example.org\", \"password\": \"wrong-three\"}", &r);
	assert_error(&r, 401, "InvalidPassword", "");
	http_free(&r);
	post(n->b, UP("login"), "{\"username\": \"ada@example.org\", \"password\": \"correct-horse\"}", &r);
	assert_error(&r, 429, "TooManyRequests", "too many failed logins");
	http_free(&r);
	post(n->a, UP("login"), "{\"username\": \"ada@example.org\", \"password\": \"correct-horse\"}", &r);
	assert_error(&r, 429, "TooManyRequests", "too many failed logins");
	http_free(&r);

	/* One outstanding reset token per account, whichever node issued it. */
	post(n->a, MAIL("register"), "{\"email\": \"bo@example.org\", \"password\": \"first-password\"}", &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	post(n->a, MAIL("reset/send"), "{\"email\": \"bo@example.org\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	first = mailed(n->a, "second-password");
	post(n->b, MAIL("reset/send"), "{\"email\": \"bo@example.org\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	second = mailed(n->b, "second-password");
	/* The token a mailed is retired by b's: refused on b. */
	post(n->b, MAIL("reset"), first, &r);
	assert_error(&r, 400, "UserpassTokenInvalid", "");
	http_free(&r);
	post(n->a, MAIL("reset"), second, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	/* Used on a: refused on b. */
	post(n->b, MAIL("reset"), second, &r);
	assert_error(&r, 400, "UserpassTokenInvalid", "");
	http_free(&r);
	post(n->b, MAIL("login"), "{\"username\": \"bo@example.org\", \"password\": \"second-password\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(first);
	free(second);

	/* Confirmation tokens likewise: a's is retired by the one b sends. */
	post(n->a, CONF("register"), "{\"email\": \"cy@example.org\", \"password\": \"cy-password\"}", &r);
	assert_int_equal(r.status, 201);
	http_free(&r);
	first = mailed(n->a, NULL);
	post(n->b, CONF("confirm/send"), "{\"email\": \"cy@example.org\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	second = mailed(n->b, NULL);
	post(n->b, CONF("confirm"), first, &r);
	assert_error(&r, 400, "UserpassTokenInvalid", "");
	http_free(&r);
	post(n->a, CONF("confirm"), second, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	post(n->b, CONF("confirm"), second, &r);
	assert_int_equal(r.status, 400);
	http_free(&r);
	post(n->b, CONF("login"), "{\"username\": \"cy@example.org\", \"password\": \"cy-password\"}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	free(first);
	free(second);
}

/* Per-address throttles are kept by each node (sesame-deployment(7)): an
 * address throttled by one node is still served by the other. */
static void test_per_address_throttles_stay_per_node(void **state)
{
	struct nodes *n = *state;
	struct http r;
	int i;

	for (i = 0; i < 3; i++) {
		post(n->a, ANON("login"), "{}", &r);
		assert_int_equal(r.status, 200);
		http_free(&r);
	}
	post(n->a, ANON("login"), "{}", &r);
	assert_error(&r, 429, "TooManyRequests", "");
	http_free(&r);
	post(n->b, ANON("login"), "{}", &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
}

/* ---- the database's connections cut ------------------------------------------------ */

/*
 * After the connections are cut, a login answers 200 (the node found a
 * dead connection on something else first and reconnected) or 503; after
 * a 503 the next login reconnects and answers 200.  Returns the statuses
 * seen, e.g. "503 200" or "200".
 */
static void login_across_a_cut(const struct daemon *d, const char *user, char *seen, size_t size)
{
	char body[128];
	struct http r;
	int i;

	snprintf(body, sizeof(body), "{\"user\": \"%s\"}", user);
	seen[0] = '\0';
	for (i = 0; i < 2; i++) {
		post(d, FIX("login"), body, &r);
		snprintf(seen + strlen(seen), size - strlen(seen), "%s%ld", i ? " " : "", r.status);
		if (r.status == 200) {
			http_free(&r);
			return;
		}
		assert_error(&r, 503, "ServiceUnavailable", "");
		http_free(&r);
	}
	fail_msg("no login after the connections were cut: %s", seen);
}

static bool has_identity(const json_t *users, const char *uid)
{
	const json_t *u;
	size_t i;

	json_array_foreach (users, i, u)
		if (strcmp(str(json_array_get(json_object_get(u, "identities"), 0), "id"), uid) == 0)
			return true;
	return false;
}

/* The server ends the nodes' connections (a restart, a failover): a
 * request that meets a dead connection answers 503 and writes nothing, the
 * next one reconnects. */
static void test_lost_connections_answer_503_then_reconnect(void **state)
{
	struct nodes *n = *state;
	json_t *s = login(n->a, "lena"), *users;
	char seen[64];

	pg_terminate(n->db);
	login_across_a_cut(n->a, "lena", seen, sizeof(seen));
	pg_terminate(n->db);
	login_across_a_cut(n->b, "lena-two", seen, sizeof(seen));
	/* The first login of lena-two was cut off (503) or done (200): either
	 * way one user holds the identity, never half a login. */
	users = all_users(n->b);
	assert_true(has_identity(users, "lena-two"));
	json_decref(users);
	assert_int_equal(refresh_status(n->b, str(s, "refresh_token")), 201);
	print_message("statuses after the last cut: %s\n", seen);
	json_decref(s);
}

/* ---- a node killed under load ------------------------------------------------------ */

#define LOAD_THREADS 6
#define MAX_ACKED 4096

struct load {
	struct nodes *n;
	atomic_bool stop;
	atomic_bool a_dead;
	atomic_int acked_total;
	pthread_mutex_t lock;
	char *subs[MAX_ACKED];
	char *ids[MAX_ACKED];
	int acked;
	int refused; /* answers other than 200 or a cut connection: none expected */
	char refusal[256];
};

struct client {
	struct load *l;
	int index;
};

static void record(struct load *l, const char *sub, const char *id)
{
	pthread_mutex_lock(&l->lock);
	if (l->acked < MAX_ACKED) {
		l->subs[l->acked] = strdup(sub);
		l->ids[l->acked] = strdup(id);
		l->acked++;
	}
	pthread_mutex_unlock(&l->lock);
	atomic_fetch_add(&l->acked_total, 1);
}

/*
 * A client: first logins of fresh identities, alternately on both nodes.
 * A login cut off (the node died, or answered 503 while dying) is retried
 * on the surviving node, as a client behind a load balancer would.
 */
static void *load_client(void *arg)
{
	struct client *c = arg;
	struct load *l = c->l;
	int i;

	for (i = 0; !atomic_load(&l->stop); i++) {
		char sub[64], body[128];
		const struct daemon *d = (i % 2 && !atomic_load(&l->a_dead)) ? l->n->a : l->n->b;
		int attempt;

		snprintf(sub, sizeof(sub), "load-%d-%d", c->index, i);
		snprintf(body, sizeof(body), "{\"user\": \"%s\"}", sub);
		for (attempt = 0; attempt < 20; attempt++) {
			struct http h;
			json_t *v;

			post(d, FIX("login"), body, &h);
			if (h.status == 200 && (v = json_loadb(h.body, h.len, 0, NULL)) != NULL) {
				record(l, sub, json_string_value(json_object_get(v, "user_id")));
				json_decref(v);
				http_free(&h);
				break;
			}
			if (h.rc == CURLE_OK && h.status != 503 && h.status != 0) {
				pthread_mutex_lock(&l->lock);
				l->refused++;
				snprintf(l->refusal, sizeof(l->refusal), "%ld %s", h.status, h.body ? h.body : "");
				pthread_mutex_unlock(&l->lock);
				http_free(&h);
				break;
			}
			http_free(&h);
			d = l->n->b;
		}
	}
	return NULL;
}

/* Wait (bounded) until `count` logins were acknowledged in all. */
static void wait_acked(struct load *l, int count)
{
	int i;

	for (i = 0; i < WAIT_SECONDS * 100 && atomic_load(&l->acked_total) < count; i++)
		sleep_ms(10);
	if (atomic_load(&l->acked_total) < count)
		fail_msg("only %d logins acknowledged, waiting for %d", atomic_load(&l->acked_total), count);
}

/* The load and its nodes: stopped by the teardown even after a failure. */
struct killed {
	struct load l;
	struct client c[LOAD_THREADS];
	pthread_t t[LOAD_THREADS];
	int started;
};

static int killed_setup(void **state)
{
	struct killed *k = calloc(1, sizeof(*k));

	if (!k || !pg_available())
		return -1;
	k->l.n = nodes_start("killed");
	pthread_mutex_init(&k->l.lock, NULL);
	*state = k;
	return 0;
}

static void load_stop(struct killed *k)
{
	atomic_store(&k->l.stop, true);
	for (; k->started > 0; k->started--)
		pthread_join(k->t[k->started - 1], NULL);
}

static int killed_teardown(void **state)
{
	struct killed *k = *state;
	int rc, i;

	load_stop(k);
	rc = nodes_stop(k->l.n);
	for (i = 0; i < k->l.acked; i++) {
		free(k->l.subs[i]);
		free(k->l.ids[i]);
	}
	pthread_mutex_destroy(&k->l.lock);
	free(k);
	return rc;
}

static void test_node_killed_under_load_loses_no_acknowledged_login(void **state)
{
	struct killed *kd = *state;
	struct load *l = &kd->l;
	struct nodes *n = l->n;
	json_t *users, *u, *seen = json_object();
	size_t i;
	int k, before;

	for (k = 0; k < LOAD_THREADS; k++) {
		kd->c[k] = (struct client){l, k};
		assert_int_equal(pthread_create(&kd->t[k], NULL, load_client, &kd->c[k]), 0);
		kd->started++;
	}
	wait_acked(l, 60);
	/* Node a dies at once, in the middle of whatever it was doing. */
	assert_int_equal(kill(n->a->pid, SIGKILL), 0);
	assert_int_equal(waitpid(n->a->pid, NULL, 0), n->a->pid);
	n->a->pid = 0;
	atomic_store(&l->a_dead, true);
	before = atomic_load(&l->acked_total);
	wait_acked(l, before + 60);
	load_stop(kd);
	if (l->refused)
		fail_msg("%d logins were refused, e.g. %s", l->refused, l->refusal);

	/* Every acknowledged login's user is there, with the id it was given:
	 * logging the identity in again on the survivor finds it. */
	for (k = 0; k < l->acked; k++) {
		json_t *again = login(n->b, l->subs[k]);

		assert_string_equal(str(again, "user_id"), l->ids[k]);
		json_decref(again);
	}
	/* No identity has two users, and every user is one identity's. */
	users = all_users(n->b);
	json_array_foreach (users, i, u) {
		const json_t *ids = json_object_get(u, "identities");
		const char *uid;

		assert_int_equal(json_array_size(ids), 1);
		uid = str(json_array_get(ids, 0), "id");
		if (json_object_get(seen, uid))
			fail_msg("identity %s has two users", uid);
		json_object_set_new(seen, uid, json_string(str(u, "id")));
	}
	for (k = 0; k < l->acked; k++)
		assert_string_equal(json_string_value(json_object_get(seen, l->subs[k])), l->ids[k]);
	print_message("%d logins acknowledged (%d before the kill), %zu users\n", l->acked, before,
		      json_array_size(users));
	json_decref(users);
	json_decref(seen);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
	    cmocka_unit_test(test_first_logins_on_both_nodes_make_one_user),
	    cmocka_unit_test(test_revocation_on_one_node_is_refused_by_the_other),
	    cmocka_unit_test(test_rotated_key_reaches_both_nodes),
	    cmocka_unit_test(test_failure_counters_and_tokens_are_shared),
	    cmocka_unit_test(test_per_address_throttles_stay_per_node),
	    cmocka_unit_test(test_lost_connections_answer_503_then_reconnect),
	};
	const struct CMUnitTest killed[] = {
	    cmocka_unit_test_setup_teardown(test_node_killed_under_load_loses_no_acknowledged_login, killed_setup,
					    killed_teardown),
	};
	int rc;

	if (!pg_available()) {
		fprintf(stderr, "test-multinode needs the cluster of tests/store/postgres-suite.sh\n");
		return 99;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("two sesamed nodes on one database", shared, group_setup, group_teardown);
	rc |= cmocka_run_group_tests_name("a node killed under load", killed, NULL, NULL);
	curl_global_cleanup();
	return rc || daemon_exit_failures ? 1 : 0;
}

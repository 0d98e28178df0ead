/* SPDX-License-Identifier: MIT */
/*
 * core/host.c — the host services table handed to provider plugins: thin
 * adapters from the stable ABI to the core's own functions.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "internal.h"
#include "jose.h"

static void host_log(sesame_instance *self, int level, const char *fmt, ...) SESAME_PRINTF(3, 4);
static int host_error(sesame_error *err, int status, const char *reason, const char *fmt, ...) SESAME_PRINTF(4, 5);
static int host_config_error(sesame_instance *self, sesame_error *err, int status, const char *reason, const char *path,
			     const char *fmt, ...) SESAME_PRINTF(6, 7);

static void host_log(sesame_instance *self, int level, const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(&self->ctx->log, level, "provider %s: %s", self->conf->name, msg);
}

static int host_error(sesame_error *err, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, status, reason, fmt, ap);
	va_end(ap);
	return status;
}

static const char *host_instance_name(const sesame_instance *self)
{
	return self->conf->name;
}

static int host_test_mode(const sesame_instance *self)
{
	return self->ctx->cfg.test_mode;
}

static int64_t host_now(const sesame_instance *self)
{
	return ctx_now(self->ctx);
}

static int host_random(void *buf, size_t len)
{
	return util_random(buf, len);
}

static const char *host_app_id(const sesame_instance *self)
{
	return self->ctx->cfg.app_id;
}

static int host_http(sesame_instance *self, const struct sesame_http_request *request,
		     struct sesame_http_response *response, sesame_error *err)
{
	if (!request || !response || !request->url)
		return seterr(err, SESAME_USAGE, "usage", "http: NULL request, response or URL");
	return http_perform(self->ctx->cfg.test_mode, request, response, NULL, err);
}

static int host_keys_from_config(sesame_instance *self, const json_t *keys, sesame_keys **out, sesame_error *err)
{
	return keys_from_config(keys, out, err);
}

static int host_keys_from_jwks_uri(sesame_instance *self, const char *uri, const char *const *algorithms,
				   sesame_keys **out, sesame_error *err)
{
	struct jwks_options opt = {
	    .url = uri,
	    .test_mode = self->ctx->cfg.test_mode,
	    .log = &self->ctx->log,
	    .name = self->conf->name,
	    .algorithms = algorithms,
	};

	return keys_from_jwks_uri(&opt, out, err);
}

static int host_jwt_verify(sesame_instance *self, sesame_keys *keys, const char *token,
			   const struct sesame_jwt_rules *rules, json_t **claims, sesame_error *err)
{
	if (!claims)
		return seterr(err, SESAME_USAGE, "usage", "jwt_verify: NULL claims");
	*claims = NULL;
	/* Every field of the rules is ABI 1.0; fields appended later must be
	 * read only when struct_size covers them. */
	if (rules && !SESAME_HAS_FIELD(struct sesame_jwt_rules, max_length, rules->struct_size))
		return seterr(err, SESAME_USAGE, "usage", "jwt_verify: rules.struct_size is too small");
	return keys_verify(keys, token, rules, ctx_now(self->ctx), claims, err);
}

static int host_jwt_sign(sesame_instance *self, sesame_keys *keys, const char *kid, const json_t *extra_header,
			 const json_t *claims, char **token, sesame_error *err)
{
	if (!token)
		return seterr(err, SESAME_USAGE, "usage", "jwt_sign: NULL token");
	return keys_sign(keys, kid, extra_header, claims, token, err);
}

static int host_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	if (!out || (!data && len))
		return SESAME_USAGE;
	return EVP_Digest(data ? data : "", len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? SESAME_OK
											      : SESAME_INTERNAL;
}

static int host_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx = NULL;
	size_t n = 0;
	int ok = 0;

	if (!out || (!key && key_len) || (!data && len))
		return SESAME_USAGE;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac)
		mctx = EVP_MAC_CTX_new(mac);
	/* A zero-length key is legal HMAC, but OpenSSL wants a pointer. */
	ok = mctx && EVP_MAC_init(mctx, key_len ? key : (const void *)"", key_len, params) == 1 &&
	     EVP_MAC_update(mctx, data ? data : (const void *)"", len) == 1 && EVP_MAC_final(mctx, out, &n, 32) == 1 &&
	     n == 32;
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return ok ? SESAME_OK : SESAME_INTERNAL;
}

/* ---- per-instance key/value data ---------------------------------------- */

#define KV_KEY_MAX 255
#define SESSION_TTL_MIN 60
#define SESSION_TTL_MAX (20 * 366 * 86400LL)

/* The store, after checking the key; the instance name is the namespace. */
static int kv_open(sesame_instance *self, const char *key, struct store **st, sesame_error *err)
{
	size_t n = key ? strnlen(key, KV_KEY_MAX + 1) : 0;

	if (n == 0 || n > KV_KEY_MAX)
		return seterr(err, SESAME_MALFORMED, "key", "kv: the key must be 1 to %d bytes", KV_KEY_MAX);
	return ctx_store(self->ctx, st, err);
}

static int host_kv_get(sesame_instance *self, const char *key, json_t **value, sesame_error *err)
{
	struct store *st;
	int rc;

	if (!value)
		return seterr(err, SESAME_USAGE, "usage", "kv_get: NULL value");
	*value = NULL;
	rc = kv_open(self, key, &st, err);
	return rc == SESAME_OK ? st->desc->kv_get(st->h, NULL, self->conf->name, key, ctx_now(self->ctx), value, err)
			       : rc;
}

static int host_kv_put(sesame_instance *self, const char *key, const json_t *value, const char *user_id,
		       int64_t expires, unsigned flags, sesame_error *err)
{
	struct store *st;
	int rc;

	if (!value || expires < 0 || (flags & ~SESAME_KV_CREATE) != 0)
		return seterr(err, SESAME_USAGE, "usage", "kv_put: NULL value, negative expiry or unknown flags");
	rc = kv_open(self, key, &st, err);
	return rc == SESAME_OK
		   ? st->desc->kv_put(st->h, NULL, self->conf->name, key, value, user_id, expires,
				      (flags & SESAME_KV_CREATE) ? SESAME_STORE_KV_CREATE : 0, ctx_now(self->ctx), err)
		   : rc;
}

static int host_kv_delete(sesame_instance *self, const char *key, sesame_error *err)
{
	struct store *st;
	int rc = kv_open(self, key, &st, err);

	return rc == SESAME_OK ? st->desc->kv_delete(st->h, NULL, self->conf->name, key, err) : rc;
}

/* Expired entries (throttle counters of addresses nobody uses again,
 * tokens nobody redeemed) are deleted at most this often, by kv_add(),
 * whose counters are most of what expires. */
#define KV_PURGE_INTERVAL 3600

struct kv_add_op {
	const char *instance, *key;
	int64_t delta, limit, expires, now;
	int64_t value;
	bool refused;
};

/* The body of kv_add's transaction: read, add, write (or refuse). */
static int kv_add_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct kv_add_op *op = arg;
	json_t *old = NULL, *v;
	int64_t n = 0;
	int rc = st->desc->kv_get(st->h, txn, op->instance, op->key, op->now, &old, err);

	op->refused = false;
	if (rc == SESAME_NOT_FOUND) {
		err_clear(err);
		rc = SESAME_OK;
	} else if (rc == SESAME_OK && !json_is_integer(old)) {
		rc =
		    seterr(err, SESAME_MALFORMED, "value", "kv_add: the value of \"%.64s\" is not an integer", op->key);
	}
	n = json_integer_value(old);
	json_decref(old);
	if (rc != SESAME_OK)
		return rc;
	op->value = n;
	if (__builtin_add_overflow(n, op->delta, &n))
		n = op->delta > 0 ? INT64_MAX : 0;
	if (n < 0)
		n = 0;
	if (op->limit > 0 && op->delta > 0 && n > op->limit) {
		op->refused = true;
		return SESAME_OK;
	}
	op->value = n;
	if (!(v = json_integer(n)))
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = st->desc->kv_put(st->h, txn, op->instance, op->key, v, NULL, op->expires, 0, op->now, err);
	json_decref(v);
	return rc;
}

/* Delete expired entries when KV_PURGE_INTERVAL has passed since the last
 * time; one thread does it, the others go on. */
static void kv_purge_now_and_then(sesame_instance *self, struct store *st, int64_t now)
{
	int64_t due = atomic_load(&self->ctx->kv_purge_due);
	uint64_t count = 0;
	sesame_error e;

	if (now < due || !atomic_compare_exchange_strong(&self->ctx->kv_purge_due, &due, now + KV_PURGE_INTERVAL))
		return;
	err_clear(&e);
	if (st->desc->kv_purge(st->h, NULL, now, &count, &e) != SESAME_OK)
		log_msg(&self->ctx->log, SESAME_LOG_WARNING, "deleting expired provider data: %s", e.text);
	else if (count > 0)
		log_msg(&self->ctx->log, SESAME_LOG_DEBUG, "deleted %llu expired provider data entries",
			(unsigned long long)count);
}

static int host_kv_add(sesame_instance *self, const char *key, int64_t delta, int64_t limit, int64_t expires,
		       int64_t *value, sesame_error *err)
{
	struct kv_add_op op = {.instance = self->conf->name,
			       .key = key,
			       .delta = delta,
			       .limit = limit,
			       .expires = expires,
			       .now = ctx_now(self->ctx)};
	struct store *st;
	int rc;

	if (!value || expires < 0 || limit < 0)
		return seterr(err, SESAME_USAGE, "usage", "kv_add: NULL value, negative limit or negative expiry");
	*value = 0;
	rc = kv_open(self, key, &st, err);
	if (rc == SESAME_OK)
		rc = store_transact(st, SESAME_STORE_TXN_WRITE, kv_add_txn, &op, err);
	if (rc != SESAME_OK)
		return rc;
	*value = op.value;
	kv_purge_now_and_then(self, st, op.now);
	if (op.refused)
		return seterr(err, SESAME_REJECTED, "limit", "kv_add: \"%.64s\" is at its limit of %lld", key,
			      (long long)limit);
	return SESAME_OK;
}

static int host_set_session_ttl(sesame_instance *self, int64_t seconds, sesame_error *err)
{
	if (seconds < SESSION_TTL_MIN || seconds > SESSION_TTL_MAX)
		return seterr(err, SESAME_CONFIG, "session_ttl", "session_ttl must be %d to %lld seconds",
			      SESSION_TTL_MIN, SESSION_TTL_MAX);
	self->session_ttl = seconds;
	return SESAME_OK;
}

/* ---- identities issued by a provider ------------------------------------ */

static int host_link_identity(sesame_instance *self, const char *user_id, const char *uid, const json_t *data,
			      char **user_id_out, sesame_error *err)
{
	json_t *identity, *user = NULL, *kept = NULL;
	struct store *st;
	int rc;

	if (user_id_out)
		*user_id_out = NULL;
	if (!uid || (data && !json_is_object(data)))
		return seterr(err, SESAME_MALFORMED, "identity",
			      "link_identity: a uid and an object (or NULL) as data");
	rc = ctx_store(self->ctx, &st, err);
	/* An issued identity's data follows the instance's metadata rules too. */
	if (rc == SESAME_OK)
		rc = ctx_identity_metadata(self, data, &kept, err);
	if (rc != SESAME_OK)
		return rc;
	identity = json_pack("{s:s, s:s, s:s, s:o, s:{}}", "provider", self->conf->name, "provider_type",
			     self->conf->type, "id", uid, "data", kept, "private");
	if (!identity)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	/* The provider's own capabilities hold for what it links itself. */
	rc = user_id ? accounts_link(st, user_id, identity, self->caps, ctx_now(self->ctx), &user, err)
		     : accounts_create_server_user(st, identity, ctx_now(self->ctx), &user, err);
	json_decref(identity);
	if (rc == SESAME_OK && user_id_out &&
	    !(*user_id_out = strdup(json_string_value(json_object_get(user, "id")) ?: "")))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	json_decref(user);
	return rc;
}

static int host_unlink_identity(sesame_instance *self, const char *uid, sesame_error *err)
{
	json_t *found = NULL, *user = NULL;
	const char *owner;
	struct store *st;
	int rc;

	if (!uid)
		return seterr(err, SESAME_MALFORMED, "identity", "unlink_identity: NULL uid");
	rc = ctx_store(self->ctx, &st, err);
	if (rc == SESAME_OK)
		rc = st->desc->identity_get(st->h, NULL, self->conf->name, uid, &found, err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_NOT_FOUND, "identity", "no user holds this identity");
	owner = json_string_value(json_object_get(found, "user_id"));
	if (rc == SESAME_OK)
		rc = owner ? accounts_user_get(st, owner, &user, err)
			   : seterr(err, SESAME_INTERNAL, "identity", "identity record without a user");
	if (rc == SESAME_OK) {
		/* A server user is nothing but its key: it goes with it. */
		if (strcmp(json_string_value(json_object_get(user, "type")) ?: "", "server") == 0 &&
		    json_array_size(json_object_get(user, "identities")) <= 1)
			rc = accounts_delete(st, owner, ctx_user_deleted, self->ctx, err);
		else
			rc = accounts_unlink(st, owner, self->conf->name, uid, err);
	}
	json_decref(user);
	json_decref(found);
	return rc;
}

static int host_password_hash(sesame_instance *self, const char *password, size_t length, unsigned log2_n, unsigned r,
			      unsigned p, char **phc, sesame_error *err)
{
	if (!phc)
		return seterr(err, SESAME_USAGE, "usage", "password_hash: NULL phc");
	return password_hash(self->ctx, password, length, log2_n, r, p, phc, err);
}

static int host_password_verify(sesame_instance *self, const char *password, size_t length, const char *phc,
				unsigned log2_n, unsigned r, unsigned p, int *match, int *weaker, sesame_error *err)
{
	if (!match)
		return seterr(err, SESAME_USAGE, "usage", "password_verify: NULL match");
	return password_verify(self->ctx, password, length, phc, log2_n, r, p, match, weaker, err);
}

static int host_end_sessions(sesame_instance *self, const char *uid, sesame_error *err)
{
	json_t *found = NULL;
	struct store *st;
	int rc;

	if (!uid)
		return seterr(err, SESAME_USAGE, "usage", "end_sessions: NULL uid");
	rc = ctx_store(self->ctx, &st, err);
	if (rc == SESAME_OK)
		rc = st->desc->identity_get(st->h, NULL, self->conf->name, uid, &found, err);
	if (rc == SESAME_OK)
		rc = st->desc->sessions_delete_user(st->h, NULL, json_string_value(json_object_get(found, "user_id")),
						    NULL, err);
	json_decref(found);
	if (rc == SESAME_NOT_FOUND) {
		err_clear(err);
		return SESAME_OK;
	}
	return rc;
}

/* ---- external programs ---------------------------------------------------- */

static void program_setup_of(const sesame_instance *self, struct program_setup *ps)
{
	const struct config *cfg = &self->ctx->cfg;

	memset(ps, 0, sizeof(*ps));
	/* Root at start, but sesame(1) may have become the state directory's
	 * owner since: switch users only while still root. */
	ps->root = cfg->program_switch && geteuid() == 0;
	ps->user.uid = cfg->program_uid;
	ps->user.gid = cfg->program_gid;
	ps->user_error = cfg->program_user_error;
	ps->log = &self->ctx->log;
}

static int host_program_check(sesame_instance *self, const struct sesame_program *program, sesame_error *err)
{
	struct program_setup ps;

	program_setup_of(self, &ps);
	return program_check(&ps, program, err);
}

static int host_program_run(sesame_instance *self, const struct sesame_program *program,
			    struct sesame_program_result *result, sesame_error *err)
{
	/* The whole environment: a fixed PATH and who is asking, nothing of
	 * sesame's own (its environment may hold secrets). */
	char vars[4][SESAME_ERROR_SOURCE_LENGTH], *env[5];
	struct program_setup ps;
	size_t i;

	if (!result || result->struct_size < sizeof(*result))
		return seterr(err, SESAME_USAGE, "usage", "program_run: NULL result or struct_size too small");
	*result = (struct sesame_program_result){.struct_size = result->struct_size};
	snprintf(vars[0], sizeof(vars[0]), "PATH=/usr/local/bin:/usr/bin:/bin");
	snprintf(vars[1], sizeof(vars[1]), "SESAME_PROVIDER=%s", self->conf->name);
	snprintf(vars[2], sizeof(vars[2]), "SESAME_PROVIDER_TYPE=%s", self->conf->type);
	snprintf(vars[3], sizeof(vars[3]), "SESAME_APP_ID=%s", self->ctx->cfg.app_id);
	for (i = 0; i < 4; i++)
		env[i] = vars[i];
	env[4] = NULL;
	program_setup_of(self, &ps);
	return program_run(&ps, env, program, result, err);
}

/* ---- encoders, digests, crypt(3), files, ids (since ABI 1.2) ------------- */

static int host_random_id(char *out, size_t bytes)
{
	unsigned char b[64];

	if (!out || bytes == 0 || bytes > sizeof(b))
		return SESAME_USAGE;
	if (util_random(b, bytes) != SESAME_OK)
		return SESAME_INTERNAL;
	encode_hex(b, bytes, out);
	util_wipe(b, bytes);
	return SESAME_OK;
}

static void file_stamp_of(const struct stat *st, struct sesame_file_stamp *stamp)
{
	memset(stamp, 0, sizeof(*stamp));
	stamp->device = (uint64_t)st->st_dev;
	stamp->inode = (uint64_t)st->st_ino;
	stamp->size = (uint64_t)st->st_size;
	stamp->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	stamp->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static int host_file_read(sesame_instance *self, const char *path, size_t max, char **data, size_t *length,
			  struct sesame_file_stamp *stamp, sesame_error *err)
{
	struct sesame_file_stamp before;
	struct stat st;
	int rc;

	if (!data || !path)
		return seterr(err, SESAME_USAGE, "usage", "file_read: NULL path or data");
	*data = NULL;
	if (length)
		*length = 0;
	if (path[0] != '/')
		return seterr(err, SESAME_CONFIG, "file", "%s: expected an absolute path", path);
	/* Stamped before the read: a change made meanwhile shows as a change. */
	if (stat(path, &st) != 0)
		return seterr(err, SESAME_CONFIG, "file", "cannot read %s: %s", path, strerror(errno));
	file_stamp_of(&st, &before);
	rc = util_check_path_chain(path, geteuid(), err);
	if (rc == SESAME_OK)
		rc = util_read_file(path, true, max, data, length, err);
	if (rc != SESAME_OK) {
		err_set_source(err, self->conf->name);
		return rc;
	}
	if (stamp)
		*stamp = before;
	return SESAME_OK;
}

static int host_file_changed(sesame_instance *self, const char *path, const struct sesame_file_stamp *stamp,
			     int *changed, sesame_error *err)
{
	struct sesame_file_stamp now;
	struct stat st;

	(void)self;
	if (!path || !stamp || !changed)
		return seterr(err, SESAME_USAGE, "usage", "file_changed: NULL path, stamp or changed");
	if (stat(path, &st) != 0) {
		*changed = 1;
		return SESAME_OK;
	}
	file_stamp_of(&st, &now);
	*changed = memcmp(&now, stamp, sizeof(now)) != 0;
	return SESAME_OK;
}

struct kv_replace_op {
	const char *instance, *key, *user_id;
	const json_t *expected, *value;
	int64_t expires, now;
};

static int kv_replace_txn(struct store *st, sesame_store_txn *txn, void *arg, sesame_error *err)
{
	struct kv_replace_op *op = arg;
	json_t *cur = NULL;
	int rc = st->desc->kv_get(st->h, txn, op->instance, op->key, op->now, &cur, err);
	bool same;

	if (rc != SESAME_OK && rc != SESAME_NOT_FOUND)
		return rc;
	same = op->expected ? rc == SESAME_OK && json_equal(cur, (json_t *)op->expected) : rc == SESAME_NOT_FOUND;
	json_decref(cur);
	if (!same)
		return seterr(err, SESAME_CONFLICT, "changed", "kv_replace: \"%.64s\" was changed meanwhile", op->key);
	err_clear(err);
	return st->desc->kv_put(st->h, txn, op->instance, op->key, op->value, op->user_id, op->expires, 0, op->now,
				err);
}

static int host_kv_replace(sesame_instance *self, const char *key, const json_t *expected, const json_t *value,
			   const char *user_id, int64_t expires, sesame_error *err)
{
	struct kv_replace_op op = {.instance = self->conf->name,
				   .key = key,
				   .user_id = user_id,
				   .expected = expected,
				   .value = value,
				   .expires = expires,
				   .now = ctx_now(self->ctx)};
	struct store *st;
	int rc;

	if (!value || expires < 0)
		return seterr(err, SESAME_USAGE, "usage", "kv_replace: NULL value or negative expiry");
	rc = kv_open(self, key, &st, err);
	return rc == SESAME_OK ? store_transact(st, SESAME_STORE_TXN_WRITE, kv_replace_txn, &op, err) : rc;
}

static int host_config_error(sesame_instance *self, sesame_error *err, int status, const char *reason, const char *path,
			     const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH], where[300];
	int line = 0, col = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "config.%s", path ? path : "");
	if (path && *path)
		config_position(self->conf->source, where, &line, &col);
	/* Without a position (a path that is not one): FILE: message. */
	return seterr_at(err, status, reason, self->conf->source, line, col, "%s", msg);
}

const struct sesame_host host_services = {
    .abi_version = SESAME_PROVIDER_ABI_VERSION,
    .struct_size = sizeof(struct sesame_host),
    .log = host_log,
    .error = host_error,
    .instance_name = host_instance_name,
    .test_mode = host_test_mode,
    .now = host_now,
    .random = host_random,
    .ct_equal = util_ct_equal,
    .wipe = util_wipe,
    .free = free,
    .http = host_http,
    .http_response_clear = http_response_clear,
    .keys_from_config = host_keys_from_config,
    .keys_from_jwks_uri = host_keys_from_jwks_uri,
    .keys_free = keys_free,
    .jwt_verify = host_jwt_verify,
    .jwt_sign = host_jwt_sign,
    .app_id = host_app_id,
    .sha256 = host_sha256,
    .hmac_sha256 = host_hmac_sha256,
    .kv_get = host_kv_get,
    .kv_put = host_kv_put,
    .kv_delete = host_kv_delete,
    .set_session_ttl = host_set_session_ttl,
    .link_identity = host_link_identity,
    .unlink_identity = host_unlink_identity,
    .password_hash = host_password_hash,
    .password_verify = host_password_verify,
    .end_sessions = host_end_sessions,
    .kv_add = host_kv_add,
    .program_check = host_program_check,
    .program_run = host_program_run,
    .program_result_clear = program_result_clear,
    .encode = encode_text,
    .decode = decode_text,
    .digest = digest_by_name,
    .crypt_verify = crypt_check,
    .file_read = host_file_read,
    .file_changed = host_file_changed,
    .random_id = host_random_id,
    .kv_replace = host_kv_replace,
    .config_error = host_config_error,
};

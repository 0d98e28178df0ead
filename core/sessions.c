/* SPDX-License-Identifier: MIT */
/*
 * core/sessions.c — sessions: sesame's own access and refresh tokens.
 *
 * An access token is a JWT signed with sesame's current ES256 key, valid
 * for sessions.access_ttl (30 minutes by default): {"sub", "aud" (app id),
 * "iss" (public_url), "iat", "exp", "typ": "access", "sid",
 * "baas_device_id", "user_data"}.
 *
 * A refresh token keeps the JWT form because the App Services client SDKs
 * decode it (realm-core reads its "exp"): {"sub", "aud", "iss", "iat",
 * "exp", "typ": "refresh", "sid", "jti"}.  Its authority is its "jti": 256
 * random bits whose SHA-256 alone the store keeps, so a database dump
 * yields no usable token.  sesame verifies a refresh token by looking its
 * "sid" up and comparing the session's hash with the jti's (in constant
 * time) and the session's user with the payload's "sub" — never with a
 * signing key: a refresh token outlives any number of key rotations
 * (sessions last 60 days, anonymous ones years, while a retired key is
 * kept only as long as the access tokens it signed), so `sesame keys
 * rotate` ends no session.
 * Its signature is therefore an HS256 MAC keyed by the jti itself, which
 * costs a microsecond where an ES256 signature costs tens: it only lets a
 * holder check that the token is intact.  (Tokens issued before this rule
 * carry an ES256 signature; they are verified the same way.)
 *
 * The signing keys are a reference-counted snapshot (struct sessions):
 * a long-running process looks at the keys' generation in the store (or
 * at the key files, core/signing-store.c) every KEY_CHECK_INTERVAL seconds
 * (and at once, at most every second, when an access token names a kid it
 * does not know) and loads them again when another process rotated them,
 * so a rotation reaches every running sesamed without a reload.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "internal.h"
#include "jose.h"
#include "jsontext.h"

#define SECRET_BYTES 32
/* sesame verifies what it signed: the only skew is between the clocks of
 * the nodes sharing one store, which NTP keeps far below this. */
#define OWN_TOKEN_LEEWAY 5
#define DEVICE_ID_LENGTH 24
/* Seconds between two looks at the key files, and between two forced ones. */
#define KEY_CHECK_INTERVAL 5
#define KEY_FORCED_INTERVAL 1
/* Refresh tokens are a few hundred bytes; anything longer is not one. */
#define REFRESH_MAX_LENGTH 4096
/* What App Services answers for a refresh token whose session is gone;
 * realm-web's logOut() ignores exactly this error and fails on any other. */
#define NO_REFRESH_TOKEN "failed to find refresh token"

static const char *const es256_only[] = {"ES256", NULL};

static void sessions_free(struct sessions *s)
{
	if (!s)
		return;
	if (s->keys)
		keys_free(s->keys);
	signing_keys_free(&s->sk);
	json_decref(s->jwks);
	free(s);
}

void sessions_release(struct sessions *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		sessions_free(s);
}

/* The public half of a P-256 key as a JWK. */
static json_t *public_jwk(const struct signing_key *k)
{
	unsigned char x[32], y[32];
	BIGNUM *bx = NULL, *by = NULL;
	char *ex = NULL, *ey = NULL;
	json_t *jwk = NULL;

	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 && BN_bn2binpad(bx, x, 32) == 32 &&
	    BN_bn2binpad(by, y, 32) == 32 && (ex = b64url_encode(x, 32)) && (ey = b64url_encode(y, 32)))
		jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", ex, "y", ey,
				"kid", k->kid, "alg", "ES256", "use", "sig");
	BN_free(bx);
	BN_free(by);
	free(ex);
	free(ey);
	return jwk;
}

/* The loaded keys as a JOSE key set, made from their EVP_PKEYs (each
 * reference-counted, never written out and parsed again). */
static int keys_of_signing_keys(const struct signing_keys *sk, struct sesame_keys **out, sesame_error *err)
{
	struct sesame_keys *keys = calloc(1, sizeof(*keys));
	size_t i;
	int rc = SESAME_OK;

	*out = NULL;
	if (!keys || !(keys->fixed = keyset_new(sk->n))) {
		free(keys);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	for (i = 0; rc == SESAME_OK && i < sk->n; i++) {
		rc = jose_key_from_pkey(sk->keys[i].pkey, JOSE_ES256, sk->keys[i].kid, sk->keys[i].private,
					&keys->fixed->keys[i], err);
		if (rc == SESAME_OK)
			keys->fixed->n++;
	}
	if (rc != SESAME_OK) {
		keys_free(keys);
		return rc;
	}
	*out = keys;
	return SESAME_OK;
}

static int sessions_load(sesame_ctx *ctx, struct sessions **out, sesame_error *err)
{
	struct sessions *s = calloc(1, sizeof(*s));
	json_t *keys = json_array();
	size_t i;
	int rc;

	*out = NULL;
	if (!s || !keys) {
		free(s);
		json_decref(keys);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	atomic_init(&s->refs, 1);
	rc = signing_keys_snapshot(ctx, &s->sk, &s->stamp, err);
	for (i = 0; rc == SESAME_OK && i < s->sk.n; i++) {
		json_t *jwk = public_jwk(&s->sk.keys[i]);

		if (!jwk || json_array_append_new(keys, jwk) != 0)
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc == SESAME_OK)
		rc = keys_of_signing_keys(&s->sk, &s->keys, err);
	if (rc == SESAME_OK) {
		s->jwks = json_pack("{s:o}", "keys", keys);
		keys = NULL;
		if (!s->jwks)
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_decref(keys);
	if (rc != SESAME_OK) {
		sessions_free(s);
		return rc;
	}
	*out = s;
	return SESAME_OK;
}

/* Replace the context's keys by `fresh` (reference stolen); under the lock. */
static void sessions_install(sesame_ctx *ctx, struct sessions *fresh)
{
	sessions_release(ctx->sessions);
	ctx->sessions = fresh;
}

int sessions_acquire(sesame_ctx *ctx, bool force, struct sessions **out, sesame_error *err)
{
	int64_t now = ctx_now(ctx);
	int rc = SESAME_OK;

	*out = NULL;
	pthread_mutex_lock(&ctx->sessions_lock);
	if (ctx->sessions && (now - ctx->sessions_checked >= KEY_CHECK_INTERVAL ||
			      (force && now - ctx->sessions_forced >= KEY_FORCED_INTERVAL))) {
		ctx->sessions_checked = now;
		if (force)
			ctx->sessions_forced = now;
		if (signing_keys_changed(ctx, &ctx->sessions->stamp)) {
			struct sessions *fresh;
			sesame_error e;

			/* Keys that cannot be loaded keep those in use: they still work. */
			if (sessions_load(ctx, &fresh, &e) == SESAME_OK) {
				sessions_install(ctx, fresh);
				log_msg(&ctx->log, SESAME_LOG_NOTICE, "signing keys reloaded: signing with kid %s",
					fresh->sk.keys[0].kid);
			} else {
				log_msg(&ctx->log, SESAME_LOG_WARNING,
					"the signing keys changed but cannot be loaded; keeping the loaded keys: %s",
					e.text);
			}
		}
	}
	if (!ctx->sessions) {
		rc = sessions_load(ctx, &ctx->sessions, err);
		ctx->sessions_checked = now;
	}
	if (ctx->sessions) {
		atomic_fetch_add(&ctx->sessions->refs, 1);
		*out = ctx->sessions;
	}
	pthread_mutex_unlock(&ctx->sessions_lock);
	return rc;
}

int sessions_reload(sesame_ctx *ctx, sesame_error *err)
{
	struct sessions *fresh;
	int rc = sessions_load(ctx, &fresh, err);

	if (rc != SESAME_OK)
		return rc;
	pthread_mutex_lock(&ctx->sessions_lock);
	sessions_install(ctx, fresh);
	ctx->sessions_checked = ctx_now(ctx);
	pthread_mutex_unlock(&ctx->sessions_lock);
	return SESAME_OK;
}

void ctx_sessions_close(sesame_ctx *ctx)
{
	sessions_release(ctx->sessions);
	ctx->sessions = NULL;
}

void sessions_device_id(const char *given, const unsigned char fresh[12], char out[DEVICE_ID_LENGTH + 1])
{
	size_t i;
	bool nonzero = false;

	for (i = 0; given && i < DEVICE_ID_LENGTH; i++) {
		if (!((given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'f')))
			break;
		nonzero |= given[i] != '0';
	}
	if (given && i == DEVICE_ID_LENGTH && given[i] == '\0' && nonzero) {
		memcpy(out, given, DEVICE_ID_LENGTH + 1);
		return;
	}
	encode_hex(fresh, 12, out);
}

/*
 * A refresh token of session `d` of user `uid`, with an HS256 MAC keyed by
 * its jti (see the top of this file: no signing key is involved).  Its
 * payload is written as jansson writes the object (shared/jsontext.h),
 * without building one.
 */
static int sign_refresh(sesame_ctx *ctx, const char *uid, const struct session_draft *d, char **token,
			sesame_error *err)
{
	struct jose_key k = {.alg = JOSE_HS256, .has_private = true};
	struct jsontext t;
	char *payload;
	size_t len = 0;
	int rc;

	jsontext_open(&t);
	jsontext_string(&t, "sub", uid);
	jsontext_string(&t, "aud", ctx->cfg.app_id);
	jsontext_string(&t, "iss", ctx->cfg.public_url);
	jsontext_integer(&t, "iat", d->now);
	jsontext_integer(&t, "exp", d->expires);
	jsontext_string(&t, "typ", "refresh");
	jsontext_string(&t, "sid", d->sid);
	jsontext_string(&t, "jti", d->jti);
	payload = jsontext_close(&t, &len);
	k.secret_len = strlen(d->jti);
	k.secret = (unsigned char *)strdup(d->jti);
	if (!payload || !k.secret) {
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	} else {
		rc = jose_key_prepare(&k, err);
		if (rc == SESAME_OK)
			rc = jws_sign_text(&k, NULL, payload, len, token, err);
	}
	jose_key_clear(&k);
	/* The payload holds the jti. */
	util_free_secret(payload);
	return rc;
}

/* An access token of session `sid` for `user`, its payload written as
 * jansson writes the object (shared/jsontext.h), the user's custom data
 * last as "user_data" when there is some. */
static int sessions_access_token(sesame_ctx *ctx, struct sessions *s, const json_t *user, const char *sid,
				 const char *device_id, char **token, sesame_error *err)
{
	int64_t now = ctx_now(ctx);
	json_t *custom = json_object_get(user, "custom_data");
	struct jsontext t;
	char *payload;
	size_t len = 0;
	int rc;

	jsontext_open(&t);
	jsontext_value(&t, "sub", json_object_get(user, "id"));
	jsontext_string(&t, "aud", ctx->cfg.app_id);
	jsontext_string(&t, "iss", ctx->cfg.public_url);
	jsontext_integer(&t, "iat", now);
	jsontext_integer(&t, "exp", now + ctx->cfg.access_ttl);
	jsontext_string(&t, "typ", "access");
	jsontext_string(&t, "sid", sid);
	jsontext_string(&t, "baas_device_id", device_id);
	if (json_is_object(custom) && json_object_size(custom) > 0)
		jsontext_value(&t, "user_data", custom);
	payload = jsontext_close(&t, &len);
	if (!payload)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	rc = keys_sign_text(s->keys, s->sk.keys[0].kid, payload, len, token, err);
	util_free_secret(payload);
	/* Only a configuration changed since the custom data was set (a longer
	 * app id or URL) can get here: say so rather than issue a token no
	 * front end accepts. */
	if (rc == SESAME_OK && strlen(*token) > SESAME_ACCESS_TOKEN_MAX) {
		log_msg(&ctx->log, SESAME_LOG_ERR,
			"user %s: the access token would be %zu bytes, more than %d: reduce the user's custom data",
			json_string_value(json_object_get(user, "id")), strlen(*token), SESAME_ACCESS_TOKEN_MAX);
		util_free_secret(*token);
		*token = NULL;
		rc = seterr(err, SESAME_INTERNAL, "size", "the access token would be too large");
	}
	return rc;
}

int sessions_check_token_size(sesame_ctx *ctx, const json_t *custom_data, sesame_error *err)
{
	/* The longest values: ids and the device id of 24 digits, the time as
	 * it is. */
	static const char id[] = "ffffffffffffffffffffffff", device[] = "ffffffffffffffffffffffff";
	struct sessions *s;
	json_t *user;
	char *token = NULL;
	int rc;

	rc = sessions_acquire(ctx, false, &s, err);
	if (rc != SESAME_OK)
		return rc;
	user = json_pack("{s:s, s:O}", "id", id, "custom_data", custom_data);
	rc = user ? sessions_access_token(ctx, s, user, id, device, &token, err)
		  : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	sessions_release(s);
	json_decref(user);
	if (rc == SESAME_INTERNAL && err && strcmp(err->reason, "size") == 0)
		return seterr(err, SESAME_MALFORMED, "size",
			      "custom data this large would make access tokens longer than the %d bytes allowed; "
			      "keep it smaller",
			      SESAME_ACCESS_TOKEN_MAX);
	util_free_secret(token);
	return rc;
}

/* The refresh-token lifetime of a session opened with an identity of
 * instance `provider` (NULL: no identity, e.g. after a link). */
static int64_t session_ttl(sesame_ctx *ctx, const char *provider)
{
	const struct sesame_instance *in = provider ? ctx_instance(ctx, provider) : NULL;

	return in && in->session_ttl > 0 ? in->session_ttl : ctx->cfg.refresh_ttl;
}

/*
 * Open a session: the store records the SHA-256 of 256 fresh random bits
 * (the refresh token's "jti"); the two tokens are then made around the
 * session's id.  A login does the steps itself, storing the session in its
 * own transaction (one commit per login).
 */
int sessions_draft(sesame_ctx *ctx, const struct identity *identity, const char *device_id, struct session_draft *d,
		   sesame_error *err)
{
	/* One draw for the refresh secret, the session id and a device id. */
	unsigned char rnd[SECRET_BYTES + sizeof(d->sid_random) + 12];
	int rc;

	memset(d, 0, sizeof(*d));
	/* The signing keys first: a login that cannot sign writes nothing. */
	rc = sessions_acquire(ctx, false, &d->keys, err);
	if (rc != SESAME_OK)
		return rc;
	if (util_random(rnd, sizeof(rnd)) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "random", "no randomness");
	d->jti = b64url_encode(rnd, SECRET_BYTES);
	memcpy(d->sid_random, rnd + SECRET_BYTES, sizeof(d->sid_random));
	sessions_device_id(device_id, rnd + SECRET_BYTES + sizeof(d->sid_random), d->device_id);
	util_wipe(rnd, sizeof(rnd));
	if (!d->jti)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	d->identity = identity;
	d->now = ctx_now(ctx);
	d->expires = d->now + session_ttl(ctx, identity ? identity->provider : NULL);
	return SESAME_OK;
}

int sessions_draft_insert(struct store *st, sesame_store_txn *txn, const json_t *user, void *draft, sesame_error *err)
{
	struct session_draft *d = draft;
	struct store_session_params p = {0};
	int rc;

	p.user_id = json_string_value(json_object_get(user, "id"));
	if (!p.user_id)
		return seterr(err, SESAME_INTERNAL, "user", "user record without an id");
	p.device_id = d->device_id;
	p.refresh_token = d->jti;
	p.id_random = d->sid_random;
	p.provider = d->identity ? d->identity->provider : NULL;
	p.provider_uid = d->identity ? d->identity->uid : NULL;
	p.now = d->now;
	p.expires = d->expires;
	rc = store_session_create(st, txn, &p, d->sid, err);
	d->inserted = rc == SESAME_OK;
	return rc;
}

int sessions_draft_finish(sesame_ctx *ctx, struct store *st, const json_t *user, struct session_draft *d, int rc,
			  json_t **out, sesame_error *err)
{
	const char *uid = json_string_value(json_object_get(user, "id"));
	char *access = NULL, *refresh = NULL;

	*out = NULL;
	if (rc == SESAME_OK && (!uid || !d->keys))
		rc = seterr(err, SESAME_INTERNAL, "user", "user record without an id");
	if (rc == SESAME_OK)
		rc = sign_refresh(ctx, uid, d, &refresh, err);
	if (rc == SESAME_OK)
		rc = sessions_access_token(ctx, d->keys, user, d->sid, d->device_id, &access, err);
	if (rc == SESAME_OK) {
		*out = json_pack("{s:s, s:s, s:s, s:s}", "access_token", access, "refresh_token", refresh, "user_id",
				 uid, "device_id", d->device_id);
		if (!*out)
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc != SESAME_OK && d->inserted) {
		/* Leave no session no client holds a token for. */
		sesame_error ignored;

		st->desc->session_delete(st->h, NULL, d->sid, &ignored);
	}
	sessions_release(d->keys);
	util_free_secret(d->jti);
	util_free_secret(access);
	util_free_secret(refresh);
	memset(d, 0, sizeof(*d));
	return rc;
}

int sessions_create(sesame_ctx *ctx, struct store *st, const json_t *user, const struct identity *identity,
		    const char *device_id, json_t **out, sesame_error *err)
{
	struct session_draft d;
	int rc;

	*out = NULL;
	rc = sessions_draft(ctx, identity, device_id, &d, err);
	if (rc == SESAME_OK)
		rc = sessions_draft_insert(st, NULL, user, &d, err);
	return sessions_draft_finish(ctx, st, user, &d, rc, out, err);
}

static int refresh_claims(const char *token, json_t **claims, sesame_error *err);

/* Verify one of sesame's own access tokens. */
static int verify_access(sesame_ctx *ctx, const char *token, json_t **claims, sesame_error *err)
{
	const char *aud[] = {ctx->cfg.app_id, NULL}, *iss[] = {ctx->cfg.public_url, NULL};
	struct sesame_jwt_rules rules = {
		.struct_size = sizeof(rules),
		.audiences = aud,
		.issuers = iss,
		.algorithms = es256_only,
		.leeway = OWN_TOKEN_LEEWAY,
	};
	struct sessions *s;
	const char *got;
	int rc;

	*claims = NULL;
	if (!token || !*token)
		return seterr(err, SESAME_REJECTED, "token", "no access token given");
	rc = sessions_acquire(ctx, false, &s, err);
	if (rc != SESAME_OK)
		return rc;
	rc = keys_verify(s->keys, token, &rules, ctx_now(ctx), claims, err);
	sessions_release(s);
	/* A kid this process does not know yet: another process may have
	 * rotated the key.  Look at the files (at most once a second). */
	if (rc == SESAME_REJECTED && err && strcmp(err->reason, "nokey") == 0) {
		rc = sessions_acquire(ctx, true, &s, err);
		if (rc != SESAME_OK)
			return rc;
		rc = keys_verify(s->keys, token, &rules, ctx_now(ctx), claims, err);
		sessions_release(s);
	}
	/* A refresh token fails on its algorithm; say what it is. */
	if (rc == SESAME_REJECTED && err && strcmp(err->reason, "alg") == 0) {
		json_t *other = NULL;
		sesame_error ignored;

		if (refresh_claims(token, &other, &ignored) == SESAME_OK)
			rc = seterr(err, SESAME_REJECTED, "typ", "not a sesame access token (a refresh token)");
		json_decref(other);
	}
	if (rc != SESAME_OK)
		return rc;
	got = json_string_value(json_object_get(*claims, "typ"));
	if (!got || strcmp(got, "access") != 0 || !json_is_string(json_object_get(*claims, "sid")) ||
	    !json_is_string(json_object_get(*claims, "sub"))) {
		json_decref(*claims);
		*claims = NULL;
		return seterr(err, SESAME_REJECTED, "typ", "not a sesame access token");
	}
	return SESAME_OK;
}

/*
 * The claims of a refresh token, read without a signing key (see the top
 * of this file): a well-formed compact JWS whose payload is an object with
 * "typ": "refresh" and the strings "sid", "sub" and "jti".
 */
static int refresh_claims(const char *token, json_t **claims, sesame_error *err)
{
	struct jws_token t;
	json_t *c;
	const char *typ;
	int rc;

	*claims = NULL;
	if (!token || !*token)
		return seterr(err, SESAME_REJECTED, "token", "no refresh token given");
	rc = jws_parse(token, REFRESH_MAX_LENGTH, &t, err);
	if (rc != SESAME_OK)
		return rc;
	c = util_json_parse(t.payload, t.payload_len, NULL);
	jws_token_clear(&t);
	typ = json_string_value(json_object_get(c, "typ"));
	if (!json_is_object(c) || !typ || strcmp(typ, "refresh") != 0 || !json_is_string(json_object_get(c, "sid")) ||
	    !json_is_string(json_object_get(c, "sub")) || !json_is_string(json_object_get(c, "jti"))) {
		json_decref(c);
		return seterr(err, SESAME_REJECTED, "typ", "not a sesame refresh token");
	}
	*claims = c;
	return SESAME_OK;
}

/*
 * The live session a refresh token stands for: the store's session named
 * by the token's "sid", whose refresh hash is the SHA-256 of the token's
 * jti (compared in constant time), of the token's "sub", not expired.
 * The lookup keys on the session id, which every access token shows, and
 * never on the secret: the store needs no index of refresh hashes (one
 * B-tree less written by every login), and a guessed jti costs the same
 * as any other.
 */
static int session_of_refresh(sesame_ctx *ctx, struct store *st, const char *token, json_t **claims,
			      json_t **session, sesame_error *err)
{
	char hash[SESAME_STORE_HASH_LENGTH + 1];
	const char *sid, *stored;
	int rc;

	*session = NULL;
	rc = refresh_claims(token, claims, err);
	if (rc != SESAME_OK)
		return rc;
	sid = json_string_value(json_object_get(*claims, "sid"));
	if (!store_valid_id(sid))
		rc = seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	else if (store_token_hash(json_string_value(json_object_get(*claims, "jti")), hash) != SESAME_OK)
		rc = seterr(err, SESAME_INTERNAL, "hash", "cannot hash the refresh token");
	if (rc == SESAME_OK)
		rc = st->desc->session_get(st->h, NULL, sid, session, err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	if (rc == SESAME_OK) {
		stored = json_string_value(json_object_get(*session, "refresh_hash"));
		if (!stored || strlen(stored) != SESAME_STORE_HASH_LENGTH ||
		    !util_ct_equal(stored, hash, SESAME_STORE_HASH_LENGTH) ||
		    !json_equal(json_object_get(*session, "user_id"), json_object_get(*claims, "sub")) ||
		    json_integer_value(json_object_get(*session, "expires")) <= ctx_now(ctx))
			rc = seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	}
	util_wipe(hash, sizeof(hash));
	if (rc != SESAME_OK) {
		json_decref(*claims);
		json_decref(*session);
		*claims = *session = NULL;
	}
	return rc;
}

int sessions_verify_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **claims, sesame_error *err)
{
	struct store *st;
	json_t *session = NULL;
	int rc;

	*claims = NULL;
	if ((rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = session_of_refresh(ctx, st, refresh_token, claims, &session, err);
	json_decref(session);
	return rc;
}

int sessions_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **out, sesame_error *err)
{
	struct sessions *s = NULL;
	struct store *st;
	json_t *claims = NULL, *session = NULL, *user = NULL;
	char *access = NULL;
	int rc;

	*out = NULL;
	if ((rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = session_of_refresh(ctx, st, refresh_token, &claims, &session, err);
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, NULL, json_string_value(json_object_get(session, "user_id")), &user, err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_REJECTED, "session", "the session's user no longer exists");
	if (rc == SESAME_OK && json_is_true(json_object_get(user, "disabled")))
		rc = seterr(err, SESAME_REJECTED, "disabled", "user is disabled");
	if (rc == SESAME_OK)
		rc = sessions_acquire(ctx, false, &s, err);
	if (rc == SESAME_OK)
		rc = st->desc->session_touch(st->h, NULL, json_string_value(json_object_get(session, "id")),
					     ctx_now(ctx), 0, err);
	if (rc == SESAME_OK)
		rc = sessions_access_token(ctx, s, user, json_string_value(json_object_get(session, "id")),
					   json_string_value(json_object_get(session, "device_id")), &access, err);
	if (rc == SESAME_OK && !(*out = json_pack("{s:s}", "access_token", access)))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	sessions_release(s);
	util_free_secret(access);
	json_decref(claims);
	json_decref(session);
	json_decref(user);
	return rc;
}

int sessions_access_for(sesame_ctx *ctx, const char *sid, const char *user_id, json_t **out, sesame_error *err)
{
	struct sessions *s = NULL;
	struct store *st;
	json_t *session = NULL, *user = NULL;
	const char *owner;
	char *access = NULL;
	int rc;

	*out = NULL;
	if ((rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = st->desc->session_get(st->h, NULL, sid, &session, err);
	owner = json_string_value(json_object_get(session, "user_id"));
	/* A session of another user is one this caller does not have. */
	if (rc == SESAME_NOT_FOUND ||
	    (rc == SESAME_OK && (json_integer_value(json_object_get(session, "expires")) <= ctx_now(ctx) || !owner ||
				 strcmp(owner, user_id) != 0)))
		rc = seterr(err, SESAME_REJECTED, "session", "the session has ended");
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, NULL, user_id, &user, err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_REJECTED, "session", "the session's user no longer exists");
	if (rc == SESAME_OK && json_is_true(json_object_get(user, "disabled")))
		rc = seterr(err, SESAME_REJECTED, "disabled", "user is disabled");
	if (rc == SESAME_OK)
		rc = sessions_acquire(ctx, false, &s, err);
	if (rc == SESAME_OK)
		rc = sessions_access_token(ctx, s, user, sid, json_string_value(json_object_get(session, "device_id")),
					   &access, err);
	if (rc == SESAME_OK && !(*out = json_pack("{s:s, s:s, s:O}", "access_token", access, "user_id", user_id,
						    "device_id", json_object_get(session, "device_id"))))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	sessions_release(s);
	util_free_secret(access);
	json_decref(session);
	json_decref(user);
	return rc;
}

int sessions_logout(sesame_ctx *ctx, const char *refresh_token, char **user_id, sesame_error *err)
{
	struct store *st;
	json_t *claims = NULL, *session = NULL;
	int rc;

	*user_id = NULL;
	if ((rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = session_of_refresh(ctx, st, refresh_token, &claims, &session, err);
	if (rc == SESAME_OK)
		rc = st->desc->session_delete(st->h, NULL, json_string_value(json_object_get(session, "id")), err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	if (rc == SESAME_OK && !(*user_id = strdup(json_string_value(json_object_get(session, "user_id")))))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	json_decref(claims);
	json_decref(session);
	return rc;
}

int sessions_verify_access(sesame_ctx *ctx, const char *token, bool check_session, json_t **claims,
			   sesame_error *err)
{
	struct store *st;
	json_t *session = NULL;
	int rc;

	*claims = NULL;
	rc = verify_access(ctx, token, claims, err);
	if (rc != SESAME_OK || !check_session)
		return rc;
	rc = ctx_store(ctx, &st, err);
	if (rc == SESAME_OK)
		rc = st->desc->session_get(st->h, NULL, json_string_value(json_object_get(*claims, "sid")), &session,
					   err);
	if (rc == SESAME_NOT_FOUND ||
	    (rc == SESAME_OK && json_integer_value(json_object_get(session, "expires")) <= ctx_now(ctx)))
		rc = seterr(err, SESAME_REJECTED, "session", "the session has ended");
	json_decref(session);
	if (rc != SESAME_OK) {
		json_decref(*claims);
		*claims = NULL;
	}
	return rc;
}

json_t *sessions_jwks(sesame_ctx *ctx, sesame_error *err)
{
	struct sessions *s;
	json_t *jwks;

	if (sessions_acquire(ctx, false, &s, err) != SESAME_OK)
		return NULL;
	jwks = json_incref(s->jwks);
	sessions_release(s);
	return jwks;
}

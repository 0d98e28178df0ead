/*
 * core/sessions.c — sessions: sesame's own access and refresh tokens.
 *
 * An access token is a JWT signed with sesame's current ES256 key, valid
 * for sessions.access_ttl (30 minutes by default): {"sub", "aud" (app id),
 * "iss" (public_url), "iat", "exp", "typ": "access", "sid",
 * "baas_device_id", "user_data"}.
 *
 * A refresh token is also a signed JWT, because the App Services client
 * SDKs decode it (realm-core reads its "exp"): {"sub", "aud", "iss",
 * "iat", "exp", "typ": "refresh", "sid", "jti"}.  Its "jti" carries 256
 * random bits; the store keeps only their SHA-256, so a database dump
 * yields no usable token, and the lookup never keys on the token string
 * (ECDSA signatures are malleable).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "internal.h"
#include "jose.h"

#define SECRET_BYTES 32
/* sesame verifies what it signed: the only skew is between the clocks of
 * the nodes sharing one store, which NTP keeps far below this. */
#define OWN_TOKEN_LEEWAY 5
#define DEVICE_ID_LENGTH 24
/* What App Services answers for a refresh token whose session is gone;
 * realm-web's logOut() ignores exactly this error and fails on any other. */
#define NO_REFRESH_TOKEN "failed to find refresh token"

static const char *const es256_only[] = {"ES256", NULL};

static void sessions_clear(struct sessions *s)
{
	if (s->keys)
		keys_free(s->keys);
	signing_keys_free(&s->sk);
	json_decref(s->jwks);
	memset(s, 0, sizeof(*s));
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

static int sessions_load(sesame_ctx *ctx, struct sessions *s, sesame_error *err)
{
	json_t *list = json_array(), *keys = json_array();
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!list || !keys) {
		json_decref(list);
		json_decref(keys);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	rc = signing_keys_load(&ctx->cfg, ctx_now(ctx), &ctx->log, &s->sk, err);
	for (i = 0; rc == SESAME_OK && i < s->sk.n; i++) {
		const struct signing_key *k = &s->sk.keys[i];
		json_t *jwk = public_jwk(k);

		if (!jwk || json_array_append_new(keys, jwk) != 0 ||
		    json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "alg", "ES256", "kid", k->kid, "key",
							  k->pem)) != 0)
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc == SESAME_OK)
		rc = keys_from_config(list, &s->keys, err);
	json_decref(list);
	if (rc == SESAME_OK) {
		s->jwks = json_pack("{s:o}", "keys", keys);
		keys = NULL;
		if (!s->jwks)
			rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	json_decref(keys);
	if (rc != SESAME_OK)
		sessions_clear(s);
	return rc;
}

int ctx_sessions(sesame_ctx *ctx, struct sessions **out, sesame_error *err)
{
	int rc = SESAME_OK;

	pthread_mutex_lock(&ctx->sessions_lock);
	if (!ctx->sessions_ready) {
		rc = sessions_load(ctx, &ctx->sessions, err);
		ctx->sessions_ready = rc == SESAME_OK;
	}
	pthread_mutex_unlock(&ctx->sessions_lock);
	*out = rc == SESAME_OK ? &ctx->sessions : NULL;
	return rc;
}

void ctx_sessions_close(sesame_ctx *ctx)
{
	if (ctx->sessions_ready)
		sessions_clear(&ctx->sessions);
	ctx->sessions_ready = false;
}

static int sessions_new_device_id(char id[DEVICE_ID_LENGTH + 1])
{
	unsigned char b[12];
	int i;

	if (util_random(b, sizeof(b)) != SESAME_OK)
		return SESAME_INTERNAL;
	for (i = 0; i < 12; i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return SESAME_OK;
}

static int sign(struct sessions *s, json_t *claims, char **token, sesame_error *err)
{
	int rc = keys_sign(s->keys, s->sk.keys[0].kid, NULL, claims, token, err);

	json_decref(claims);
	return rc;
}

static int sessions_access_token(sesame_ctx *ctx, struct sessions *s, const json_t *user, const char *sid,
			  const char *device_id, char **token, sesame_error *err)
{
	int64_t now = ctx_now(ctx);
	json_t *custom = json_object_get(user, "custom_data");
	json_t *claims = json_pack("{s:O, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "sub", json_object_get(user, "id"),
				   "aud", ctx->cfg.app_id, "iss", ctx->cfg.public_url, "iat", (json_int_t)now, "exp",
				   (json_int_t)(now + ctx->cfg.access_ttl), "typ", "access", "sid", sid,
				   "baas_device_id", device_id);

	if (!claims)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (json_is_object(custom) && json_object_size(custom) > 0)
		json_object_set(claims, "user_data", custom);
	return sign(s, claims, token, err);
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
 * (the refresh token's "jti"); the two tokens are then signed around the
 * session's id.  A login does the steps itself, storing the session in its
 * own transaction (one commit per login).
 */
int sessions_draft(sesame_ctx *ctx, const json_t *identity, const char *device_id, struct session_draft *d,
		   sesame_error *err)
{
	unsigned char secret[SECRET_BYTES];
	struct sessions *s;
	int rc;

	memset(d, 0, sizeof(*d));
	/* The signing keys first: a login that cannot sign writes nothing. */
	rc = ctx_sessions(ctx, &s, err);
	if (rc != SESAME_OK)
		return rc;
	/* No device id, or the SDKs' all-zero "none": give the session one. */
	if (!device_id || !*device_id || strspn(device_id, "0") == strlen(device_id) ||
	    strlen(device_id) > 64) {
		if (sessions_new_device_id(d->dev) != SESAME_OK)
			return seterr(err, SESAME_INTERNAL, "random", "no randomness");
		device_id = d->dev;
	}
	if (util_random(secret, sizeof(secret)) != SESAME_OK)
		return seterr(err, SESAME_INTERNAL, "random", "no randomness");
	d->jti = b64url_encode(secret, sizeof(secret));
	util_wipe(secret, sizeof(secret));
	if (!d->jti)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	d->identity = identity;
	d->device_id = device_id;
	d->now = ctx_now(ctx);
	d->expires =
	    d->now + session_ttl(ctx, identity ? json_string_value(json_object_get(identity, "provider")) : NULL);
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
	p.provider = d->identity ? json_string_value(json_object_get(d->identity, "provider")) : NULL;
	p.provider_uid = d->identity ? json_string_value(json_object_get(d->identity, "id")) : NULL;
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
	struct sessions *s = NULL;
	json_t *claims;

	*out = NULL;
	if (rc == SESAME_OK)
		rc = ctx_sessions(ctx, &s, err);
	if (rc == SESAME_OK && !uid)
		rc = seterr(err, SESAME_INTERNAL, "user", "user record without an id");
	if (rc == SESAME_OK) {
		claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "sub", uid, "aud", ctx->cfg.app_id,
				   "iss", ctx->cfg.public_url, "iat", (json_int_t)d->now, "exp", (json_int_t)d->expires,
				   "typ", "refresh", "sid", d->sid, "jti", d->jti);
		rc = claims ? sign(s, claims, &refresh, err) : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (rc == SESAME_OK)
		rc = sessions_access_token(ctx, s, user, d->sid, d->device_id, &access, err);
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
	util_free_secret(d->jti);
	util_free_secret(access);
	util_free_secret(refresh);
	memset(d, 0, sizeof(*d));
	return rc;
}

int sessions_create(sesame_ctx *ctx, struct store *st, const json_t *user, const json_t *identity,
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

/* Verify one of sesame's own tokens at time `now` and check it is of type
 * `typ`. */
static int verify_own_at(sesame_ctx *ctx, struct sessions *s, const char *token, const char *typ, int64_t now,
			 json_t **claims, sesame_error *err)
{
	const char *aud[] = {ctx->cfg.app_id, NULL}, *iss[] = {ctx->cfg.public_url, NULL};
	struct sesame_jwt_rules rules = {
		.struct_size = sizeof(rules),
		.audiences = aud,
		.issuers = iss,
		.algorithms = es256_only,
		.leeway = OWN_TOKEN_LEEWAY,
	};
	const char *got;
	int rc;

	*claims = NULL;
	if (!token || !*token)
		return seterr(err, SESAME_REJECTED, "token", "no %s token given", typ);
	rc = keys_verify(s->keys, token, &rules, now, claims, err);
	if (rc != SESAME_OK)
		return rc;
	got = json_string_value(json_object_get(*claims, "typ"));
	if (!got || strcmp(got, typ) != 0 || !json_is_string(json_object_get(*claims, "sid")) ||
	    !json_is_string(json_object_get(*claims, "sub"))) {
		json_decref(*claims);
		*claims = NULL;
		return seterr(err, SESAME_REJECTED, "typ", "not a sesame %s token", typ);
	}
	return SESAME_OK;
}

static int verify_own(sesame_ctx *ctx, struct sessions *s, const char *token, const char *typ, json_t **claims,
		      sesame_error *err)
{
	return verify_own_at(ctx, s, token, typ, ctx_now(ctx), claims, err);
}

/*
 * Whether `token`, refused for a claim, is one of sesame's refresh tokens
 * that merely expired: verified again (signature, audience, issuer, type)
 * as of the second before its "exp".  The unverified payload is read only
 * to pick that moment.  Its session is gone with it, and clients log out
 * with such tokens (realm-web expects them to be "not found").
 */
static bool refresh_expired(sesame_ctx *ctx, struct sessions *s, const char *token)
{
	struct jws_token t = {0};
	json_t *payload = NULL, *claims = NULL, *exp;
	bool expired = false;

	if (jws_parse(token, 0, &t, NULL) == SESAME_OK)
		payload = json_loadb((const char *)t.payload, t.payload_len, JSON_REJECT_DUPLICATES, NULL);
	exp = json_object_get(payload, "exp");
	if (json_is_integer(exp) && json_integer_value(exp) > 0 && json_integer_value(exp) <= ctx_now(ctx))
		expired =
		    verify_own_at(ctx, s, token, "refresh", json_integer_value(exp) - 1, &claims, NULL) == SESAME_OK;
	json_decref(claims);
	json_decref(payload);
	jws_token_clear(&t);
	return expired;
}

/* The live session a refresh token stands for.  A session that no longer
 * exists is "failed to find refresh token", the App Services text. */
static int session_of_refresh(sesame_ctx *ctx, struct sessions *s, struct store *st, const char *token,
			      json_t **claims, json_t **session, sesame_error *err)
{
	sesame_error e;
	const char *jti;
	char hash[SESAME_STORE_HASH_LENGTH + 1];
	int rc;

	*session = NULL;
	rc = verify_own(ctx, s, token, "refresh", claims, &e);
	if (rc == SESAME_REJECTED && strcmp(e.reason, "claim") == 0 && refresh_expired(ctx, s, token))
		return seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	if (rc != SESAME_OK) {
		if (err)
			*err = e;
		return rc;
	}
	jti = json_string_value(json_object_get(*claims, "jti"));
	if (!jti || store_token_hash(jti, hash) != SESAME_OK)
		rc = seterr(err, SESAME_REJECTED, "typ", "not a sesame refresh token");
	if (rc == SESAME_OK)
		rc = st->desc->session_get_by_hash(st->h, NULL, hash, session, err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	if (rc == SESAME_OK &&
	    (strcmp(json_string_value(json_object_get(*session, "id")),
		    json_string_value(json_object_get(*claims, "sid"))) != 0 ||
	     json_integer_value(json_object_get(*session, "expires")) <= ctx_now(ctx)))
		rc = seterr(err, SESAME_REJECTED, "session", NO_REFRESH_TOKEN);
	if (rc != SESAME_OK) {
		json_decref(*claims);
		json_decref(*session);
		*claims = *session = NULL;
	}
	return rc;
}

int sessions_verify_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **claims, sesame_error *err)
{
	struct sessions *s;
	struct store *st;
	json_t *session = NULL;
	int rc;

	*claims = NULL;
	if ((rc = ctx_sessions(ctx, &s, err)) != SESAME_OK || (rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = session_of_refresh(ctx, s, st, refresh_token, claims, &session, err);
	json_decref(session);
	return rc;
}

int sessions_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **out, sesame_error *err)
{
	struct sessions *s;
	struct store *st;
	json_t *claims = NULL, *session = NULL, *user = NULL;
	char *access = NULL;
	int rc;

	*out = NULL;
	if ((rc = ctx_sessions(ctx, &s, err)) != SESAME_OK || (rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = session_of_refresh(ctx, s, st, refresh_token, &claims, &session, err);
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, NULL, json_string_value(json_object_get(session, "user_id")), &user, err);
	if (rc == SESAME_NOT_FOUND)
		rc = seterr(err, SESAME_REJECTED, "session", "the session's user no longer exists");
	if (rc == SESAME_OK && json_is_true(json_object_get(user, "disabled")))
		rc = seterr(err, SESAME_REJECTED, "disabled", "user is disabled");
	if (rc == SESAME_OK)
		rc = st->desc->session_touch(st->h, NULL, json_string_value(json_object_get(session, "id")),
					     ctx_now(ctx), 0, err);
	if (rc == SESAME_OK)
		rc = sessions_access_token(ctx, s, user, json_string_value(json_object_get(session, "id")),
					   json_string_value(json_object_get(session, "device_id")), &access, err);
	if (rc == SESAME_OK && !(*out = json_pack("{s:s}", "access_token", access)))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	util_free_secret(access);
	json_decref(claims);
	json_decref(session);
	json_decref(user);
	return rc;
}

int sessions_access_for(sesame_ctx *ctx, const char *sid, const char *user_id, json_t **out, sesame_error *err)
{
	struct sessions *s;
	struct store *st;
	json_t *session = NULL, *user = NULL;
	const char *owner;
	char *access = NULL;
	int rc;

	*out = NULL;
	if ((rc = ctx_sessions(ctx, &s, err)) != SESAME_OK || (rc = ctx_store(ctx, &st, err)) != SESAME_OK)
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
		rc = sessions_access_token(ctx, s, user, sid, json_string_value(json_object_get(session, "device_id")),
					   &access, err);
	if (rc == SESAME_OK && !(*out = json_pack("{s:s, s:s, s:O}", "access_token", access, "user_id", user_id,
						    "device_id", json_object_get(session, "device_id"))))
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	util_free_secret(access);
	json_decref(session);
	json_decref(user);
	return rc;
}

int sessions_logout(sesame_ctx *ctx, const char *refresh_token, char **user_id, sesame_error *err)
{
	struct sessions *s;
	struct store *st;
	json_t *claims = NULL, *session = NULL;
	int rc;

	*user_id = NULL;
	if ((rc = ctx_sessions(ctx, &s, err)) != SESAME_OK || (rc = ctx_store(ctx, &st, err)) != SESAME_OK)
		return rc;
	rc = session_of_refresh(ctx, s, st, refresh_token, &claims, &session, err);
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
	struct sessions *s;
	struct store *st;
	json_t *session = NULL;
	int rc;

	*claims = NULL;
	if ((rc = ctx_sessions(ctx, &s, err)) != SESAME_OK)
		return rc;
	rc = verify_own(ctx, s, token, "access", claims, err);
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

	if (ctx_sessions(ctx, &s, err) != SESAME_OK)
		return NULL;
	return json_incref(s->jwks);
}

/* SPDX-License-Identifier: MIT */
/*
 * core/api.c — the account operations of the application API: logins,
 * callers (a user or the system user) and what each may do.
 *
 * The permission rule is one function, caller_may(): the system user may
 * do anything; a user caller only touches its own account, and never the
 * operations marked system-only (listing, disabling).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct sesame_caller {
	sesame_ctx *ctx;
	bool system;
	char *user_id;	/* NULL for the system user */
	json_t *claims; /* access-token claims of a user caller */
};

SESAME_API sesame_caller *sesame_caller_system(sesame_ctx *ctx)
{
	sesame_caller *c;

	if (!ctx)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c) {
		c->ctx = ctx;
		c->system = true;
	}
	return c;
}

SESAME_API int sesame_caller_from_access_token(sesame_ctx *ctx, const char *access_token, sesame_caller **caller,
					       sesame_error *err)
{
	json_t *claims = NULL;
	sesame_caller *c;
	int rc;

	err_clear(err);
	if (!caller)
		return seterr(err, SESAME_USAGE, "usage", "sesame_caller_from_access_token: NULL caller");
	*caller = NULL;
	if (!ctx || !ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "sesame_caller_from_access_token: context not configured");
	rc = sessions_verify_access(ctx, access_token, true, &claims, err);
	if (rc != SESAME_OK)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->user_id = strdup(json_string_value(json_object_get(claims, "sub"))))) {
		free(c);
		json_decref(claims);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	c->ctx = ctx;
	c->claims = claims;
	*caller = c;
	return SESAME_OK;
}

SESAME_API int sesame_caller_from_refresh_token(sesame_ctx *ctx, const char *refresh_token, sesame_caller **caller,
						sesame_error *err)
{
	json_t *claims = NULL;
	sesame_caller *c;
	int rc;

	err_clear(err);
	if (!caller)
		return seterr(err, SESAME_USAGE, "usage", "sesame_caller_from_refresh_token: NULL caller");
	*caller = NULL;
	if (!ctx || !ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "sesame_caller_from_refresh_token: context not configured");
	rc = sessions_verify_refresh(ctx, refresh_token, &claims, err);
	if (rc != SESAME_OK)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->user_id = strdup(json_string_value(json_object_get(claims, "sub"))))) {
		free(c);
		json_decref(claims);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	c->ctx = ctx;
	c->claims = claims;
	*caller = c;
	return SESAME_OK;
}

SESAME_API void sesame_caller_free(sesame_caller *caller)
{
	if (!caller)
		return;
	free(caller->user_id);
	json_decref(caller->claims);
	free(caller);
}

SESAME_API const char *sesame_caller_user_id(const sesame_caller *caller)
{
	return caller ? caller->user_id : NULL;
}

SESAME_API const json_t *sesame_caller_claims(const sesame_caller *caller)
{
	return caller ? caller->claims : NULL;
}

enum scope { SELF_OR_SYSTEM, SYSTEM_ONLY };

/* May `c` act on `user_id`?  Also opens the store for the operation. */
static int caller_may(sesame_caller *c, const char *user_id, enum scope scope, struct store **st, sesame_error *err)
{
	err_clear(err);
	if (!c || !c->ctx || !c->ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "no caller, or its context is not configured");
	if (scope != SYSTEM_ONLY && !user_id)
		return seterr(err, SESAME_USAGE, "usage", "no user id given");
	if (!c->system && (scope == SYSTEM_ONLY || strcmp(c->user_id, user_id) != 0))
		return seterr(err, SESAME_REJECTED, "forbidden",
			      scope == SYSTEM_ONLY ? "only the system user may do this"
						   : "a user may only act on its own account");
	return ctx_store(c->ctx, st, err);
}

/* ---- logins -------------------------------------------------------------- */

SESAME_API int sesame_login(sesame_ctx *ctx, const char *provider, const json_t *credential, const char *device_id,
			    json_t **session, sesame_error *err)
{
	struct identity identity;
	struct session_draft draft;
	struct store *st = NULL;
	json_t *user = NULL;
	int rc;

	err_clear(err);
	if (!session)
		return seterr(err, SESAME_USAGE, "usage", "sesame_login: NULL session");
	*session = NULL;
	/* The identity stays typed from the provider to the store. */
	rc = ctx_verify(ctx, provider, credential, &identity, err);
	if (rc != SESAME_OK)
		return rc;
	rc = ctx_store(ctx, &st, err);
	if (rc == SESAME_OK) {
		/* The merge and the session are one transaction: one commit
		 * (one fsync with synchronous=FULL) per login, not two. */
		rc = sessions_draft(ctx, &identity, device_id, &draft, err);
		if (rc == SESAME_OK) {
			rc = accounts_login_identity(st, &identity, ctx_now(ctx), sessions_draft_insert, &draft, &user,
						     NULL, err);
			rc = sessions_draft_finish(ctx, st, user, &draft, rc, session, err);
		}
	}
	identity_clear(&identity);
	json_decref(user);
	return rc;
}

SESAME_API int sesame_session_create(sesame_caller *caller, const char *device_id, json_t **session, sesame_error *err)
{
	json_t *user = NULL;
	struct store *st;
	int rc;

	err_clear(err);
	if (!session)
		return seterr(err, SESAME_USAGE, "usage", "sesame_session_create: NULL session");
	*session = NULL;
	if (caller && caller->system)
		return seterr(err, SESAME_USAGE, "usage", "the system user has no sessions");
	rc = caller_may(caller, caller ? caller->user_id : NULL, SELF_OR_SYSTEM, &st, err);
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, NULL, caller->user_id, &user, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(user, "disabled")))
		rc = seterr(err, SESAME_REJECTED, "disabled", "user is disabled");
	if (rc == SESAME_OK)
		rc = sessions_create(caller->ctx, st, user, NULL,
				     device_id ? device_id
					       : json_string_value(json_object_get(caller->claims, "baas_device_id")),
				     session, err);
	json_decref(user);
	return rc;
}

SESAME_API int sesame_session_access_token(sesame_caller *caller, json_t **result, sesame_error *err)
{
	const char *sid;
	struct store *st;
	int rc;

	err_clear(err);
	if (!result)
		return seterr(err, SESAME_USAGE, "usage", "sesame_session_access_token: NULL result");
	*result = NULL;
	if (caller && caller->system)
		return seterr(err, SESAME_USAGE, "usage", "the system user has no sessions");
	rc = caller_may(caller, caller ? caller->user_id : NULL, SELF_OR_SYSTEM, &st, err);
	if (rc != SESAME_OK)
		return rc;
	sid = json_string_value(json_object_get(caller->claims, "sid"));
	if (!sid)
		return seterr(err, SESAME_REJECTED, "session", "the caller's token names no session");
	return sessions_access_for(caller->ctx, sid, caller->user_id, result, err);
}

SESAME_API int sesame_link(sesame_caller *caller, const char *user_id, const char *provider, const json_t *credential,
			   json_t **user, sesame_error *err)
{
	json_t *identity = NULL, *linked = NULL;
	struct store *st;
	int rc;

	if (user)
		*user = NULL;
	rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);
	if (rc == SESAME_OK)
		rc = sesame_verify_credential(caller->ctx, provider, credential, &identity, err);
	if (rc == SESAME_OK)
		rc = accounts_link(st, user_id, identity, ctx_instance_caps(caller->ctx, provider),
				   ctx_now(caller->ctx), &linked, err);
	json_decref(identity);
	json_decref(linked);
	if (rc == SESAME_OK && user)
		rc = accounts_user_get(st, user_id, user, err);
	return rc;
}

SESAME_API int sesame_unlink(sesame_caller *caller, const char *user_id, const char *provider, const char *uid,
			     sesame_error *err)
{
	struct store *st;
	int rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);

	if (rc == SESAME_OK && (!provider || !uid))
		rc = seterr(err, SESAME_USAGE, "usage", "sesame_unlink: provider and uid are required");
	return rc == SESAME_OK ? accounts_unlink(st, user_id, provider, uid, err) : rc;
}

/* ---- users ------------------------------------------------------------------ */

SESAME_API int sesame_user_get(sesame_caller *caller, const char *user_id, json_t **user, sesame_error *err)
{
	struct store *st;
	int rc;

	if (user)
		*user = NULL;
	rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);
	if (rc == SESAME_OK && !user)
		rc = seterr(err, SESAME_USAGE, "usage", "sesame_user_get: NULL user");
	return rc == SESAME_OK ? accounts_user_get(st, user_id, user, err) : rc;
}

SESAME_API int sesame_users_list(sesame_caller *caller, const char *after, size_t limit, json_t **users,
				 sesame_error *err)
{
	struct store *st;
	int rc;

	if (users)
		*users = NULL;
	rc = caller_may(caller, NULL, SYSTEM_ONLY, &st, err);
	if (rc == SESAME_OK && (!users || limit > 1000))
		rc = seterr(err, SESAME_USAGE, "usage", "sesame_users_list: limit must be 0 to 1000");
	return rc == SESAME_OK ? accounts_users_list(st, after, limit, users, err) : rc;
}

SESAME_API int sesame_user_delete(sesame_caller *caller, const char *user_id, sesame_error *err)
{
	struct store *st;
	int rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);

	return rc == SESAME_OK ? accounts_delete(st, user_id, ctx_user_deleted, caller->ctx, err) : rc;
}

SESAME_API int sesame_user_set_disabled(sesame_caller *caller, const char *user_id, int disabled, sesame_error *err)
{
	struct store *st;
	int rc = caller_may(caller, NULL, SYSTEM_ONLY, &st, err);

	if (rc == SESAME_OK && !user_id)
		rc = seterr(err, SESAME_USAGE, "usage", "no user id given");
	return rc == SESAME_OK ? accounts_set_disabled(st, user_id, disabled != 0, err) : rc;
}

SESAME_API int sesame_user_revoke_sessions(sesame_caller *caller, const char *user_id, sesame_error *err)
{
	json_t *user = NULL;
	struct store *st;
	int rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);

	/* Check the user exists, so a typo is not a silent success. */
	if (rc == SESAME_OK)
		rc = st->desc->user_get(st->h, NULL, user_id, &user, err);
	json_decref(user);
	return rc == SESAME_OK ? st->desc->sessions_delete_user(st->h, NULL, user_id, NULL, err) : rc;
}

SESAME_API int sesame_user_custom_data_get(sesame_caller *caller, const char *user_id, json_t **data, sesame_error *err)
{
	struct store *st;
	int rc;

	if (data)
		*data = NULL;
	rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);
	if (rc == SESAME_OK && !data)
		rc = seterr(err, SESAME_USAGE, "usage", "NULL data");
	return rc == SESAME_OK ? accounts_custom_data_get(st, user_id, data, err) : rc;
}

SESAME_API int sesame_user_custom_data_set(sesame_caller *caller, const char *user_id, const json_t *data,
					   sesame_error *err)
{
	struct store *st;
	int rc = caller_may(caller, user_id, SELF_OR_SYSTEM, &st, err);

	/* Checked here, before the write: every access token of the user
	 * carries it, and a token over the size front ends accept would lock
	 * the user out. */
	if (rc == SESAME_OK && json_is_object(data))
		rc = sessions_check_token_size(caller->ctx, data, err);
	return rc == SESAME_OK ? accounts_custom_data_set(st, user_id, data, 0, err) : rc;
}

/* True when every identity of `user` comes from a provider instance with
 * SESAME_PROVIDER_CAP_ANONYMOUS.  An identity of an instance no longer
 * configured (or disabled) counts as not anonymous: a user is never deleted
 * on a guess. */
static bool anonymous_only(sesame_ctx *ctx, const json_t *user)
{
	json_t *ids = json_object_get(user, "identities"), *id;
	size_t i;

	if (json_array_size(ids) == 0)
		return false;
	json_array_foreach (ids, i, id)
		if (!(ctx_instance_caps(ctx, json_string_value(json_object_get(id, "provider"))) &
		      SESAME_PROVIDER_CAP_ANONYMOUS))
			return false;
	return true;
}

int api_rules_subject(sesame_caller *caller, const char *user_id, sesame_ctx **ctx, json_t **user, sesame_error *err)
{
	struct store *st;
	int rc;

	*user = NULL;
	*ctx = NULL;
	if (caller && caller->system && !user_id) {
		if (!caller->ctx || !caller->ctx->configured)
			return seterr(err, SESAME_USAGE, "usage", "the caller's context is not configured");
		*ctx = caller->ctx;
		return SESAME_OK;
	}
	rc = caller_may(caller, user_id ? user_id : caller ? caller->user_id : NULL, SELF_OR_SYSTEM, &st, err);
	if (rc == SESAME_OK)
		rc = accounts_user_get(st, user_id ? user_id : caller->user_id, user, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(*user, "disabled")))
		rc = seterr(err, SESAME_REJECTED, "disabled", "user is disabled");
	if (rc != SESAME_OK) {
		json_decref(*user);
		*user = NULL;
		return rc;
	}
	*ctx = caller->ctx;
	return SESAME_OK;
}

/* ---- provider actions ------------------------------------------------------- */

/*
 * What the plugin learns of the caller, never taken from the client: the
 * typed caller of action_as(); `*user` (to release) holds its strings.
 */
static int caller_info(sesame_caller *c, struct sesame_action_caller *info, json_t **user, sesame_error *err)
{
	struct store *st;
	int rc;

	memset(info, 0, sizeof(*info));
	info->struct_size = sizeof(*info);
	*user = NULL;
	if (!c) {
		info->kind = SESAME_CALLER_NONE;
		return SESAME_OK;
	}
	if (c->system) {
		info->kind = SESAME_CALLER_SYSTEM;
		return SESAME_OK;
	}
	rc = ctx_store(c->ctx, &st, err);
	if (rc == SESAME_OK)
		rc = accounts_user_get(st, c->user_id, user, err);
	if (rc == SESAME_OK && json_is_true(json_object_get(*user, "disabled")))
		rc = seterr(err, SESAME_REJECTED, "disabled", "user is disabled");
	if (rc != SESAME_OK) {
		json_decref(*user);
		*user = NULL;
		return rc;
	}
	info->kind = SESAME_CALLER_USER;
	info->user_id = c->user_id;
	info->user_type = json_string_value(json_object_get(*user, "type"));
	info->anonymous = anonymous_only(c->ctx, *user);
	return SESAME_OK;
}

/* The same, as the "caller" member that plugins built before ABI 1.2 read
 * from their arguments; NULL for no caller (or out of memory). */
static json_t *caller_member(const struct sesame_action_caller *info)
{
	if (info->kind == SESAME_CALLER_SYSTEM)
		return json_pack("{s:b}", "system", 1);
	if (info->kind == SESAME_CALLER_USER)
		return json_pack("{s:s, s:s, s:b}", "user_id", info->user_id, "type", info->user_type ?: "normal",
				 "anonymous", info->anonymous);
	return NULL;
}

/* Run the instance's action hook: action_as() with the typed caller when
 * the plugin has it, else action() with the caller inside the arguments.
 * Either way the client's own "caller" member is gone. */
static int run_action(struct sesame_instance *in, const struct sesame_action_caller *info, const char *name,
		      const json_t *args, json_t **out, sesame_error *err)
{
	bool typed = SESAME_HAS_FIELD(struct sesame_provider, action_as, in->desc->struct_size) && in->desc->action_as;
	json_t *copy = NULL, *who;
	int rc;

	if (typed && !json_object_get(args, "caller"))
		return in->desc->action_as(in->state, info, name, args, out, err);
	copy = json_deep_copy(args);
	if (!copy)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	json_object_del(copy, "caller");
	if (typed) {
		rc = in->desc->action_as(in->state, info, name, copy, out, err);
	} else {
		who = caller_member(info);
		if (info->kind != SESAME_CALLER_NONE && (!who || json_object_set_new(copy, "caller", who) != 0)) {
			json_decref(copy);
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		}
		rc = in->desc->action(in->state, name, copy, out, err);
	}
	json_decref(copy);
	return rc;
}

SESAME_API int sesame_provider_action_as(sesame_ctx *ctx, sesame_caller *caller, const char *provider, const char *name,
					 const json_t *args, json_t **result, sesame_error *err)
{
	struct sesame_action_caller info;
	struct sesame_instance *in;
	json_t *user = NULL, *out = NULL;
	int rc;

	err_clear(err);
	if (result)
		*result = NULL;
	if (!ctx || !ctx->configured || !provider || !name || (caller && caller->ctx != ctx))
		return seterr(err, SESAME_USAGE, "usage", "sesame_provider_action_as: bad arguments");
	if (!json_is_object(args))
		return seterr(err, SESAME_MALFORMED, "args", "the arguments must be a JSON object");
	in = ctx_instance(ctx, provider);
	if (!in || in->st == INSTANCE_DISABLED)
		return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider named \"%s\"", provider);
	if (in->st == INSTANCE_FAILED)
		return seterr(err, SESAME_UNAVAILABLE, "provider", "provider \"%s\" is unavailable: %s", provider,
			      in->cause);
	if (!(SESAME_HAS_FIELD(struct sesame_provider, action_as, in->desc->struct_size) && in->desc->action_as) &&
	    !(SESAME_HAS_FIELD(struct sesame_provider, action, in->desc->struct_size) && in->desc->action))
		return seterr(err, SESAME_NOT_FOUND, "action", "provider \"%s\" has no action \"%s\"", provider, name);
	rc = caller_info(caller, &info, &user, err);
	if (rc != SESAME_OK)
		return rc;
	err_set_source(err, provider);
	rc = run_action(in, &info, name, args, &out, err);
	json_decref(user);
	if (rc < SESAME_OK || rc > SESAME_USAGE)
		rc =
		    seterr(err, SESAME_INTERNAL, "provider", "provider %s returned an invalid status %d", provider, rc);
	else if (rc != SESAME_OK && err && err->text[0] == '\0')
		seterr(err, rc, NULL, "provider %s: %s", provider, sesame_status_name(rc));
	if (rc != SESAME_OK) {
		if (err)
			err->status = rc;
		json_decref(out);
		return rc;
	}
	if (result)
		*result = out;
	else
		json_decref(out);
	return SESAME_OK;
}

SESAME_API int sesame_provider_action(sesame_ctx *ctx, const char *provider, const char *name, const json_t *args,
				      json_t **result, sesame_error *err)
{
	/* An action with no caller: any "caller" member of `args` is removed,
	 * so nobody claims an identity inside JSON. */
	if (!result) {
		err_clear(err);
		return seterr(err, SESAME_USAGE, "usage", "sesame_provider_action: NULL result");
	}
	return sesame_provider_action_as(ctx, NULL, provider, name, args, result, err);
}

/* ---- sessions ------------------------------------------------------------- */

static int ctx_ready(sesame_ctx *ctx, sesame_error *err)
{
	err_clear(err);
	if (!ctx || !ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "the context is not configured");
	return SESAME_OK;
}

SESAME_API int sesame_session_refresh(sesame_ctx *ctx, const char *refresh_token, json_t **result, sesame_error *err)
{
	int rc = ctx_ready(ctx, err);

	if (result)
		*result = NULL;
	if (rc == SESAME_OK && !result)
		rc = seterr(err, SESAME_USAGE, "usage", "NULL result");
	return rc == SESAME_OK ? sessions_refresh(ctx, refresh_token, result, err) : rc;
}

SESAME_API int sesame_session_logout(sesame_ctx *ctx, const char *refresh_token, sesame_error *err)
{
	char *user_id = NULL;
	json_t *user = NULL;
	struct store *st;
	uint64_t left = 0;
	int rc = ctx_ready(ctx, err);

	if (rc == SESAME_OK)
		rc = sessions_logout(ctx, refresh_token, &user_id, err);
	if (rc != SESAME_OK)
		return rc;
	/* An anonymous user cannot log in again: with its last session gone it
	 * is unreachable, so it goes (as App Services does). */
	if (ctx_store(ctx, &st, err) == SESAME_OK && accounts_user_get(st, user_id, &user, err) == SESAME_OK &&
	    anonymous_only(ctx, user) &&
	    st->desc->sessions_count(st->h, NULL, user_id, ctx_now(ctx), &left, err) == SESAME_OK && left == 0 &&
	    accounts_delete(st, user_id, ctx_user_deleted, ctx, err) != SESAME_OK)
		log_msg(&ctx->log, SESAME_LOG_WARNING, "could not delete anonymous user %s after logout: %s", user_id,
			err ? err->text : "");
	json_decref(user);
	free(user_id);
	err_clear(err);
	return SESAME_OK;
}

SESAME_API int sesame_access_token_verify(sesame_ctx *ctx, const char *token, unsigned flags, json_t **claims,
					  sesame_error *err)
{
	int rc = ctx_ready(ctx, err);

	if (claims)
		*claims = NULL;
	if (rc == SESAME_OK && !claims)
		rc = seterr(err, SESAME_USAGE, "usage", "NULL claims");
	return rc == SESAME_OK ? sessions_verify_access(ctx, token, (flags & SESAME_VERIFY_SESSION) != 0, claims, err)
			       : rc;
}

SESAME_API json_t *sesame_jwks(sesame_ctx *ctx, sesame_error *err)
{
	return ctx_ready(ctx, err) == SESAME_OK ? sessions_jwks(ctx, err) : NULL;
}

SESAME_API int sesame_keys_rotate(sesame_ctx *ctx, json_t **result, sesame_error *err)
{
	char kid[SIGNING_KID_SIZE];
	int rc = ctx_ready(ctx, err);

	if (result)
		*result = NULL;
	if (rc == SESAME_OK)
		rc = signing_rotate(ctx, kid, err);
	if (rc != SESAME_OK)
		return rc;
	/* This context signs with the new key from now on; other processes
	 * notice the changed keys within seconds. */
	rc = sessions_reload(ctx, err);
	if (rc != SESAME_OK)
		return rc;
	if (result && !(*result = json_pack("{s:s}", "kid", kid)))
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

SESAME_API int sesame_active_sessions(sesame_ctx *ctx, uint64_t *count, sesame_error *err)
{
	struct store *st;
	int rc = ctx_ready(ctx, err);

	if (rc == SESAME_OK && !count)
		rc = seterr(err, SESAME_USAGE, "usage", "NULL count");
	if (rc == SESAME_OK)
		rc = ctx_store(ctx, &st, err);
	return rc == SESAME_OK ? st->desc->sessions_count(st->h, NULL, NULL, ctx_now(ctx), count, err) : rc;
}

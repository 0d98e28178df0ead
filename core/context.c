/*
 * core/context.c — the sesame context: configuration, provider instances
 * and the verification step of a login.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rules.h"

#define MAX_UID_LENGTH 255
#define MAX_IDENTITY_DATA (64 * 1024)
/* One step of sesame_clock_advance(): a century either way. */
#define MAX_CLOCK_STEP (100LL * 366 * 86400)

SESAME_API const char *sesame_version(void)
{
	return PACKAGE_VERSION;
}

SESAME_API sesame_ctx *sesame_new(void)
{
	sesame_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	if (pthread_mutex_init(&ctx->store_lock, NULL) != 0) {
		free(ctx);
		return NULL;
	}
	if (pthread_mutex_init(&ctx->sessions_lock, NULL) != 0) {
		pthread_mutex_destroy(&ctx->store_lock);
		free(ctx);
		return NULL;
	}
	log_init(&ctx->log);
	return ctx;
}

SESAME_API void sesame_set_logger(sesame_ctx *ctx, sesame_log_fn fn, void *data, int max_level)
{
	if (!ctx)
		return;
	ctx->log.fn = fn;
	ctx->log.data = data;
	ctx->log.max_level = max_level;
}

int64_t ctx_now(const struct sesame_ctx *ctx)
{
	return (int64_t)time(NULL) + atomic_load(&ctx->clock_offset);
}

SESAME_API int sesame_clock_advance(sesame_ctx *ctx, int64_t seconds, sesame_error *err)
{
	err_clear(err);
	if (!ctx || !ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "sesame_clock_advance: the context is not configured");
	if (!ctx->cfg.test_mode)
		return seterr(err, SESAME_USAGE, "test-mode", "the clock can only be moved in test mode");
	if (seconds > MAX_CLOCK_STEP || seconds < -MAX_CLOCK_STEP)
		return seterr(err, SESAME_USAGE, "usage", "the clock moves at most %lld seconds at a time",
			      (long long)MAX_CLOCK_STEP);
	atomic_fetch_add(&ctx->clock_offset, seconds);
	return SESAME_OK;
}

/* The capabilities a descriptor declares, as the core applies them: none
 * before ABI 1.2 (the field is read only when struct_size covers it),
 * unknown bits dropped, and an anonymous provider never linked. */
static unsigned descriptor_caps(const struct sesame_provider *desc)
{
	unsigned caps;

	if (!SESAME_HAS_FIELD(struct sesame_provider, capabilities, desc->struct_size))
		return 0;
	caps = desc->capabilities & SESAME_PROVIDER_CAP_ALL;
	if (caps & SESAME_PROVIDER_CAP_ANONYMOUS)
		caps |= SESAME_PROVIDER_CAP_NO_LINK;
	return caps;
}

static void instance_start(sesame_ctx *ctx, struct sesame_instance *in, const struct provider_conf *pc)
{
	sesame_error e;
	int rc;

	in->ctx = ctx;
	in->conf = pc;
	if (pc->disabled) {
		in->st = INSTANCE_DISABLED;
		return;
	}
	err_clear(&e);
	rc = loader_load_provider(ctx->cfg.plugin_dir, pc->type, &ctx->log, &in->desc, &in->plugin_path, &e);
	if (rc == SESAME_OK) {
		/* The plugin sees its "config" object only: metadata_fields are
		 * the core's (see core/metadata.c). */
		json_t *config = json_deep_copy(pc->config);

		in->caps = descriptor_caps(in->desc);
		err_clear(&e);
		rc = config ? in->desc->init(&host_services, in, config, &in->state, &e) : SESAME_INTERNAL;
		json_decref(config);
		if (rc != SESAME_OK && e.text[0] == '\0')
			seterr(&e, rc, "init", "initialisation failed");
		if (rc != SESAME_OK && e.line == 0) {
			char text[SESAME_ERROR_TEXT_LENGTH];

			/* The type, not the plugin's path: the path is in the
			 * log line of a load failure, and long paths would cut
			 * the plugin's own words short. */
			snprintf(text, sizeof(text), "%s init: %s", pc->type, e.text);
			memcpy(e.text, text, sizeof(text));
		}
		if (rc != SESAME_OK)
			in->desc = NULL;
	}
	if (rc != SESAME_OK) {
		in->st = INSTANCE_FAILED;
		memcpy(in->cause, e.text, sizeof(in->cause));
		/* The plugin named the place in the drop-in (config_error()):
		 * FILE:LINE:COL first, as every configuration error; else the
		 * drop-in that asked, then what failed. */
		if (e.line > 0)
			snprintf(in->error, sizeof(in->error), "%s (plugin %s)", e.text,
				 in->plugin_path ? in->plugin_path : pc->type);
		else
			snprintf(in->error, sizeof(in->error), "%s: %s", pc->source, e.text);
		log_msg(&ctx->log, SESAME_LOG_ERR, "provider \"%s\" (type %s) is unavailable: %s", pc->name, pc->type,
			in->error);
		return;
	}
	in->st = INSTANCE_READY;
	log_msg(&ctx->log, SESAME_LOG_INFO, "provider \"%s\" (type %s, plugin %s %s) ready", pc->name, pc->type,
		in->plugin_path, in->desc->version);
}

static void instances_stop(sesame_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->n_instances; i++) {
		struct sesame_instance *in = &ctx->instances[i];

		if (in->st == INSTANCE_READY)
			in->desc->fini(in->state);
		free(in->plugin_path);
	}
	free(ctx->instances);
	ctx->instances = NULL;
	ctx->n_instances = 0;
}

SESAME_API int sesame_configure(sesame_ctx *ctx, const char *path, unsigned flags, sesame_error *err)
{
	size_t i, enabled = 0, ready = 0;
	int rc;

	err_clear(err);
	if (!ctx)
		return seterr(err, SESAME_USAGE, "usage", "sesame_configure: NULL context");
	if (ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "sesame_configure: context already configured");
	rc = config_load(&ctx->cfg, path, (!path && !(flags & SESAME_CONFIGURE_NO_DEFAULT_FILE)) ? CONFIG_MAIN_OPTIONAL : 0,
			 &ctx->log, err);
	if (rc != SESAME_OK)
		return rc;
	if (ctx->cfg.n_providers > 0) {
		ctx->instances = calloc(ctx->cfg.n_providers, sizeof(*ctx->instances));
		if (!ctx->instances) {
			config_free(&ctx->cfg);
			return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
		}
	}
	ctx->n_instances = ctx->cfg.n_providers;
	for (i = 0; i < ctx->n_instances; i++) {
		instance_start(ctx, &ctx->instances[i], &ctx->cfg.providers[i]);
		enabled += ctx->instances[i].st != INSTANCE_DISABLED;
		ready += ctx->instances[i].st == INSTANCE_READY;
	}
	if (enabled == 0 || ready == 0) {
		char dirs[160] = "";

		for (i = 0; i < ctx->cfg.n_provider_dirs; i++) {
			size_t used = strlen(dirs);

			snprintf(dirs + used, sizeof(dirs) - used, "%s%s", i ? ", " : "", ctx->cfg.provider_dirs[i]);
		}
		if (enabled == 0)
			rc = seterr(err, SESAME_CONFIG, "no-provider",
				    "no enabled provider: no client could ever log in; add a NAME.json drop-in to one of %s",
				    dirs);
		else
			rc = seterr(err, SESAME_CONFIG, "no-provider",
				    "none of the %zu enabled providers could be started (see the errors above)", enabled);
		instances_stop(ctx);
		config_free(&ctx->cfg);
		return rc;
	}
	/* A bad rule file denies every decision on its namespace (its error
	 * is logged and listed by sesame_rules_json()); the rest works. */
	ctx->rules = calloc(1, sizeof(*ctx->rules));
	if (!ctx->rules) {
		instances_stop(ctx);
		config_free(&ctx->cfg);
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	{
		sesame_error rerr;

		rules_load(ctx->rules, &ctx->cfg, &ctx->log, &rerr);
	}
	ctx->configured = true;
	return SESAME_OK;
}

SESAME_API void sesame_free(sesame_ctx *ctx)
{
	if (!ctx)
		return;
	ctx_sessions_close(ctx);
	pthread_mutex_destroy(&ctx->sessions_lock);
	store_close(&ctx->store);
	pthread_mutex_destroy(&ctx->store_lock);
	instances_stop(ctx);
	if (ctx->rules)
		rules_free(ctx->rules);
	free(ctx->rules);
	config_free(&ctx->cfg);
	free(ctx);
}

SESAME_API json_t *sesame_config_json(const sesame_ctx *ctx, unsigned flags)
{
	if (!ctx || !ctx->configured)
		return NULL;
	return config_to_json(&ctx->cfg, (flags & SESAME_CONFIG_SHOW_SECRETS) != 0);
}

static const char *state_name(enum instance_state st)
{
	return st == INSTANCE_READY ? "ready" : st == INSTANCE_DISABLED ? "disabled" : "failed";
}

/* The names of the capability flags in sesame_providers_json(). */
static const struct {
	unsigned flag;
	const char *name;
} cap_names[] = {
	{SESAME_PROVIDER_CAP_ANONYMOUS, "anonymous"},
	{SESAME_PROVIDER_CAP_NO_LINK, "no-link"},
	{SESAME_PROVIDER_CAP_ONE_PER_USER, "one-per-user"},
	{SESAME_PROVIDER_CAP_EMAIL_PASSWORD, "email-password"},
	{SESAME_PROVIDER_CAP_API_KEYS, "api-keys"},
	{SESAME_PROVIDER_CAP_WEB_REDIRECT, "web-redirect"},
};

/* "anonymous,no-link" for messages; unknown bits as one hex number. */
static const char *caps_text(unsigned caps, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(cap_names) && used < size; i++)
		if (caps & cap_names[i].flag)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "", cap_names[i].name);
	if ((caps & ~(unsigned)SESAME_PROVIDER_CAP_ALL) && used < size)
		snprintf(buf + used, size - used, "%s0x%x", used ? "," : "", caps & ~(unsigned)SESAME_PROVIDER_CAP_ALL);
	return buf;
}

static json_t *caps_json(unsigned caps)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list && i < ARRAY_SIZE(cap_names); i++)
		if ((caps & cap_names[i].flag) && json_array_append_new(list, json_string(cap_names[i].name)) != 0) {
			json_decref(list);
			return NULL;
		}
	return list;
}

SESAME_API json_t *sesame_providers_json(const sesame_ctx *ctx)
{
	json_t *list;
	size_t i;

	if (!ctx || !ctx->configured)
		return NULL;
	list = json_array();
	for (i = 0; list && i < ctx->n_instances; i++) {
		const struct sesame_instance *in = &ctx->instances[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:s}", "name", in->conf->name, "type", in->conf->type,
				      "enabled", in->st != INSTANCE_DISABLED, "state", state_name(in->st), "source",
				      in->conf->source);

		if (!o)
			continue;
		json_object_set_new(o, "capabilities", caps_json(in->caps));
		json_object_set_new(o, "plugin", in->plugin_path ? json_string(in->plugin_path) : json_null());
		if (in->desc) {
			json_object_set_new(o, "version", json_string(in->desc->version));
			json_object_set_new(o, "description", json_string(in->desc->description));
		}
		if (in->st == INSTANCE_FAILED)
			json_object_set_new(o, "error", json_string(in->error));
		json_array_append_new(list, o);
	}
	return list;
}

int ctx_store(sesame_ctx *ctx, struct store **st, sesame_error *err)
{
	sesame_error e;
	int rc = SESAME_OK;

	*st = NULL;
	if (!ctx->configured)
		return seterr(err, SESAME_USAGE, "usage", "the context is not configured");
	pthread_mutex_lock(&ctx->store_lock);
	if (!ctx->store_open) {
		err_clear(&e);
		rc = store_open(&ctx->store, ctx->cfg.store_dir, ctx->cfg.store, &ctx->log, &e);
		if (rc == SESAME_OK)
			ctx->store_open = true;
		else
			log_msg(&ctx->log, SESAME_LOG_ERR, "the store is unavailable: %s", e.text);
	}
	pthread_mutex_unlock(&ctx->store_lock);
	if (rc != SESAME_OK) {
		if (err)
			*err = e;
		return rc;
	}
	*st = &ctx->store;
	return SESAME_OK;
}

static int instance_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct sesame_instance *)elem)->conf->name);
}

struct sesame_instance *ctx_instance(sesame_ctx *ctx, const char *name)
{
	if (!name)
		return NULL;
	return bsearch(name, ctx->instances, ctx->n_instances, sizeof(*ctx->instances), instance_cmp);
}

unsigned ctx_instance_caps(sesame_ctx *ctx, const char *name)
{
	const struct sesame_instance *in = ctx_instance(ctx, name);

	return in ? in->caps : 0;
}

SESAME_API int sesame_provider_capabilities(sesame_ctx *ctx, const char *provider, unsigned *caps, sesame_error *err)
{
	const struct sesame_instance *in;

	err_clear(err);
	if (!ctx || !ctx->configured || !provider || !caps)
		return seterr(err, SESAME_USAGE, "usage", "sesame_provider_capabilities: bad arguments");
	*caps = 0;
	in = ctx_instance(ctx, provider);
	if (!in || in->st == INSTANCE_DISABLED)
		return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider named \"%.128s\"", provider);
	*caps = in->caps;
	return SESAME_OK;
}

SESAME_API int sesame_provider_find(sesame_ctx *ctx, unsigned caps, const char **provider, sesame_error *err)
{
	char names[128];
	size_t i;

	err_clear(err);
	if (provider)
		*provider = NULL;
	if (!ctx || !ctx->configured || !provider || caps == 0)
		return seterr(err, SESAME_USAGE, "usage", "sesame_provider_find: bad arguments");
	/* ctx->instances is sorted by name: the first match is the first by name. */
	for (i = 0; i < ctx->n_instances; i++) {
		const struct sesame_instance *in = &ctx->instances[i];

		if (in->st != INSTANCE_DISABLED && (in->caps & caps) == caps) {
			*provider = in->conf->name;
			return SESAME_OK;
		}
	}
	return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider has the capabilities %s",
		      caps_text(caps, names, sizeof(names)));
}

/* The core does not trust what a plugin returns: re-check its shape, once
 * (the typed identity that comes out is not checked again). */
static int check_identity(const struct sesame_instance *in, json_t *id, sesame_error *err)
{
	json_t *uid = json_object_get(id, "id"), *data = json_object_get(id, "data");
	json_t *priv = json_object_get(id, "private");
	const char *key;
	json_t *v;

	if (!json_is_object(id))
		return seterr(err, SESAME_INTERNAL, "identity", "provider %s returned an identity that is not an object",
			      in->conf->name);
	json_object_foreach(id, key, v) {
		if (strcmp(key, "id") != 0 && strcmp(key, "data") != 0 && strcmp(key, "private") != 0)
			return seterr(err, SESAME_INTERNAL, "identity",
				      "provider %s returned an identity with an unknown member \"%s\"", in->conf->name,
				      key);
	}
	if (!json_is_string(uid) || json_string_length(uid) == 0 || json_string_length(uid) > MAX_UID_LENGTH ||
	    strlen(json_string_value(uid)) != json_string_length(uid))
		return seterr(err, SESAME_INTERNAL, "identity",
			      "provider %s returned an identity id that is not a string of 1 to %d bytes without NUL",
			      in->conf->name, MAX_UID_LENGTH);
	if ((data && !json_is_object(data)) || (priv && !json_is_object(priv)))
		return seterr(err, SESAME_INTERNAL, "identity",
			      "provider %s returned identity data or private data that is not an object", in->conf->name);
	return SESAME_OK;
}

/* Bytes of `v` as compact JSON (measured by jansson without building the
 * text), SIZE_MAX when it cannot be encoded. */
static size_t json_size(const json_t *v)
{
	return util_json_length(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The provider's default metadata (ABI 1.2), or NULL: keep everything. */
static const char *const *metadata_defaults(const struct sesame_instance *in)
{
	if (!SESAME_HAS_FIELD(struct sesame_provider, metadata_defaults, in->desc->struct_size))
		return NULL;
	return in->desc->metadata_defaults;
}

int ctx_identity_metadata(const struct sesame_instance *in, const json_t *data, json_t **kept, sesame_error *err)
{
	int rc = metadata_keep(in->conf->metadata, metadata_defaults(in), data, &in->ctx->log, in->conf->name, kept,
			       err);

	/* What is kept is stored: bounded, whatever a credential carried. */
	if (rc == SESAME_OK && json_size(*kept) > MAX_IDENTITY_DATA) {
		json_decref(*kept);
		*kept = NULL;
		rc = seterr(err, SESAME_REJECTED, "claim", "the profile data of this login is larger than %d bytes",
			    MAX_IDENTITY_DATA);
	}
	return rc;
}

void identity_clear(struct identity *id)
{
	json_decref(id->data);
	json_decref(id->priv);
	json_decref(id->hold);
	memset(id, 0, sizeof(*id));
}

int ctx_verify(sesame_ctx *ctx, const char *provider, const json_t *credential, struct identity *out,
	       sesame_error *err)
{
	struct sesame_instance *in;
	json_t *id = NULL, *data = NULL, *priv;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ctx || !ctx->configured || !provider || !credential)
		return seterr(err, SESAME_USAGE, "usage", "sesame_verify_credential: bad arguments");
	in = ctx_instance(ctx, provider);
	if (!in || in->st == INSTANCE_DISABLED)
		return seterr(err, SESAME_NOT_FOUND, "provider", "no enabled provider named \"%s\"", provider);
	err_set_source(err, provider);
	if (in->st == INSTANCE_FAILED)
		return seterr(err, SESAME_UNAVAILABLE, "provider", "provider \"%s\" is unavailable: %s", provider,
			      in->cause);
	if (!json_is_object(credential))
		return seterr(err, SESAME_MALFORMED, "credential", "the credential must be a JSON object");

	rc = in->desc->verify(in->state, credential, &id, err);
	if (rc == SESAME_OK)
		rc = id ? check_identity(in, id, err)
			: seterr(err, SESAME_INTERNAL, "identity", "provider %s returned no identity", provider);
	else if (rc < SESAME_REJECTED || rc > SESAME_INTERNAL)
		rc = seterr(err, SESAME_INTERNAL, "provider", "provider %s returned an invalid status %d", provider, rc);
	else if (err && err->text[0] == '\0')
		seterr(err, rc, NULL, "provider %s: %s", provider, sesame_status_name(rc));
	/* Decided here, once per login: which profile fields are kept. */
	if (rc == SESAME_OK)
		rc = ctx_identity_metadata(in, json_object_get(id, "data"), &data, err);
	priv = json_object_get(id, "private");
	if (rc == SESAME_OK && priv && json_size(priv) > MAX_IDENTITY_DATA)
		rc = seterr(err, SESAME_INTERNAL, "identity", "provider %s returned private data larger than %d bytes",
			    provider, MAX_IDENTITY_DATA);
	/* A reference of our own either way: the provider's, or an empty object. */
	priv = priv ? json_incref(priv) : rc == SESAME_OK ? json_object() : NULL;
	if (rc == SESAME_OK && !priv)
		rc = seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	if (err && rc != SESAME_OK)
		err->status = rc;
	if (rc != SESAME_OK) {
		json_decref(priv);
		json_decref(data);
		json_decref(id);
		return rc;
	}
	out->provider = in->conf->name;
	out->type = in->conf->type;
	out->uid = json_string_value(json_object_get(id, "id"));
	out->data = data;
	out->priv = priv;
	out->hold = id;
	return SESAME_OK;
}

SESAME_API int sesame_verify_credential(sesame_ctx *ctx, const char *provider, const json_t *credential,
					json_t **identity, sesame_error *err)
{
	struct identity id;
	json_t *out;
	int rc;

	err_clear(err);
	if (identity)
		*identity = NULL;
	if (!identity)
		return seterr(err, SESAME_USAGE, "usage", "sesame_verify_credential: bad arguments");
	rc = ctx_verify(ctx, provider, credential, &id, err);
	if (rc != SESAME_OK)
		return rc;
	out = json_pack("{s:s, s:s, s:s, s:O, s:O}", "provider", id.provider, "provider_type", id.type, "id", id.uid,
			"data", id.data, "private", id.priv);
	identity_clear(&id);
	if (!out)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	*identity = out;
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

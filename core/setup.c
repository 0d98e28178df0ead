/* SPDX-License-Identifier: MIT */
/*
 * core/setup.c — creating, configuring and freeing a context: the
 * configuration, the provider instances started with the host services
 * (core/host.c), the rule files, and what the context reports of them.
 * The files below it (context.c, host.c, sessions.c, rules.c) never call
 * back into this one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rules.h"

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
	rc = config_load(&ctx->cfg, path,
			 (!path && !(flags & SESAME_CONFIGURE_NO_DEFAULT_FILE)) ? CONFIG_MAIN_OPTIONAL : 0, &ctx->log,
			 err);
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
			rc = seterr(
			    err, SESAME_CONFIG, "no-provider",
			    "no enabled provider: no client could ever log in; add a NAME.json drop-in to one of %s",
			    dirs);
		else
			rc = seterr(err, SESAME_CONFIG, "no-provider",
				    "none of the %zu enabled providers could be started (see the errors above)",
				    enabled);
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

SESAME_API json_t *sesame_providers_json(const sesame_ctx *ctx)
{
	json_t *list;
	size_t i;

	if (!ctx || !ctx->configured)
		return NULL;
	list = json_array();
	for (i = 0; list && i < ctx->n_instances; i++) {
		const struct sesame_instance *in = &ctx->instances[i];
		json_t *o =
		    json_pack("{s:s, s:s, s:b, s:s, s:s}", "name", in->conf->name, "type", in->conf->type, "enabled",
			      in->st != INSTANCE_DISABLED, "state", state_name(in->st), "source", in->conf->source);

		if (!o)
			continue;
		json_object_set_new(o, "capabilities", ctx_caps_json(in->caps));
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

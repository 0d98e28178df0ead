/*
 * core/loader.c — loading plugins: provider plugins here, and the checks
 * every plugin kind shares (loader_open(), used by core/store.c too).
 *
 * Only the types the configuration names are loaded, only from the
 * configured plugin directory, only when the directory chain is safe, and
 * only when the descriptor's ABI major matches.  Plugins are never
 * dlclose()d: OpenSSL's and libcurl's atexit handlers would run in unmapped
 * code.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MAX_TYPE 64

int loader_fail(sesame_error *err, const char *path, const char *reason, const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return seterr_at(err, SESAME_UNAVAILABLE, reason, path, 0, 0, "%s", msg);
}

static int check_descriptor(const struct sesame_provider *d, const char *type, const char *path, sesame_error *err)
{
	if (SESAME_ABI_MAJOR_OF(d->abi_version) != SESAME_PROVIDER_ABI_MAJOR)
		return loader_fail(err, path, "abi", "provider ABI major %u, this sesame speaks major %u",
				   (unsigned)SESAME_ABI_MAJOR_OF(d->abi_version), (unsigned)SESAME_PROVIDER_ABI_MAJOR);
	if (d->struct_size < SESAME_PROVIDER_MIN_SIZE)
		return loader_fail(err, path, "abi",
				   "descriptor struct_size %u is smaller than the ABI 1.0 minimum %zu",
				   (unsigned)d->struct_size, (size_t)SESAME_PROVIDER_MIN_SIZE);
	if (!d->type || strcmp(d->type, type) != 0)
		return loader_fail(err, path, "descriptor",
				   "descriptor type \"%s\" does not match the file name \"%s\"",
				   d->type ? d->type : "(null)", type);
	if (!d->init || !d->verify || !d->fini)
		return loader_fail(err, path, "descriptor",
				   "descriptor lacks a required function (init, verify, fini)");
	if (!d->version || !d->description)
		return loader_fail(err, path, "descriptor", "descriptor lacks its version or description string");
	return SESAME_OK;
}

int loader_open(const char *dir, const char *kind, const char *type, const char *symbol, const void **entry,
		char **pathp, sesame_error *err)
{
	const void *sym;
	size_t n;
	char *path;
	void *h;
	int rc;

	*entry = NULL;
	*pathp = NULL;
	if (!util_valid_type_name(type, MAX_TYPE))
		return seterr(err, SESAME_UNAVAILABLE, "name",
			      "%s type \"%s\" must match [a-z0-9][a-z0-9_-]* (at most %d characters)", kind, type,
			      MAX_TYPE);
	if (dir[0] != '/')
		return seterr(err, SESAME_UNAVAILABLE, "path", "%s plugin directory %s is not an absolute path", kind,
			      dir);
	n = strlen(dir) + strlen(type) + 5;
	path = malloc(n);
	if (!path)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	snprintf(path, n, "%s/%s.so", dir, type);
	*pathp = path;

	if (access(path, F_OK) != 0)
		return loader_fail(err, path, "file", "no plugin for %s type \"%s\" (file not found)", kind, type);
	rc = util_check_path_chain(path, geteuid(), err);
	if (rc != SESAME_OK)
		return loader_fail(err, path, "permissions", "refusing to load: %s", err ? err->text : "unsafe path");

	dlerror();
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();

		return loader_fail(err, path, "dlopen", "cannot load: %s", why ? why : "unknown error");
	}
	sym = dlsym(h, symbol);
	if (!sym)
		return loader_fail(err, path, "symbol", "no \"%s\" symbol: not a sesame %s plugin", symbol, kind);
	*entry = sym;
	return SESAME_OK;
}

int loader_load_provider(const char *dir, const char *type, const struct sesame_provider **desc, char **pathp,
			 sesame_error *err)
{
	const void *entry;
	int rc;

	*desc = NULL;
	rc = loader_open(dir, "provider", type, SESAME_PROVIDER_ENTRY_SYMBOL, &entry, pathp, err);
	if (rc != SESAME_OK)
		return rc;
	rc = check_descriptor(entry, type, *pathp, err);
	if (rc != SESAME_OK)
		return rc;
	*desc = entry;
	return SESAME_OK;
}

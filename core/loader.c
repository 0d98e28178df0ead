/* SPDX-License-Identifier: MIT */
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
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MAX_TYPE 64
/* How many extra symbol names a warning lists before "...". */
#define MAX_LISTED_EXPORTS 8

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

/* A pointer from the dynamic section: glibc relocates most d_ptr values in
 * place, but not where the section is read-only (MIPS, RISC-V). */
static const void *dyn_ptr(const struct link_map *lm, ElfW(Addr) p)
{
	return (const void *)(p < lm->l_addr ? p + lm->l_addr : p);
}

/* The number of entries of the dynamic symbol table, from DT_HASH's nchain
 * (Elf_Symndx: 64 bits on some targets) or by walking DT_GNU_HASH to the
 * end of its last chain; 0 if neither. */
static size_t dynsym_count(const Elf_Symndx *hash, const uint32_t *gnu)
{
	uint32_t nbuckets, symoffset, bloom_size, last = 0, i;
	const uint32_t *buckets, *chain;

	if (hash)
		return hash[1];
	if (!gnu)
		return 0;
	nbuckets = gnu[0];
	symoffset = gnu[1];
	bloom_size = gnu[2];
	buckets = (const uint32_t *)((const ElfW(Addr) *)(gnu + 4) + bloom_size);
	chain = buckets + nbuckets;
	for (i = 0; i < nbuckets; i++)
		if (buckets[i] > last)
			last = buckets[i];
	if (last < symoffset)
		return symoffset;
	while (!(chain[last - symoffset] & 1))
		last++;
	return (size_t)last + 1;
}

/* Names a plugin may define besides its entry symbol: what the toolchain
 * puts in every shared object, and AddressSanitizer's one-definition-rule
 * indicators, which come with each exported variable (the entry symbol's
 * too, in a sanitizer build). */
static bool toolchain_symbol(const char *name)
{
	static const char *const names[] = {"_init", "_fini", "_edata", "_end", "__bss_start"};
	size_t i;

	if (strncmp(name, "__odr_asan.", strlen("__odr_asan.")) == 0)
		return true;
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * Warn when the object exports more than `symbol`: every other global
 * symbol of a plugin can clash with the symbols of the core, of the
 * libraries it loads and of the other plugins (the first definition wins
 * for every object that binds lazily by name), and is a sign of a build
 * without -fvisibility=hidden or an export list.  Reads the dynamic symbol
 * table the dynamic linker mapped; nothing is loaded or run.
 */
static void warn_extra_exports(void *h, const char *path, const char *kind, const char *symbol, const struct logger *lg)
{
	const Elf_Symndx *hash = NULL;
	const uint32_t *gnu = NULL;
	const ElfW(Sym) *syms = NULL;
	const char *strtab = NULL;
	struct link_map *lm = NULL;
	const ElfW(Dyn) * d;
	char list[512] = "";
	size_t n, i, extra = 0, used = 0;

	if (!lg || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_ld)
		return;
	for (d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			syms = dyn_ptr(lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			strtab = dyn_ptr(lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_HASH)
			hash = dyn_ptr(lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_GNU_HASH)
			gnu = dyn_ptr(lm, d->d_un.d_ptr);
	}
	if (!syms || !strtab)
		return;
	n = dynsym_count(hash, gnu);
	for (i = 1; i < n; i++) {
		const ElfW(Sym) *s = &syms[i];
		/* ELF64_ST_BIND and _TYPE are defined as the ELF32 ones. */
		unsigned bind = ELF32_ST_BIND(s->st_info), type = ELF32_ST_TYPE(s->st_info);
		const char *name = strtab + s->st_name;

		if (s->st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) ||
		    type == STT_SECTION || type == STT_FILE || name[0] == '\0' || strcmp(name, symbol) == 0 ||
		    toolchain_symbol(name))
			continue;
		/* A version definition (a named node of a version script) is an
		 * absolute symbol of size and value 0, not code or data. */
		if (s->st_shndx == SHN_ABS && s->st_value == 0 && s->st_size == 0)
			continue;
		if (extra++ < MAX_LISTED_EXPORTS && used < sizeof(list)) {
			snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", name);
			used = strlen(list);
		}
	}
	if (extra > 0)
		log_msg(lg, SESAME_LOG_WARNING,
			"%s: %s plugin exports %zu symbol(s) besides %s: %s%s; build it with -fvisibility=hidden or an "
			"export list so that it exports %s alone",
			path, kind, extra, symbol, list, extra > MAX_LISTED_EXPORTS ? ", ..." : "", symbol);
}

int loader_open(const char *dir, const char *kind, const char *type, const char *symbol, const struct logger *lg,
		const void **entry, char **pathp, sesame_error *err)
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
	warn_extra_exports(h, path, kind, symbol, lg);
	sym = dlsym(h, symbol);
	if (!sym)
		return loader_fail(err, path, "symbol", "no \"%s\" symbol: not a sesame %s plugin", symbol, kind);
	*entry = sym;
	return SESAME_OK;
}

int loader_load_provider(const char *dir, const char *type, const struct logger *lg,
			 const struct sesame_provider **desc, char **pathp, sesame_error *err)
{
	const void *entry;
	int rc;

	*desc = NULL;
	rc = loader_open(dir, "provider", type, SESAME_PROVIDER_ENTRY_SYMBOL, lg, &entry, pathp, err);
	if (rc != SESAME_OK)
		return rc;
	rc = check_descriptor(entry, type, *pathp, err);
	if (rc != SESAME_OK)
		return rc;
	*desc = entry;
	return SESAME_OK;
}

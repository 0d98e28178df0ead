/* SPDX-License-Identifier: MIT */
/*
 * core/rules.c — role-based rules: the policy decision point.  Rule files
 * (rules.d/DATABASE.COLLECTION.json, default.json) in App Services' format
 * are read from drop-in directories, validated and compiled once; a
 * decision tries the roles in order, takes the first whose apply_when
 * holds and answers what the user may do to one document, field by field;
 * a filter answers the same for a whole collection as a MongoDB query.
 *
 * How the hosted service's semantics are read here (sesame-rules(5) says
 * it for rule authors):
 * - a document filter that is not given does not restrict; the write
 *   filter also grants reading (write implies read);
 * - a field is readable when the document-level read or write, the
 *   field's read or write (embedded fields inherit their parent's) or,
 *   for fields the role does not list, additional_fields grants it;
 *   writable when the document-level write, the field's write or
 *   additional_fields' write grants it;
 * - read needs some grant to read; write needs some grant to write, and
 *   every field the write changes or removes must be writable; insert and
 *   delete (true by default) need every field of the document writable;
 *   search needs search (true by default) and read;
 * - for a write the role is chosen on the stored document (prev), so no
 *   one picks a role by what it writes, and the write document filter
 *   must hold before and after; permissions see %%root = the new
 *   document, %%prevRoot = prev;
 * - a "filters" entry whose apply_when holds restricts read, write,
 *   delete and search to the documents its query selects, and its
 *   projection hides fields from the returned document.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* ---- rule files ------------------------------------------------------------ */

struct loader {
	struct ruleset *rs;
	struct doc d;
	struct seg path[RULES_MAX_DEPTH * 4 + 16];
	size_t depth;
	sesame_error *err;
};

static int lerr(struct loader *l, const char *reason, const char *fmt, ...) SESAME_PRINTF(3, 4);

static int lerr(struct loader *l, const char *reason, const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return doc_error(l->err, &l->d, l->path, l->depth, reason, "%s", msg);
}

static int enter(struct loader *l, const char *key, size_t index)
{
	if (l->depth >= ARRAY_SIZE(l->path))
		return lerr(l, "depth", "nested deeper than %d levels", RULES_MAX_DEPTH);
	l->path[l->depth].key = key;
	l->path[l->depth].index = index;
	l->depth++;
	return SESAME_OK;
}

/* Refuse members of `obj` not in `known` (the hosted service's "id" and
 * "_id" are accepted everywhere and ignored). */
static int check_keys(struct loader *l, const json_t *obj, const char *const *known, const char *what)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		const char *const *k;

		if (strcmp(key, "id") == 0 || strcmp(key, "_id") == 0)
			continue;
		for (k = known; *k && strcmp(*k, key) != 0; k++)
			;
		if (*k)
			continue;
		enter(l, key, 0);
		return lerr(l, "unknown-key", "unknown key \"%s\" in %s", key, what);
	}
	return SESAME_OK;
}

static char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* Compile member `key` of `obj` (absent: *out stays NULL) as an expression. */
static int expr_member(struct loader *l, const json_t *obj, const char *key, unsigned allow, const char *where,
		       struct rnode **out)
{
	const json_t *v = json_object_get(obj, key);
	struct rx_compiler c = {.d = &l->d, .arena = &l->rs->arena, .mode = RX_RULE, .allow = allow, .err = l->err};
	char label[160];
	int rc;

	*out = NULL;
	if (!v)
		return SESAME_OK;
	snprintf(label, sizeof(label), "%s%s%s", where, where[0] ? "." : "", key);
	c.where = label;
	memcpy(c.path, l->path, l->depth * sizeof(*l->path));
	c.depth = l->depth;
	c.path[c.depth].key = key;
	c.path[c.depth].index = 0;
	c.depth++;
	rc = rx_compile(&c, v, out);
	if (rc != SESAME_OK && l->err)
		l->err->status = SESAME_CONFIG;
	return rc == SESAME_OK ? SESAME_OK : SESAME_CONFIG;
}

static bool valid_field_name(const char *s)
{
	return s[0] && s[0] != '$' && !strchr(s, '.') && strlen(s) <= RULES_MAX_NAME;
}

static int load_fields(struct loader *l, const json_t *obj, const struct rpath *parent, unsigned level,
		       const char *where, struct field_perm **out, size_t *n);

static int load_field(struct loader *l, const char *name, const json_t *v, const struct rpath *parent, unsigned level,
		      const char *where, struct field_perm *fp)
{
	static const char *const known[] = {"read", "write", "fields", NULL};
	const unsigned allow = RX_USER | RX_DOC | RX_FIELD;
	char label[160];
	size_t i;
	int rc;

	if (!valid_field_name(name))
		return lerr(l, "type",
			    "field name \"%s\": expected a name without '.' that does not start with '$' (write "
			    "embedded fields in the field's own \"fields\")",
			    name);
	if (!json_is_object(v))
		return lerr(l, "type", "field \"%s\": expected an object {\"read\", \"write\", \"fields\"}", name);
	if ((rc = check_keys(l, v, known, "a field's permissions")) != SESAME_OK)
		return rc;
	fp->name = arena_strdup(&l->rs->arena, name);
	fp->path.n = parent->n + 1;
	fp->path.segs = arena_alloc(&l->rs->arena, fp->path.n * sizeof(*fp->path.segs));
	if (!fp->name || !fp->path.segs)
		return seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
	for (i = 0; i < parent->n; i++)
		fp->path.segs[i] = parent->segs[i];
	fp->path.segs[parent->n].name = fp->name;
	fp->path.segs[parent->n].len = strlen(fp->name);
	fp->path.segs[parent->n].index = -1;
	snprintf(label, sizeof(label), "%s.%s", where, name);
	if ((rc = expr_member(l, v, "read", allow, label, &fp->read)) != SESAME_OK ||
	    (rc = expr_member(l, v, "write", allow, label, &fp->write)) != SESAME_OK)
		return rc;
	if (json_object_get(v, "fields")) {
		if ((rc = enter(l, "fields", 0)) != SESAME_OK)
			return rc;
		snprintf(label, sizeof(label), "%s.%s.fields", where, name);
		rc = load_fields(l, json_object_get(v, "fields"), &fp->path, level + 1, label, &fp->fields,
				 &fp->n_fields);
		if (rc != SESAME_OK)
			return rc;
		l->depth--;
	}
	return SESAME_OK;
}

static int load_fields(struct loader *l, const json_t *obj, const struct rpath *parent, unsigned level,
		       const char *where, struct field_perm **out, size_t *n)
{
	const char *key;
	json_t *v;
	int rc;

	*out = NULL;
	*n = 0;
	if (level > RULES_MAX_DEPTH)
		return lerr(l, "depth", "field permissions nested deeper than %d levels", RULES_MAX_DEPTH);
	if (!json_is_object(obj))
		return lerr(l, "type", "\"fields\": expected an object of field name -> {\"read\", \"write\"}");
	if (json_object_size(obj) == 0)
		return SESAME_OK;
	*out = arena_alloc(&l->rs->arena, json_object_size(obj) * sizeof(**out));
	if (!*out)
		return seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
	json_object_foreach ((json_t *)obj, key, v) {
		if ((rc = enter(l, key, 0)) != SESAME_OK)
			return rc;
		rc = load_field(l, key, v, parent, level, where, &(*out)[*n]);
		if (rc != SESAME_OK)
			return rc;
		l->depth--;
		(*n)++;
	}
	return SESAME_OK;
}

static int load_name(struct loader *l, const json_t *obj, const char *what, char **out)
{
	const json_t *v = json_object_get(obj, "name");

	if (!v)
		return lerr(l, "missing", "%s needs a \"name\"", what);
	enter(l, "name", 0);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > RULES_MAX_NAME ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return lerr(l, "type", "\"name\": expected a string of 1 to %d characters", RULES_MAX_NAME);
	l->depth--;
	*out = arena_strdup(&l->rs->arena, json_string_value(v));
	return *out ? SESAME_OK : seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
}

static int load_role(struct loader *l, const json_t *v, struct role *r)
{
	static const char *const known[] = {"name",   "apply_when", "document_filters", "read",	  "write",
					    "insert", "delete",	    "search",		"fields", "additional_fields",
					    NULL};
	static const char *const filter_keys[] = {"read", "write", NULL};
	static const struct rpath top = {NULL, 0};
	const unsigned allow = RX_USER | RX_DOC;
	const json_t *m;
	char where[160];
	int rc;

	if (!json_is_object(v))
		return lerr(l, "type", "a role must be an object");
	if ((rc = check_keys(l, v, known, "a role")) != SESAME_OK ||
	    (rc = load_name(l, v, "a role", &r->name)) != SESAME_OK)
		return rc;
	snprintf(where, sizeof(where), "role \"%s\"", r->name);
	if ((rc = expr_member(l, v, "apply_when", allow, where, &r->apply_when)) != SESAME_OK)
		return rc;
	if (!r->apply_when && !(r->apply_when = arena_alloc(&l->rs->arena, sizeof(*r->apply_when))))
		return seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
	/* arena memory is zeroed: kind N_TRUE */
	if ((m = json_object_get(v, "document_filters")) != NULL) {
		char sub[180];

		if ((rc = enter(l, "document_filters", 0)) != SESAME_OK)
			return rc;
		if (!json_is_object(m))
			return lerr(l, "type", "\"document_filters\": expected {\"read\": QUERY, \"write\": QUERY}");
		snprintf(sub, sizeof(sub), "%s.document_filters", where);
		if ((rc = check_keys(l, m, filter_keys, "document_filters")) != SESAME_OK ||
		    (rc = expr_member(l, m, "read", allow, sub, &r->filter_read)) != SESAME_OK ||
		    (rc = expr_member(l, m, "write", allow, sub, &r->filter_write)) != SESAME_OK)
			return rc;
		l->depth--;
	}
	if ((rc = expr_member(l, v, "read", allow, where, &r->read)) != SESAME_OK ||
	    (rc = expr_member(l, v, "write", allow, where, &r->write)) != SESAME_OK ||
	    (rc = expr_member(l, v, "insert", allow, where, &r->insert)) != SESAME_OK ||
	    (rc = expr_member(l, v, "delete", allow, where, &r->delete_)) != SESAME_OK ||
	    (rc = expr_member(l, v, "search", allow, where, &r->search)) != SESAME_OK)
		return rc;
	if ((m = json_object_get(v, "fields")) != NULL) {
		char sub[180];

		if ((rc = enter(l, "fields", 0)) != SESAME_OK)
			return rc;
		snprintf(sub, sizeof(sub), "%s.fields", where);
		if ((rc = load_fields(l, m, &top, 0, sub, &r->fields, &r->n_fields)) != SESAME_OK)
			return rc;
		l->depth--;
	}
	if ((m = json_object_get(v, "additional_fields")) != NULL) {
		char sub[180];

		if ((rc = enter(l, "additional_fields", 0)) != SESAME_OK)
			return rc;
		if (!json_is_object(m))
			return lerr(l, "type", "\"additional_fields\": expected {\"read\": ..., \"write\": ...}");
		snprintf(sub, sizeof(sub), "%s.additional_fields", where);
		if ((rc = check_keys(l, m, filter_keys, "additional_fields")) != SESAME_OK ||
		    (rc = expr_member(l, m, "read", allow | RX_FIELD, sub, &r->more_read)) != SESAME_OK ||
		    (rc = expr_member(l, m, "write", allow | RX_FIELD, sub, &r->more_write)) != SESAME_OK)
			return rc;
		l->depth--;
	}
	return SESAME_OK;
}

static int load_projection(struct loader *l, const json_t *v, struct query_filter *f)
{
	const char *key;
	json_t *m;
	int kind = -1;

	if (!json_is_object(v))
		return lerr(l, "type", "\"projection\": expected an object of field name -> 1 or 0");
	json_object_foreach ((json_t *)v, key, m) {
		int keep;

		enter(l, key, 0);
		if (json_is_boolean(m))
			keep = json_is_true(m);
		else if (json_is_integer(m) && (json_integer_value(m) == 0 || json_integer_value(m) == 1))
			keep = (int)json_integer_value(m);
		else
			return lerr(l, "type", "projection of \"%s\": expected 1, 0, true or false", key);
		if (!valid_field_name(key))
			return lerr(l, "type", "projection of \"%s\": only top-level field names are supported", key);
		/* _id may be excluded from an inclusion, as in MongoDB. */
		if (!(strcmp(key, "_id") == 0 && !keep)) {
			if (kind >= 0 && kind != keep)
				return lerr(l, "type", "a projection either includes or excludes fields, not both");
			kind = keep;
		}
		l->depth--;
	}
	f->projection = (json_t *)v;
	f->inclusion = kind == 1;
	return SESAME_OK;
}

static int load_filter(struct loader *l, const json_t *v, struct query_filter *f)
{
	static const char *const known[] = {"name", "apply_when", "query", "projection", NULL};
	const json_t *m;
	char where[160];
	int rc;

	if (!json_is_object(v))
		return lerr(l, "type", "a filter must be an object");
	if ((rc = check_keys(l, v, known, "a filter")) != SESAME_OK ||
	    (rc = load_name(l, v, "a filter", &f->name)) != SESAME_OK)
		return rc;
	snprintf(where, sizeof(where), "filter \"%s\"", f->name);
	/* The hosted service evaluates a filter's apply_when before reading
	 * any document: only the user is known. */
	if ((rc = expr_member(l, v, "apply_when", RX_USER, where, &f->apply_when)) != SESAME_OK ||
	    (rc = expr_member(l, v, "query", RX_USER | RX_DOC, where, &f->query)) != SESAME_OK)
		return rc;
	if (!f->apply_when && !(f->apply_when = arena_alloc(&l->rs->arena, sizeof(*f->apply_when))))
		return seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
	if ((m = json_object_get(v, "query")) != NULL && !json_is_object(m)) {
		enter(l, "query", 0);
		return lerr(l, "type", "\"query\": expected a query object");
	}
	if ((m = json_object_get(v, "projection")) != NULL) {
		enter(l, "projection", 0);
		if ((rc = load_projection(l, m, f)) != SESAME_OK)
			return rc;
		l->depth--;
	}
	return SESAME_OK;
}

/* The database and collection of "DATABASE.COLLECTION", checked. */
static bool split_namespace(const char *ns, size_t *db_len)
{
	const char *dot = strchr(ns, '.'), *p;

	if (!dot || dot == ns || dot[1] == '\0' || (size_t)(dot - ns) > 64 || strlen(dot + 1) > 128)
		return false;
	for (p = ns; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || *p == '_' ||
		      *p == '-' || (*p == '.' && p > dot)) &&
		    p != dot)
			return false;
	*db_len = (size_t)(dot - ns);
	return true;
}

/* A file's "database"/"collection" must agree with its name. */
static int check_name_member(struct loader *l, const json_t *root, const char *key, const char *want, size_t len)
{
	const json_t *v = json_object_get(root, key);

	if (!v)
		return SESAME_OK;
	enter(l, key, 0);
	if (!want)
		return lerr(l, "name",
			    "default.json applies to every namespace without a file of its own: it names no "
			    "\"%s\"",
			    key);
	if (!json_is_string(v) || json_string_length(v) != len || memcmp(json_string_value(v), want, len) != 0)
		return lerr(l, "name", "\"%s\" must be \"%.*s\", as the file name says", key, (int)len, want);
	l->depth--;
	return SESAME_OK;
}

static int compile_file(struct loader *l, const json_t *root)
{
	static const char *const known[] = {"database", "collection", "roles", "filters", NULL};
	const char *name = l->rs->name;
	bool dflt = strcmp(name, "default") == 0;
	const json_t *roles = json_object_get(root, "roles"), *filters = json_object_get(root, "filters");
	size_t db_len = 0, i, j;
	int rc;

	if (!dflt && !split_namespace(name, &db_len))
		return seterr_at(l->err, SESAME_CONFIG, "name", l->d.file, 0, 0,
				 "a rule file is named default.json or DATABASE.COLLECTION.json (letters, digits, '_' "
				 "and '-'; '.' in the collection), not \"%s.json\"",
				 name);
	if ((rc = check_keys(l, root, known, "a rule file")) != SESAME_OK ||
	    (rc = check_name_member(l, root, "database", dflt ? NULL : name, db_len)) != SESAME_OK ||
	    (rc = check_name_member(l, root, "collection", dflt ? NULL : name + db_len + 1,
				    dflt ? 0 : strlen(name + db_len + 1))) != SESAME_OK)
		return rc;
	if (roles) {
		enter(l, "roles", 0);
		if (!json_is_array(roles) || json_array_size(roles) > RULES_MAX_ROLES)
			return lerr(l, "type", "\"roles\": expected an array of up to %d roles", RULES_MAX_ROLES);
		l->rs->roles = arena_alloc(&l->rs->arena, (json_array_size(roles) + 1) * sizeof(*l->rs->roles));
		if (!l->rs->roles)
			return seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
		for (i = 0; i < json_array_size(roles); i++) {
			enter(l, NULL, i);
			if ((rc = load_role(l, json_array_get(roles, i), &l->rs->roles[i])) != SESAME_OK)
				return rc;
			for (j = 0; j < i; j++)
				if (strcmp(l->rs->roles[j].name, l->rs->roles[i].name) == 0)
					return lerr(l, "name", "two roles are named \"%s\"", l->rs->roles[i].name);
			l->depth--;
			l->rs->n_roles++;
		}
		l->depth--;
	}
	if (filters) {
		enter(l, "filters", 0);
		if (!json_is_array(filters) || json_array_size(filters) > RULES_MAX_ROLES)
			return lerr(l, "type", "\"filters\": expected an array of up to %d filters", RULES_MAX_ROLES);
		l->rs->filters = arena_alloc(&l->rs->arena, (json_array_size(filters) + 1) * sizeof(*l->rs->filters));
		if (!l->rs->filters)
			return seterr(l->err, SESAME_INTERNAL, "memory", "out of memory");
		for (i = 0; i < json_array_size(filters); i++) {
			enter(l, NULL, i);
			if ((rc = load_filter(l, json_array_get(filters, i), &l->rs->filters[i])) != SESAME_OK)
				return rc;
			l->depth--;
			l->rs->n_filters++;
		}
		l->depth--;
	}
	return SESAME_OK;
}

static int load_parsed(struct ruleset *rs, const char *file, const char *text, size_t len, json_t *root,
		       sesame_error *err)
{
	struct loader l = {.rs = rs, .d = {file, text, len}, .err = err};
	int rc = compile_file(&l, root);

	if (rc == SESAME_OK) {
		rs->root = root;
		return SESAME_OK;
	}
	json_decref(root);
	return rc;
}

static int ruleset_init(struct ruleset *rs, const char *name, const char *file, sesame_error *err)
{
	memset(rs, 0, sizeof(*rs));
	err_clear(err);
	rs->name = strdup(name);
	rs->source = strdup(file);
	if (!rs->name || !rs->source)
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	return SESAME_OK;
}

/* After a failure: keep the reason, drop whatever was compiled. */
static int ruleset_fail(struct ruleset *rs, int rc, const sesame_error *err)
{
	rs->failed = true;
	snprintf(rs->error, sizeof(rs->error), "%s", err && err->text[0] ? err->text : sesame_status_name(rc));
	arena_free(&rs->arena);
	rs->roles = NULL;
	rs->filters = NULL;
	rs->n_roles = rs->n_filters = 0;
	return rc;
}

int ruleset_load(struct ruleset *rs, const char *name, const char *path, sesame_error *err)
{
	sesame_error local;
	char *text = NULL;
	json_t *root = NULL;
	size_t len = 0;
	int rc;

	if (!err)
		err = &local;
	if ((rc = ruleset_init(rs, name, path, err)) != SESAME_OK)
		return rc;
	rc = config_parse_file(path, &text, &len, &root, err);
	if (rc == SESAME_OK)
		rc = load_parsed(rs, path, text, len, root, err);
	free(text);
	return rc == SESAME_OK ? SESAME_OK : ruleset_fail(rs, rc, err);
}

void ruleset_free(struct ruleset *rs)
{
	free(rs->name);
	free(rs->source);
	arena_free(&rs->arena);
	json_decref(rs->root);
	memset(rs, 0, sizeof(*rs));
}

int rules_load(struct rules *r, const struct config *cfg, const struct logger *lg, sesame_error *err)
{
	struct dropin *set = NULL;
	size_t n = 0, i;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = config_dropins(cfg->rules_dirs, cfg->n_rules_dirs, &set, &n, err);
	if (rc != SESAME_OK) {
		r->failed = true;
		snprintf(r->error, sizeof(r->error), "%s", err ? err->text : "cannot read the rules directories");
		log_msg(lg, SESAME_LOG_ERR, "rules are unavailable, every decision is a denial: %s", r->error);
		return rc;
	}
	r->sets = calloc(n + 1, sizeof(*r->sets));
	if (!r->sets) {
		config_dropins_free(set, n);
		r->failed = true;
		snprintf(r->error, sizeof(r->error), "out of memory");
		return seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct ruleset *rs = &r->sets[r->n];
		sesame_error e;

		if (set[i].masked) {
			log_msg(lg, SESAME_LOG_INFO, "rules of \"%s\" masked by %s", set[i].name, set[i].path);
			continue;
		}
		if (ruleset_load(rs, set[i].name, set[i].path, &e) != SESAME_OK)
			log_msg(lg, SESAME_LOG_ERR,
				"rules of \"%s\" are unavailable, every decision on it is a denial: %s", set[i].name,
				rs->error);
		else
			log_msg(lg, SESAME_LOG_INFO, "rules of \"%s\" loaded from %s (%zu roles)", set[i].name,
				set[i].path, rs->n_roles);
		r->n++;
	}
	config_dropins_free(set, n);
	return SESAME_OK;
}

void rules_free(struct rules *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		ruleset_free(&r->sets[i]);
	free(r->sets);
	memset(r, 0, sizeof(*r));
}

static int set_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct ruleset *)elem)->name);
}

const struct ruleset *rules_find(const struct rules *r, const char *ns)
{
	const struct ruleset *rs = r->n ? bsearch(ns, r->sets, r->n, sizeof(*r->sets), set_cmp) : NULL;

	return rs ? rs : r->n ? bsearch("default", r->sets, r->n, sizeof(*r->sets), set_cmp) : NULL;
}

bool rules_action_parse(const char *name, enum rules_action *act)
{
	static const char *const names[] = {"read", "insert", "write", "delete", "search"};
	size_t i;

	for (i = 0; name && i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i]) == 0) {
			*act = (enum rules_action)i;
			return true;
		}
	return false;
}

/* ---- decisions ----------------------------------------------------------------- */

struct grant {
	bool read, write;
};

/* Everything one decision evaluates against. */
struct judge {
	const struct ruleset *rs;
	const struct role *role;
	struct rx_env env;	/* user, root, prev_root; this_/prev set per field */
	const json_t *prev_doc; /* the document before a write, for %%prev */
};

static bool holds(const struct rnode *n, const struct rx_env *env)
{
	return n && rx_eval(n, env);
}

static bool holds_or_default(const struct rnode *n, const struct rx_env *env)
{
	return !n || rx_eval(n, env);
}

static const struct role *choose_role(const struct ruleset *rs, const struct rx_env *env)
{
	size_t i;

	for (i = 0; i < rs->n_roles; i++)
		if (rx_eval(rs->roles[i].apply_when, env))
			return &rs->roles[i];
	return NULL;
}

/* The "filters" entries that apply to the user all select `doc`. */
static bool filters_pass(const struct ruleset *rs, const json_t *user, const json_t *doc)
{
	struct rx_env user_only = {.user = user}, on_doc = {.user = user, .root = doc, .prev_root = doc};
	size_t i;

	for (i = 0; i < rs->n_filters; i++)
		if (rx_eval(rs->filters[i].apply_when, &user_only) && rs->filters[i].query &&
		    !rx_eval(rs->filters[i].query, &on_doc))
			return false;
	return true;
}

static const struct field_perm *find_field(const struct field_perm *fps, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fps[i].name, name) == 0)
			return &fps[i];
	return NULL;
}

/* What `fp` (NULL at the top level: additional_fields; below: nothing)
 * grants over `inherited`, the field being `value` (was `old`). */
static struct grant field_grant(const struct judge *j, const struct field_perm *fp, bool top, struct grant inherited,
				const json_t *value, const json_t *old)
{
	struct rx_env env = j->env;
	struct grant g = inherited;
	const struct rnode *rd = fp ? fp->read : top ? j->role->more_read : NULL;
	const struct rnode *wr = fp ? fp->write : top ? j->role->more_write : NULL;

	env.this_ = value;
	env.prev = old;
	if (!g.write && holds(wr, &env))
		g.read = g.write = true;
	if (!g.read && holds(rd, &env))
		g.read = true;
	return g;
}

static struct grant document_grant(const struct judge *j)
{
	struct grant g = {false, false};

	g.write = holds(j->role->write, &j->env);
	g.read = g.write || holds(j->role->read, &j->env);
	return g;
}

/* Whether the role grants some read (`want_write`: some write) at all:
 * document level, any listed field, additional_fields. */
static bool any_grant(const struct judge *j, const struct field_perm *fps, size_t n, const json_t *doc,
		      const json_t *old, bool want_write)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const json_t *v = json_is_object(doc) ? json_object_get(doc, fps[i].name) : NULL;
		const json_t *o = json_is_object(old) ? json_object_get(old, fps[i].name) : NULL;
		struct grant g = field_grant(j, &fps[i], false, (struct grant){false, false}, v, o);

		if (want_write ? g.write : g.read)
			return true;
		if (any_grant(j, fps[i].fields, fps[i].n_fields, v, o, want_write))
			return true;
	}
	return false;
}

static bool role_grants(const struct judge *j, bool want_write)
{
	struct grant d = document_grant(j), more;

	if (want_write ? d.write : d.read)
		return true;
	more = field_grant(j, NULL, true, (struct grant){false, false}, NULL, NULL);
	if (want_write ? more.write : more.read)
		return true;
	return any_grant(j, j->role->fields, j->role->n_fields, j->env.root, j->prev_doc, want_write);
}

/* The fields of `obj` the user may read: a new object. */
static json_t *reduce(const struct judge *j, const struct field_perm *fps, size_t n, bool top, struct grant inherited,
		      const json_t *obj, const json_t *old)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach ((json_t *)obj, key, v) {
		const struct field_perm *fp = find_field(fps, n, key);
		const json_t *o = json_is_object(old) ? json_object_get(old, key) : NULL;
		struct grant g = field_grant(j, fp, top, inherited, v, o);

		if (g.read) {
			json_object_set(out, key, v);
		} else if (fp && fp->n_fields && json_is_object(v)) {
			json_t *sub = reduce(j, fp->fields, fp->n_fields, false, g, v, o);

			if (json_object_size(sub) > 0)
				json_object_set_new(out, key, sub);
			else
				json_decref(sub);
		}
	}
	return out;
}

/* Every change from `old` to `obj` (NULL: an empty object) is to a field
 * the user may write. */
static bool changes_allowed(const struct judge *j, const struct field_perm *fps, size_t n, bool top,
			    struct grant inherited, const json_t *obj, const json_t *old)
{
	const json_t *sides[2] = {obj, old};
	const char *key;
	json_t *v;
	size_t s;

	for (s = 0; s < 2; s++) {
		if (!json_is_object(sides[s]))
			continue;
		json_object_foreach ((json_t *)sides[s], key, v) {
			const json_t *nv = json_is_object(obj) ? json_object_get(obj, key) : NULL;
			const json_t *ov = json_is_object(old) ? json_object_get(old, key) : NULL;
			const struct field_perm *fp;
			struct grant g;

			if (s == 1 && nv)
				continue; /* seen from the new side */
			if (nv && ov && rx_equal(nv, ov))
				continue;
			fp = find_field(fps, n, key);
			g = field_grant(j, fp, top, inherited, nv, ov);
			if (g.write)
				continue;
			if (fp && fp->n_fields && (!nv || json_is_object(nv)) && (!ov || json_is_object(ov)) &&
			    changes_allowed(j, fp->fields, fp->n_fields, false, g, nv, ov))
				continue;
			return false;
		}
	}
	return true;
}

static void add_field(json_t *fields, const char *name, struct grant g)
{
	json_t *o = json_object();

	if (!o)
		return;
	json_object_set_new(o, "read", json_boolean(g.read));
	json_object_set_new(o, "write", json_boolean(g.write));
	json_object_set_new(fields, name, o);
}

/* Listed fields, embedded ones as "a.b", with what the role grants. */
static void listed_fields(const struct judge *j, json_t *fields, const struct field_perm *fps, size_t n,
			  const char *prefix, struct grant inherited, const json_t *obj, const json_t *old)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const json_t *v = json_is_object(obj) ? json_object_get(obj, fps[i].name) : NULL;
		const json_t *o = json_is_object(old) ? json_object_get(old, fps[i].name) : NULL;
		struct grant g = field_grant(j, &fps[i], false, inherited, v, o);
		char name[512];

		/* Top-level names as they are; embedded ones as "a.b". */
		if (prefix[0])
			snprintf(name, sizeof(name), "%s.%s", prefix, fps[i].name);
		add_field(fields, prefix[0] ? name : fps[i].name, g);
		if (fps[i].n_fields)
			listed_fields(j, fields, fps[i].fields, fps[i].n_fields, prefix[0] ? name : fps[i].name, g, v, o);
	}
}

static json_t *fields_map(const struct judge *j)
{
	json_t *fields = json_object(), *v;
	struct grant d = document_grant(j);
	const json_t *sides[2] = {j->env.root, j->prev_doc};
	const char *key;
	size_t s;

	if (!fields)
		return NULL;
	listed_fields(j, fields, j->role->fields, j->role->n_fields, "", d, j->env.root, j->prev_doc);
	for (s = 0; s < 2; s++) {
		if (!json_is_object(sides[s]))
			continue;
		json_object_foreach ((json_t *)sides[s], key, v) {
			const json_t *nv = json_is_object(j->env.root) ? json_object_get(j->env.root, key) : NULL;
			const json_t *ov = json_is_object(j->prev_doc) ? json_object_get(j->prev_doc, key) : NULL;

			if (json_object_get(fields, key) || find_field(j->role->fields, j->role->n_fields, key))
				continue;
			add_field(fields, key, field_grant(j, NULL, true, d, nv, ov));
		}
	}
	return fields;
}

/* The projections of the applying "filters" entries hide fields. */
static void project(const struct ruleset *rs, const json_t *user, json_t *doc, json_t *fields)
{
	struct rx_env user_only = {.user = user};
	size_t i;

	for (i = 0; i < rs->n_filters; i++) {
		const struct query_filter *f = &rs->filters[i];
		json_t *copy, *v;
		const char *key;
		void *tmp;

		if (!f->projection || !rx_eval(f->apply_when, &user_only))
			continue;
		copy = json_copy(doc);
		json_object_foreach_safe (copy, tmp, key, v) {
			const json_t *p = json_object_get(f->projection, key);
			bool keep = p ? (json_is_true(p) || json_integer_value(p) == 1) : f->inclusion ? false : true;

			if (f->inclusion && !p && strcmp(key, "_id") == 0)
				keep = true; /* MongoDB keeps _id unless told otherwise */
			if (!keep) {
				json_object_del(doc, key);
				if (json_is_object(json_object_get(fields, key)))
					json_object_set_new(json_object_get(fields, key), "read", json_false());
			}
		}
		json_decref(copy);
	}
}

static json_t *decision_json(bool allowed, const char *role, json_t *fields, json_t *document)
{
	json_t *d = json_object();

	if (!d || !fields || !document) {
		json_decref(d);
		json_decref(fields);
		json_decref(document);
		return NULL;
	}
	json_object_set_new(d, "allowed", json_boolean(allowed));
	json_object_set_new(d, "role", role ? json_string(role) : json_null());
	json_object_set_new(d, "fields", fields);
	json_object_set_new(d, "document", document);
	return d;
}

/* The system user: everything, every field. */
static json_t *system_decision(const json_t *subject, const json_t *prev)
{
	const json_t *sides[2] = {subject, prev};
	json_t *fields = json_object(), *v;
	const char *key;
	size_t s;

	for (s = 0; s < 2 && fields; s++)
		if (json_is_object(sides[s]))
			json_object_foreach ((json_t *)sides[s], key, v)
				add_field(fields, key, (struct grant){true, true});
	return decision_json(true, NULL, fields, json_deep_copy(subject));
}

int rules_decide(const struct ruleset *rs, const json_t *user, enum rules_action act, const json_t *document,
		 const json_t *prev, json_t **decision, sesame_error *err)
{
	struct judge j = {.rs = rs};
	const json_t *subject = act == ACT_DELETE && !document ? prev : document;
	bool allowed = false;
	json_t *fields, *doc;

	*decision = NULL;
	if (!user) {
		*decision = system_decision(subject, act == ACT_WRITE ? prev : NULL);
		return *decision ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	if (!rs || rs->failed) {
		*decision = decision_json(false, NULL, json_object(), json_object());
		if (*decision && rs)
			json_object_set_new(*decision, "error", json_string(rs->error));
		return *decision ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	j.env.user = user;
	/* The role: chosen on the stored document, except for an insert. */
	j.env.root = j.env.prev_root = act == ACT_WRITE ? prev : subject;
	if (act == ACT_INSERT)
		j.env.prev_root = NULL;
	j.role = choose_role(rs, &j.env);
	if (!j.role) {
		*decision = decision_json(false, NULL, json_object(), json_object());
		return *decision ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	switch (act) {
	case ACT_READ:
	case ACT_SEARCH:
		allowed = (!j.role->filter_read || rx_eval(j.role->filter_read, &j.env) ||
			   holds(j.role->filter_write, &j.env)) &&
			  filters_pass(rs, user, subject) && role_grants(&j, false) &&
			  (act == ACT_READ || holds_or_default(j.role->search, &j.env));
		break;
	case ACT_INSERT:
		allowed =
		    holds_or_default(j.role->insert, &j.env) && holds_or_default(j.role->filter_write, &j.env) &&
		    changes_allowed(&j, j.role->fields, j.role->n_fields, true, document_grant(&j), subject, NULL);
		break;
	case ACT_DELETE:
		allowed =
		    holds_or_default(j.role->delete_, &j.env) && holds_or_default(j.role->filter_write, &j.env) &&
		    filters_pass(rs, user, subject) &&
		    changes_allowed(&j, j.role->fields, j.role->n_fields, true, document_grant(&j), NULL, subject);
		break;
	case ACT_WRITE:
		allowed = holds_or_default(j.role->filter_write, &j.env) && filters_pass(rs, user, prev);
		/* Permissions see the document after the write. */
		j.env.root = document;
		j.env.prev_root = prev;
		j.prev_doc = prev;
		allowed =
		    allowed && holds_or_default(j.role->filter_write, &j.env) && role_grants(&j, true) &&
		    changes_allowed(&j, j.role->fields, j.role->n_fields, true, document_grant(&j), document, prev);
		break;
	}
	fields = fields_map(&j);
	doc = allowed ? reduce(&j, j.role->fields, j.role->n_fields, true, document_grant(&j), subject, j.prev_doc)
		      : json_object();
	if (allowed)
		project(rs, user, doc, fields);
	*decision = decision_json(allowed, j.role->name, fields, doc);
	return *decision ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
}

/* ---- filters ------------------------------------------------------------------- */

/* The grants of the listed fields, emitted: some read (or write). */
static int emit_field_grants(const struct field_perm *fps, size_t n, const json_t *user, bool want_write,
			     struct rx_out *out, sesame_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		struct rx_emit_env env = {.user = user, .field = &fps[i].path};
		struct rx_out part;

		if (fps[i].write) {
			if ((rc = rx_emit(fps[i].write, &env, &part, err)) != SESAME_OK)
				return rc;
			*out = rx_out_or(*out, part);
		}
		if (!want_write && fps[i].read) {
			if ((rc = rx_emit(fps[i].read, &env, &part, err)) != SESAME_OK)
				return rc;
			*out = rx_out_or(*out, part);
		}
		if ((rc = emit_field_grants(fps[i].fields, fps[i].n_fields, user, want_write, out, err)) != SESAME_OK)
			return rc;
	}
	return SESAME_OK;
}

static int emit_opt(const struct rnode *n, const json_t *user, bool dflt, struct rx_out *out, sesame_error *err)
{
	struct rx_emit_env env = {.user = user};

	if (!n) {
		out->kind = dflt ? RX_OUT_TRUE : RX_OUT_FALSE;
		out->q = NULL;
		return SESAME_OK;
	}
	return rx_emit(n, &env, out, err);
}

/* The documents role `r` allows `act` on, once it applies. */
static int emit_role(const struct role *r, const json_t *user, enum rules_action act, struct rx_out *out,
		     sesame_error *err)
{
	struct rx_out filt = {RX_OUT_TRUE, NULL}, grants = {RX_OUT_FALSE, NULL}, part;
	int rc;

	if (act == ACT_READ) {
		struct rx_out w;

		if ((rc = emit_opt(r->filter_read, user, true, &filt, err)) != SESAME_OK)
			return rc;
		if ((rc = emit_opt(r->filter_write, user, false, &w, err)) != SESAME_OK) {
			rx_out_free(&filt);
			return rc;
		}
		filt = rx_out_or(filt, w);
	} else if ((rc = emit_opt(r->filter_write, user, true, &filt, err)) != SESAME_OK) {
		return rc;
	}
	/* Some grant: the document level, additional_fields, a listed field. */
	if ((rc = emit_opt(r->write, user, false, &part, err)) == SESAME_OK) {
		grants = rx_out_or(grants, part);
		if (act == ACT_READ && (rc = emit_opt(r->read, user, false, &part, err)) == SESAME_OK)
			grants = rx_out_or(grants, part);
	}
	if (rc == SESAME_OK && (rc = emit_opt(r->more_write, user, false, &part, err)) == SESAME_OK) {
		grants = rx_out_or(grants, part);
		if (act == ACT_READ && (rc = emit_opt(r->more_read, user, false, &part, err)) == SESAME_OK)
			grants = rx_out_or(grants, part);
	}
	if (rc == SESAME_OK)
		rc = emit_field_grants(r->fields, r->n_fields, user, act == ACT_WRITE, &grants, err);
	if (rc != SESAME_OK) {
		rx_out_free(&filt);
		rx_out_free(&grants);
		return rc;
	}
	*out = rx_out_and(filt, grants);
	return SESAME_OK;
}

static json_t *filter_json(struct rx_out *o)
{
	json_t *q = rx_out_query(o), *f = q ? json_pack("{s:o}", "filter", q) : NULL;

	rx_out_free(o);
	return f;
}

int rules_filter(const struct ruleset *rs, const json_t *user, enum rules_action act, json_t **filter,
		 sesame_error *err)
{
	struct rx_out all = {RX_OUT_FALSE, NULL}, before = {RX_OUT_TRUE, NULL};
	struct rx_env user_only = {.user = user};
	size_t i;
	int rc = SESAME_OK;

	*filter = NULL;
	if (act != ACT_READ && act != ACT_WRITE)
		return seterr(err, SESAME_USAGE, "action", "a filter exists for \"read\" and \"write\" only");
	if (!user || !rs || rs->failed) {
		struct rx_out c = {user ? RX_OUT_FALSE : RX_OUT_TRUE, NULL};

		*filter = filter_json(&c);
		if (*filter && user && rs)
			json_object_set_new(*filter, "error", json_string(rs->error));
		return *filter ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	}
	/* Role i applies where its apply_when holds and no earlier one's does. */
	for (i = 0; i < rs->n_roles && rc == SESAME_OK && before.kind != RX_OUT_FALSE; i++) {
		const struct role *r = &rs->roles[i];
		struct rx_out applies, allows, sel;

		if ((rc = emit_opt(r->apply_when, user, true, &applies, err)) != SESAME_OK)
			break;
		if (applies.kind == RX_OUT_FALSE)
			continue;
		if ((rc = emit_role(r, user, act, &allows, err)) != SESAME_OK) {
			rx_out_free(&applies);
			break;
		}
		sel = rx_out_and(before.kind == RX_OUT_QUERY ? (struct rx_out){RX_OUT_QUERY, json_incref(before.q)}
							     : before,
				 rx_out_and((struct rx_out){applies.kind, json_incref(applies.q)}, allows));
		all = rx_out_or(all, sel);
		before = rx_out_and(before, rx_out_not(applies));
	}
	rx_out_free(&before);
	if (rc != SESAME_OK) {
		rx_out_free(&all);
		if (err && err->text[0]) {
			char text[SESAME_ERROR_TEXT_LENGTH];

			snprintf(text, sizeof(text), "%s (role \"%s\" in %s)", err->text, rs->roles[i].name,
				 rs->source);
			memcpy(err->text, text, sizeof(text));
		}
		return rc;
	}
	for (i = 0; i < rs->n_filters && rc == SESAME_OK; i++) {
		struct rx_out q;

		if (!rs->filters[i].query || !rx_eval(rs->filters[i].apply_when, &user_only))
			continue;
		if ((rc = emit_opt(rs->filters[i].query, user, true, &q, err)) == SESAME_OK)
			all = rx_out_and(q, all);
	}
	if (rc != SESAME_OK) {
		rx_out_free(&all);
		return rc;
	}
	*filter = filter_json(&all);
	return *filter ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
}

/* ---- the application API --------------------------------------------------------- */

/* Every decision is a denial: the rule directories could not be read. */
static int decision_failed(const char *why, json_t **decision, sesame_error *err)
{
	*decision = decision_json(false, NULL, json_object(), json_object());
	if (*decision)
		json_object_set_new(*decision, "error", json_string(why));
	return *decision ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
}

/* "DATABASE.COLLECTION" as rule files name it. */
static int check_namespace(const char *ns, sesame_error *err)
{
	size_t db_len;

	if (!ns || !split_namespace(ns, &db_len))
		return seterr(err, SESAME_MALFORMED, "namespace",
			      "the namespace must be DATABASE.COLLECTION (letters, digits, '_' and '-'; '.' in the "
			      "collection)");
	return SESAME_OK;
}

static int check_document(const json_t *v, const char *what, sesame_error *err)
{
	if (!json_is_object(v))
		return seterr(err, SESAME_MALFORMED, "type", "the %s must be a JSON object", what);
	return rx_check_value(v, what, err);
}

SESAME_API json_t *sesame_rules_json(const sesame_ctx *ctx)
{
	json_t *list;
	size_t i;

	if (!ctx || !ctx->configured || !ctx->rules)
		return NULL;
	list = json_array();
	if (list && ctx->rules->failed)
		json_array_append_new(list, json_pack("{s:n, s:n, s:s, s:s}", "namespace", "source", "state", "failed",
						      "error", ctx->rules->error));
	for (i = 0; list && i < ctx->rules->n; i++) {
		const struct ruleset *rs = &ctx->rules->sets[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "namespace", rs->name, "source", rs->source, "state",
				      rs->failed ? "failed" : "ready", "roles", (json_int_t)rs->n_roles, "filters",
				      (json_int_t)rs->n_filters);

		if (o && rs->failed)
			json_object_set_new(o, "error", json_string(rs->error));
		if (o)
			json_array_append_new(list, o);
	}
	return list;
}

int rules_request(const struct ruleset *rs, const json_t *user, const char *action, const json_t *document,
		  const json_t *prev, json_t **decision, sesame_error *err)
{
	enum rules_action act;
	int rc;

	*decision = NULL;
	if (!rules_action_parse(action, &act))
		return seterr(err, SESAME_MALFORMED, "action",
			      "the action must be \"read\", \"insert\", \"write\", \"delete\" or \"search\"");
	if ((rc = check_document(document, "document", err)) != SESAME_OK)
		return rc;
	if (act == ACT_WRITE && !prev)
		return seterr(err, SESAME_MALFORMED, "prev", "a write needs the document before it (prev)");
	if (act != ACT_WRITE && prev)
		return seterr(err, SESAME_MALFORMED, "prev", "only a write has a previous document (prev)");
	if (prev && (rc = check_document(prev, "previous document", err)) != SESAME_OK)
		return rc;
	return rules_decide(rs, user, act, document, prev, decision, err);
}

int rules_filter_request(const struct ruleset *rs, const json_t *user, const char *action, json_t **filter,
			 sesame_error *err)
{
	enum rules_action act;

	*filter = NULL;
	if (!rules_action_parse(action, &act) || (act != ACT_READ && act != ACT_WRITE))
		return seterr(err, SESAME_MALFORMED, "action", "a filter is for the action \"read\" or \"write\"");
	return rules_filter(rs, user, act, filter, err);
}

SESAME_API int sesame_rules_evaluate(sesame_caller *caller, const char *user_id, const char *ns, const char *action,
				     const json_t *document, const json_t *prev, json_t **decision, sesame_error *err)
{
	sesame_ctx *ctx = NULL;
	json_t *user = NULL;
	enum rules_action act;
	int rc;

	err_clear(err);
	if (!decision)
		return seterr(err, SESAME_USAGE, "usage", "sesame_rules_evaluate: NULL decision");
	*decision = NULL;
	if (!rules_action_parse(action, &act))
		return seterr(err, SESAME_MALFORMED, "action",
			      "the action must be \"read\", \"insert\", \"write\", \"delete\" or \"search\"");
	if ((rc = check_namespace(ns, err)) != SESAME_OK)
		return rc;
	if ((rc = api_rules_subject(caller, user_id, &ctx, &user, err)) != SESAME_OK)
		return rc;
	if (ctx->rules->failed && user)
		rc = decision_failed(ctx->rules->error, decision, err);
	else
		rc = rules_request(rules_find(ctx->rules, ns), user, action, document, prev, decision, err);
	json_decref(user);
	return rc;
}

SESAME_API int sesame_rules_filter(sesame_caller *caller, const char *user_id, const char *ns, const char *action,
				   json_t **filter, sesame_error *err)
{
	sesame_ctx *ctx = NULL;
	json_t *user = NULL;
	enum rules_action act;
	int rc;

	err_clear(err);
	if (!filter)
		return seterr(err, SESAME_USAGE, "usage", "sesame_rules_filter: NULL filter");
	*filter = NULL;
	if (!rules_action_parse(action, &act) || (act != ACT_READ && act != ACT_WRITE))
		return seterr(err, SESAME_MALFORMED, "action", "a filter is for the action \"read\" or \"write\"");
	if ((rc = check_namespace(ns, err)) != SESAME_OK)
		return rc;
	if ((rc = api_rules_subject(caller, user_id, &ctx, &user, err)) != SESAME_OK)
		return rc;
	if (ctx->rules->failed && user) {
		struct rx_out none = {RX_OUT_FALSE, NULL};

		*filter = filter_json(&none);
		if (*filter)
			json_object_set_new(*filter, "error", json_string(ctx->rules->error));
		rc = *filter ? SESAME_OK : seterr(err, SESAME_INTERNAL, "memory", "out of memory");
	} else {
		rc = rules_filter_request(rules_find(ctx->rules, ns), user, action, filter, err);
	}
	json_decref(user);
	return rc;
}

SESAME_API int sesame_rules_match(const json_t *filter, const json_t *document, int *match, sesame_error *err)
{
	struct arena arena = {NULL};
	struct rx_compiler c = {.arena = &arena, .mode = RX_QUERY, .where = "filter", .err = err};
	struct rnode *n = NULL;
	int rc;

	err_clear(err);
	if (!match)
		return seterr(err, SESAME_USAGE, "usage", "sesame_rules_match: NULL match");
	*match = 0;
	if (!json_is_object(filter))
		return seterr(err, SESAME_MALFORMED, "type", "the filter must be a JSON object");
	if ((rc = rx_check_value(filter, "the filter", err)) != SESAME_OK ||
	    (rc = check_document(document, "document", err)) != SESAME_OK)
		return rc;
	rc = rx_compile(&c, filter, &n);
	if (rc == SESAME_OK) {
		struct rx_env env = {.root = document, .prev_root = document};

		*match = rx_eval(n, &env);
	}
	arena_free(&arena);
	return rc;
}

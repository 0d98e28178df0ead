/* SPDX-License-Identifier: MIT */
/*
 * core/rules-expr.c — rule expressions and MongoDB query filters: compiled
 * once into typed nodes, evaluated against a document, and emitted as the
 * MongoDB filter an application ANDs into its query.
 *
 * Semantics (sesame-rules(5) states them for rule authors):
 *
 * - A path through a document follows MongoDB: a step into an array of
 *   documents applies to each element, a numeric step also indexes, and
 *   every value reached is a candidate.  A missing value equals null.
 * - Equality in a rule ("a": V) is symmetric membership: true when the two
 *   values are equal, or when one is an array holding the other, or when
 *   two arrays share an element.  This is what makes both {"tags":
 *   "%%user.id"} and {"email": "%%user.custom_data.manages"} work as App
 *   Services documents them.
 * - Ordered comparisons ($gt ...) compare numbers with numbers and strings
 *   with strings (byte order), any element of an array; anything else is
 *   false, as MongoDB's type bracketing has it.
 * - A filter is emitted so that MongoDB, with its own semantics, selects
 *   exactly what the rule evaluator says: an equality against a value V
 *   becomes {"$in": V's elements and V}, which is the symmetric membership
 *   above seen from MongoDB.  The same nodes, compiled in RX_QUERY mode
 *   with MongoDB's equality, are sesame_rules_match().
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* ---- arena -------------------------------------------------------------- */

#define ARENA_BLOCK 8192

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b = a->head;
	void *p;

	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!b || b->size - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;

		b = calloc(1, sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->size = cap;
		b->next = a->head;
		a->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_block *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- values --------------------------------------------------------------- */

static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);

		return x < y ? -1 : x > y;
	} else {
		double x = json_number_value(a), y = json_number_value(b);

		return x < y ? -1 : x > y;
	}
}

static int str_cmp(const json_t *a, const json_t *b)
{
	size_t la = json_string_length(a), lb = json_string_length(b);
	int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);

	return c != 0 ? (c < 0 ? -1 : 1) : la < lb ? -1 : la > lb;
}

bool rx_equal(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;
	size_t i;

	if (a == b)
		return true;
	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return str_cmp(a, b) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!rx_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach ((json_t *)a, key, v) {
			const json_t *w = json_object_get(b, key);

			if (!w || !rx_equal(v, w))
				return false;
		}
		return true;
	default: /* true, false, null: same type is same value */
		return true;
	}
}

/* The rule language's equality: symmetric membership (see the top). */
static bool rule_match(const json_t *l, const json_t *r)
{
	size_t i, j;

	if (rx_equal(l, r))
		return true;
	if (json_is_array(l))
		for (i = 0; i < json_array_size(l); i++)
			if (rx_equal(json_array_get(l, i), r))
				return true;
	if (json_is_array(r))
		for (j = 0; j < json_array_size(r); j++) {
			const json_t *e = json_array_get(r, j);

			if (rx_equal(l, e))
				return true;
			if (json_is_array(l))
				for (i = 0; i < json_array_size(l); i++)
					if (rx_equal(json_array_get(l, i), e))
						return true;
		}
	return false;
}

/* MongoDB's equality of a field's value with a query value. */
static bool mongo_match(const json_t *l, const json_t *r)
{
	size_t i;

	if (rx_equal(l, r))
		return true;
	if (json_is_array(l))
		for (i = 0; i < json_array_size(l); i++)
			if (rx_equal(json_array_get(l, i), r))
				return true;
	return false;
}

/* x OP y for two scalars of one bracket (numbers, strings); else false. */
static bool scalar_order(const json_t *x, const json_t *y, enum rop op)
{
	int c;

	if (json_is_number(x) && json_is_number(y))
		c = num_cmp(x, y);
	else if (json_is_string(x) && json_is_string(y))
		c = str_cmp(x, y);
	else
		return false;
	switch (op) {
	case OP_GT:
		return c > 0;
	case OP_GTE:
		return c >= 0;
	case OP_LT:
		return c < 0;
	default:
		return c <= 0;
	}
}

/* Any element (or the value itself) of `a` OP any of `b`. */
static bool order_match(const json_t *a, const json_t *b, enum rop op)
{
	size_t i, j, na = json_is_array(a) ? json_array_size(a) : 1, nb = json_is_array(b) ? json_array_size(b) : 1;

	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (scalar_order(json_is_array(a) ? json_array_get(a, i) : a,
					 json_is_array(b) ? json_array_get(b, j) : b, op))
				return true;
	return false;
}

static int check_value(const json_t *v, size_t depth, size_t *count, const char *what, sesame_error *err)
{
	const char *key;
	json_t *m;
	size_t i;

	if (++*count > RULES_DOC_MAX_VALUES)
		return seterr(err, SESAME_MALFORMED, "size", "%s holds more than %d values", what,
			      RULES_DOC_MAX_VALUES);
	if (!json_is_object(v) && !json_is_array(v))
		return SESAME_OK;
	if (depth >= RULES_DOC_MAX_DEPTH)
		return seterr(err, SESAME_MALFORMED, "depth", "%s is nested deeper than %d levels", what,
			      RULES_DOC_MAX_DEPTH);
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, key, m)
			if (check_value(m, depth + 1, count, what, err) != SESAME_OK)
				return SESAME_MALFORMED;
	} else {
		json_array_foreach (v, i, m)
			if (check_value(m, depth + 1, count, what, err) != SESAME_OK)
				return SESAME_MALFORMED;
	}
	return SESAME_OK;
}

int rx_check_value(const json_t *v, const char *what, sesame_error *err)
{
	size_t count = 0;

	return check_value(v, 0, &count, what, err);
}

/* ---- compiling ---------------------------------------------------------------- */

static int cerr(struct rx_compiler *c, const char *reason, const char *fmt, ...) SESAME_PRINTF(3, 4);

static int cerr(struct rx_compiler *c, const char *reason, const char *fmt, ...)
{
	char msg[SESAME_ERROR_TEXT_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->d)
		return doc_error(c->err, c->d, c->path, c->depth, reason, "%s: %s", c->where, msg);
	return seterr(c->err, SESAME_MALFORMED, reason, "%s: %s", c->where, msg);
}

static int nomem(struct rx_compiler *c)
{
	return seterr(c->err, SESAME_INTERNAL, "memory", "out of memory");
}

static int bad_status(const struct rx_compiler *c)
{
	return c->d ? SESAME_CONFIG : SESAME_MALFORMED;
}

/* Step into member `key` (or element `index` when key is NULL). */
static int enter(struct rx_compiler *c, const char *key, size_t index)
{
	if (c->depth >= ARRAY_SIZE(c->path))
		return cerr(c, "depth", "nested deeper than %d levels", RULES_MAX_DEPTH);
	c->path[c->depth].key = key;
	c->path[c->depth].index = index;
	c->depth++;
	return SESAME_OK;
}

static struct rnode *new_node(struct rx_compiler *c, enum rkind kind, size_t n_kids)
{
	struct rnode *n = arena_alloc(c->arena, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	if (n_kids) {
		n->kids = arena_alloc(c->arena, n_kids * sizeof(*n->kids));
		if (!n->kids)
			return NULL;
	}
	n->mongo = c->mode == RX_QUERY;
	return n;
}

/* A dot path ("a.b.0"): non-empty steps, at most RULES_MAX_DEPTH. */
static int parse_path(struct rx_compiler *c, const char *s, size_t len, struct rpath *p)
{
	size_t i, n = len ? 1 : 0, start = 0;

	p->n = 0;
	p->segs = NULL;
	if (len == 0)
		return SESAME_OK;
	for (i = 0; i < len; i++)
		n += s[i] == '.';
	if (n > RULES_MAX_DEPTH)
		return cerr(c, "depth", "the path \"%.*s\" has more than %d steps", (int)len, s, RULES_MAX_DEPTH);
	p->segs = arena_alloc(c->arena, n * sizeof(*p->segs));
	if (!p->segs)
		return nomem(c);
	for (i = 0; i <= len; i++) {
		struct rseg *g;
		size_t k;

		if (i < len && s[i] != '.')
			continue;
		if (i == start)
			return cerr(c, "type", "the path \"%.*s\" has an empty step", (int)len, s);
		if (memchr(s + start, '\0', i - start))
			return cerr(c, "type", "a path holds a NUL character");
		g = &p->segs[p->n++];
		g->len = i - start;
		g->name = arena_strndup(c->arena, s + start, g->len);
		if (!g->name)
			return nomem(c);
		g->index = -1;
		for (k = 0; k < g->len && k < 9 && isdigit((unsigned char)g->name[k]); k++)
			;
		if (k == g->len && g->len <= 9)
			g->index = strtol(g->name, NULL, 10);
		start = i + 1;
	}
	return SESAME_OK;
}

static const struct {
	const char *name;
	enum rsrc src;
	unsigned bit;
	const char *use;
} expansions[] = {
    {"user", SRC_USER, RX_USER, "the user"},
    {"root", SRC_ROOT, 1u << SRC_ROOT, "a document"},
    {"prevRoot", SRC_PREVROOT, 1u << SRC_PREVROOT, "a document"},
    {"this", SRC_THIS, 1u << SRC_THIS, "a field's read or write permission"},
    {"prev", SRC_PREV, 1u << SRC_PREV, "a field's read or write permission"},
};

/* "%%name.path" into an operand. */
static int parse_expansion(struct rx_compiler *c, const char *s, size_t len, struct operand *o)
{
	const char *name = s + 2, *dot = memchr(name, '.', len - 2);
	size_t nlen = dot ? (size_t)(dot - name) : len - 2, i;

	memset(o, 0, sizeof(*o));
	if ((nlen == 4 && memcmp(name, "true", 4) == 0) || (nlen == 5 && memcmp(name, "false", 5) == 0)) {
		if (dot)
			return cerr(c, "expansion", "\"%.*s\" takes no path", (int)(nlen + 2), s);
		o->src = SRC_LIT;
		o->lit = name[0] == 't' ? json_true() : json_false();
		return SESAME_OK;
	}
	for (i = 0; i < ARRAY_SIZE(expansions); i++)
		if (strlen(expansions[i].name) == nlen && memcmp(expansions[i].name, name, nlen) == 0)
			break;
	if (i == ARRAY_SIZE(expansions))
		return cerr(c, "expansion",
			    "unknown or unsupported expansion \"%%%%%.*s\" (sesame knows %%%%user, %%%%root, "
			    "%%%%prevRoot, %%%%this, %%%%prev, %%%%true and %%%%false)",
			    (int)nlen, name);
	if (!(c->allow & expansions[i].bit))
		return cerr(c, "expansion", "\"%%%%%s\" cannot be used here: it only has a meaning in %s",
			    expansions[i].name, expansions[i].use);
	c->refs |= expansions[i].bit;
	o->src = expansions[i].src;
	return dot ? parse_path(c, dot + 1, len - (size_t)(dot + 1 - s), &o->path) : SESAME_OK;
}

static bool is_expansion(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) >= 2 && memcmp(json_string_value(v), "%%", 2) == 0;
}

/* A literal may not hide an expansion where it would not be expanded. */
static bool holds_expansion(const json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (is_expansion(v))
		return true;
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, key, m)
			if (strncmp(key, "%%", 2) == 0 || holds_expansion(m))
				return true;
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, m)
			if (holds_expansion(m))
				return true;
	}
	return false;
}

/* A right-hand value: an expansion (rule mode) or a literal. */
static int compile_operand(struct rx_compiler *c, const json_t *v, struct operand *o)
{
	memset(o, 0, sizeof(*o));
	if (c->mode == RX_RULE && is_expansion(v))
		return parse_expansion(c, json_string_value(v), json_string_length(v), o);
	if (rx_check_value(v, "a literal", NULL) != SESAME_OK)
		return cerr(c, "depth", "a literal value is nested deeper than %d levels or holds more than %d values",
			    RULES_DOC_MAX_DEPTH, RULES_DOC_MAX_VALUES);
	if (c->mode == RX_RULE && holds_expansion(v))
		return cerr(c, "expansion",
			    "an expansion inside a literal object or array is never expanded (only directly as a "
			    "value, or as an element of an $in or $nin list)");
	o->src = SRC_LIT;
	o->lit = v;
	return SESAME_OK;
}

/* The operator named `key` ("$gt" or, in rule mode, "%gt"), or -1. */
enum { K_AND = 100, K_OR, K_NOR };
static int operator_code(const struct rx_compiler *c, const char *key)
{
	static const struct {
		const char *name;
		int code;
	} ops[] = {
	    {"eq", OP_EQ},   {"ne", OP_NE}, {"gt", OP_GT},   {"gte", OP_GTE},	    {"lt", OP_LT},
	    {"lte", OP_LTE}, {"in", OP_IN}, {"nin", OP_NIN}, {"exists", OP_EXISTS}, {"elemMatch", OP_ELEMMATCH},
	    {"and", K_AND},  {"or", K_OR},  {"nor", K_NOR},
	};
	size_t i;

	if (!(key[0] == '$' || (key[0] == '%' && key[1] != '%' && c->mode == RX_RULE)))
		return -1;
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(key + 1, ops[i].name) == 0) {
			/* $elemMatch is MongoDB's, for filters given to sesame_rules_match(). */
			if (ops[i].code == OP_ELEMMATCH && c->mode != RX_QUERY)
				return -1;
			return ops[i].code;
		}
	return -1;
}

static bool is_operator_key(const char *key)
{
	return key[0] == '$' || (key[0] == '%' && key[1] != '%');
}

static int compile_expr(struct rx_compiler *c, const json_t *v, unsigned level, struct rnode **out);
static int compile_cond(struct rx_compiler *c, const struct operand *left, const json_t *v, unsigned level,
			struct rnode **out);

/* AND (or OR, NOR) of the expressions in array `v`. */
static int compile_list(struct rx_compiler *c, const char *key, int code, const json_t *v, const struct operand *left,
			unsigned level, struct rnode **out)
{
	size_t i;
	int rc;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return cerr(c, "type", "\"%s\" needs a non-empty array", key);
	if (json_array_size(v) > RULES_MAX_LIST)
		return cerr(c, "size", "\"%s\" has more than %d elements", key, RULES_MAX_LIST);
	*out = new_node(c, code == K_AND ? N_AND : code == K_OR ? N_OR : N_NOR, json_array_size(v));
	if (!*out)
		return nomem(c);
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);

		if ((rc = enter(c, NULL, i)) != SESAME_OK)
			return rc;
		if (left && !json_is_object(e))
			return cerr(c, "type",
				    "each element of \"%s\" here must be an operator object like {\"$gt\": 0}", key);
		rc = left ? compile_cond(c, left, e, level + 1, &(*out)->kids[i])
			  : compile_expr(c, e, level + 1, &(*out)->kids[i]);
		if (rc != SESAME_OK)
			return rc;
		c->depth--;
		(*out)->n++;
	}
	return SESAME_OK;
}

static struct rnode *cmp_node(struct rx_compiler *c, enum rop op, const struct operand *left)
{
	struct rnode *n = new_node(c, N_CMP, 0);

	if (n) {
		n->op = op;
		n->left = *left;
	}
	return n;
}

/* One "$op": value of an operator object applied to `left`. */
static int compile_operator(struct rx_compiler *c, const struct operand *left, const char *key, int code,
			    const json_t *v, unsigned level, struct rnode **out)
{
	struct rnode *n;
	size_t i;
	int rc;

	if (code == K_AND || code == K_OR || code == K_NOR) {
		if (c->mode == RX_QUERY)
			return cerr(c, "operator", "\"%s\" is not an operator of a field", key);
		return compile_list(c, key, code, v, left, level, out);
	}
	if (!(n = cmp_node(c, (enum rop)code, left)))
		return nomem(c);
	*out = n;
	switch (code) {
	case OP_EXISTS:
		if (!json_is_boolean(v))
			return cerr(c, "type", "\"%s\" takes true or false", key);
		n->exists = json_is_true(v);
		return SESAME_OK;
	case OP_GT:
	case OP_GTE:
	case OP_LT:
	case OP_LTE:
		if ((rc = compile_operand(c, v, &n->right)) != SESAME_OK)
			return rc;
		if (n->right.src == SRC_LIT && !json_is_number(v) && !json_is_string(v))
			return cerr(c, "type", "\"%s\" compares with a number or a string", key);
		return SESAME_OK;
	case OP_IN:
	case OP_NIN:
		if (c->mode == RX_RULE && is_expansion(v))
			return parse_expansion(c, json_string_value(v), json_string_length(v), &n->right);
		if (!json_is_array(v))
			return cerr(c, "type", "\"%s\" takes an array%s", key,
				    c->mode == RX_RULE ? " or an expansion" : "");
		if (json_array_size(v) > RULES_MAX_LIST && c->d)
			return cerr(c, "size", "\"%s\" has more than %d elements", key, RULES_MAX_LIST);
		n->right.src = SRC_LIST;
		n->right.n_items = json_array_size(v);
		n->right.items = arena_alloc(c->arena, (n->right.n_items + 1) * sizeof(*n->right.items));
		if (!n->right.items)
			return nomem(c);
		for (i = 0; i < json_array_size(v); i++) {
			if ((rc = enter(c, NULL, i)) != SESAME_OK)
				return rc;
			rc = compile_operand(c, json_array_get(v, i), &n->right.items[i]);
			if (rc != SESAME_OK)
				return rc;
			c->depth--;
		}
		return SESAME_OK;
	case OP_ELEMMATCH: {
		struct operand elem = {.src = SRC_ELEM};

		if (!json_is_object(v) || json_object_size(v) == 0)
			return cerr(c, "type", "\"$elemMatch\" takes an operator object such as {\"$in\": [...]}");
		n->kids = arena_alloc(c->arena, sizeof(*n->kids));
		if (!n->kids)
			return nomem(c);
		n->n = 1;
		return compile_cond(c, &elem, v, level + 1, &n->kids[0]);
	}
	default: /* OP_EQ, OP_NE */
		return compile_operand(c, v, &n->right);
	}
}

/* The condition on `left` that value `v` states: an operator object, or a value to equal. */
static int compile_cond(struct rx_compiler *c, const struct operand *left, const json_t *v, unsigned level,
			struct rnode **out)
{
	const char *key;
	json_t *m;
	size_t i = 0, ops = 0;
	int rc;

	if (level > RULES_MAX_DEPTH)
		return cerr(c, "depth", "expression nested deeper than %d levels", RULES_MAX_DEPTH);
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, key, m)
			ops += is_operator_key(key);
	}
	if (ops == 0) {
		struct rnode *n = cmp_node(c, OP_EQ, left);

		if (!n)
			return nomem(c);
		*out = n;
		return compile_operand(c, v, &n->right);
	}
	if (ops != json_object_size(v))
		return cerr(c, "type",
			    "an object mixes operators and field names; write the fields as a literal "
			    "value with {\"$eq\": ...}");
	*out = new_node(c, N_AND, json_object_size(v));
	if (!*out)
		return nomem(c);
	json_object_foreach ((json_t *)v, key, m) {
		int code = operator_code(c, key);

		if ((rc = enter(c, key, 0)) != SESAME_OK)
			return rc;
		if (code < 0)
			return cerr(
			    c, "operator",
			    "unknown or unsupported operator \"%s\" (sesame knows $eq $ne $gt $gte $lt $lte $in "
			    "$nin $exists%s, with %s)",
			    key, c->mode == RX_QUERY ? " $elemMatch" : " %and %or",
			    c->mode == RX_QUERY ? "$" : "% or $");
		rc = compile_operator(c, left, key, code, m, level, &(*out)->kids[i]);
		if (rc != SESAME_OK)
			return rc;
		c->depth--;
		(*out)->n = ++i;
	}
	if ((*out)->n == 1)
		*out = (*out)->kids[0];
	return SESAME_OK;
}

static int compile_expr(struct rx_compiler *c, const json_t *v, unsigned level, struct rnode **out)
{
	const char *key;
	json_t *m;
	size_t i = 0;
	int rc;

	if (level > RULES_MAX_DEPTH)
		return cerr(c, "depth", "expression nested deeper than %d levels", RULES_MAX_DEPTH);
	if (json_is_boolean(v) && c->mode == RX_RULE) {
		*out = new_node(c, json_is_true(v) ? N_TRUE : N_FALSE, 0);
		return *out ? SESAME_OK : nomem(c);
	}
	if (!json_is_object(v))
		return cerr(c, "type",
			    c->mode == RX_RULE ? "expected true, false or an expression object"
					       : "expected a query object");
	if (json_object_size(v) == 0) {
		*out = new_node(c, N_TRUE, 0);
		return *out ? SESAME_OK : nomem(c);
	}
	*out = new_node(c, N_AND, json_object_size(v));
	if (!*out)
		return nomem(c);
	json_object_foreach ((json_t *)v, key, m) {
		struct rnode **kid = &(*out)->kids[i];
		struct operand left;
		int code = operator_code(c, key);

		if ((rc = enter(c, key, 0)) != SESAME_OK)
			return rc;
		if (code == K_AND || code == K_OR || code == K_NOR) {
			rc = compile_list(c, key, code, m, NULL, level, kid);
		} else if (c->mode == RX_RULE && strncmp(key, "%%", 2) == 0) {
			rc = parse_expansion(c, key, strlen(key), &left);
			if (rc == SESAME_OK)
				rc = compile_cond(c, &left, m, level + 1, kid);
		} else if (is_operator_key(key)) {
			rc = cerr(c, "operator",
				  "\"%s\" is not an operator sesame knows at this place (a field or an expansion comes "
				  "first, e.g. {\"field\": {\"%s\": ...}}; $and, $or and $nor take a list)",
				  key, key);
		} else {
			memset(&left, 0, sizeof(left));
			left.src = SRC_ROOT;
			if (c->mode == RX_RULE && !(c->allow & (1u << SRC_ROOT)))
				rc = cerr(c, "expansion",
					  "the field \"%s\" (%%%%root.%s) cannot be used here: only the user is known",
					  key, key);
			else
				rc = parse_path(c, key, strlen(key), &left.path);
			c->refs |= 1u << SRC_ROOT;
			if (rc == SESAME_OK)
				rc = compile_cond(c, &left, m, level + 1, kid);
		}
		if (rc != SESAME_OK)
			return rc;
		c->depth--;
		(*out)->n = ++i;
	}
	if ((*out)->n == 1)
		*out = (*out)->kids[0];
	return SESAME_OK;
}

int rx_compile(struct rx_compiler *c, const json_t *v, struct rnode **out)
{
	size_t depth = c->depth;
	int rc = compile_expr(c, v, 0, out);

	if (rc != SESAME_OK && c->err && c->err->status == SESAME_OK)
		c->err->status = bad_status(c);
	c->depth = depth;
	return rc;
}

/* ---- evaluating ---------------------------------------------------------------- */

/* The values a path reaches (MongoDB's traversal of arrays). */
struct cands {
	const json_t *small[8];
	const json_t **v;
	size_t n, cap;
};

static void cands_init(struct cands *c)
{
	c->v = c->small;
	c->n = 0;
	c->cap = ARRAY_SIZE(c->small);
}

static void cands_free(struct cands *c)
{
	if (c->v != c->small)
		free(c->v);
}

static void cands_push(struct cands *c, const json_t *v)
{
	if (c->n == c->cap) {
		size_t cap = c->cap * 2;
		const json_t **p = c->v == c->small ? malloc(cap * sizeof(*p)) : realloc(c->v, cap * sizeof(*p));

		/* Out of memory: fewer candidates.  Documents are bounded
		 * (RULES_DOC_MAX_VALUES), so this is only ever exhaustion. */
		if (!p)
			return;
		if (c->v == c->small)
			memcpy(p, c->small, sizeof(c->small));
		c->v = p;
		c->cap = cap;
	}
	c->v[c->n++] = v;
}

static void collect(const json_t *v, const struct rseg *s, size_t n, struct cands *out)
{
	const json_t *child;
	size_t i;

	if (n == 0) {
		cands_push(out, v);
		return;
	}
	if (json_is_object(v)) {
		if ((child = json_object_get(v, s->name)) != NULL)
			collect(child, s + 1, n - 1, out);
	} else if (json_is_array(v)) {
		if (s->index >= 0 && (child = json_array_get(v, (size_t)s->index)) != NULL)
			collect(child, s + 1, n - 1, out);
		for (i = 0; i < json_array_size(v); i++)
			if (json_is_object(json_array_get(v, i)))
				collect(json_array_get(v, i), s, n, out);
	}
}

static const json_t *source(const struct operand *o, const struct rx_env *env)
{
	switch (o->src) {
	case SRC_USER:
		return env->user;
	case SRC_ROOT:
		return env->root;
	case SRC_PREVROOT:
		return env->prev_root;
	case SRC_THIS:
		return env->this_;
	case SRC_PREV:
		return env->prev;
	case SRC_ELEM:
		return env->elem;
	default:
		return o->lit;
	}
}

static void resolve(const struct operand *o, const struct rx_env *env, struct cands *c)
{
	const json_t *from = source(o, env);

	if (from)
		collect(from, o->path.segs, o->path.n, c);
}

/* Does any l of `left` equal (by the node's semantics) any r of `right`? */
static bool any_equal(const struct rnode *n, const struct cands *left, const struct cands *right)
{
	size_t i, j;

	for (i = 0; i < left->n; i++)
		for (j = 0; j < right->n; j++)
			if (n->mongo ? mongo_match(left->v[i], right->v[j]) : rule_match(left->v[i], right->v[j]))
				return true;
	return false;
}

static void null_if_missing(struct cands *c)
{
	if (c->n == 0)
		cands_push(c, json_null());
}

/* The elements an $in looks through: a list's items, or the elements of
 * the arrays an expansion reaches. */
static void in_elements(const struct rnode *n, const struct rx_env *env, struct cands *out)
{
	size_t i, j;

	if (n->right.src == SRC_LIST) {
		for (i = 0; i < n->right.n_items; i++) {
			struct cands one;

			cands_init(&one);
			resolve(&n->right.items[i], env, &one);
			null_if_missing(&one);
			for (j = 0; j < one.n; j++)
				cands_push(out, one.v[j]);
			cands_free(&one);
		}
		return;
	}
	{
		struct cands arrays;

		cands_init(&arrays);
		resolve(&n->right, env, &arrays);
		for (i = 0; i < arrays.n; i++)
			if (json_is_array(arrays.v[i]))
				for (j = 0; j < json_array_size(arrays.v[i]); j++)
					cands_push(out, json_array_get(arrays.v[i], j));
		cands_free(&arrays);
	}
}

static bool eval_cmp(const struct rnode *n, const struct rx_env *env)
{
	struct cands l, r;
	bool res = false;
	size_t i, j;

	cands_init(&l);
	cands_init(&r);
	resolve(&n->left, env, &l);
	switch (n->op) {
	case OP_EXISTS:
		res = (l.n > 0) == n->exists;
		break;
	case OP_EQ:
	case OP_NE:
		resolve(&n->right, env, &r);
		null_if_missing(&l);
		null_if_missing(&r);
		res = any_equal(n, &l, &r) == (n->op == OP_EQ);
		break;
	case OP_IN:
	case OP_NIN:
		in_elements(n, env, &r);
		null_if_missing(&l);
		res = any_equal(n, &l, &r) == (n->op == OP_IN);
		break;
	case OP_ELEMMATCH:
		for (i = 0; i < l.n && !res; i++)
			for (j = 0; json_is_array(l.v[i]) && j < json_array_size(l.v[i]) && !res; j++) {
				struct rx_env sub = *env;

				sub.elem = json_array_get(l.v[i], j);
				res = rx_eval(n->kids[0], &sub);
			}
		break;
	default: /* ordered */
		resolve(&n->right, env, &r);
		for (i = 0; i < l.n && !res; i++)
			for (j = 0; j < r.n && !res; j++)
				res = n->mongo ? (json_is_number(r.v[j]) || json_is_string(r.v[j])) &&
						     order_match(l.v[i], r.v[j], n->op)
					       : order_match(l.v[i], r.v[j], n->op);
		break;
	}
	cands_free(&l);
	cands_free(&r);
	return res;
}

bool rx_eval(const struct rnode *n, const struct rx_env *env)
{
	size_t i;

	switch (n->kind) {
	case N_TRUE:
		return true;
	case N_FALSE:
		return false;
	case N_AND:
		for (i = 0; i < n->n; i++)
			if (!rx_eval(n->kids[i], env))
				return false;
		return true;
	case N_OR:
		for (i = 0; i < n->n; i++)
			if (rx_eval(n->kids[i], env))
				return true;
		return false;
	case N_NOR:
		for (i = 0; i < n->n; i++)
			if (rx_eval(n->kids[i], env))
				return false;
		return true;
	default:
		return eval_cmp(n, env);
	}
}

/* ---- emitting MongoDB filters ----------------------------------------------------- */

void rx_out_free(struct rx_out *o)
{
	json_decref(o->q);
	o->q = NULL;
}

static struct rx_out out_const(bool v)
{
	struct rx_out o = {v ? RX_OUT_TRUE : RX_OUT_FALSE, NULL};

	return o;
}

static struct rx_out out_query(json_t *q)
{
	struct rx_out o = {RX_OUT_QUERY, q};

	/* Out of memory building a query: nothing is selected (fail closed). */
	if (!q)
		o.kind = RX_OUT_FALSE;
	return o;
}

/* {op: [a, b]}, flattening an operand that is already {op: [...]}. */
static json_t *join(const char *op, json_t *a, json_t *b)
{
	json_t *list = json_array(), *parts[2] = {a, b};
	size_t i;

	for (i = 0; list && i < 2; i++) {
		json_t *inner = json_object_get(parts[i], op);

		if (json_object_size(parts[i]) == 1 && json_is_array(inner))
			json_array_extend(list, inner);
		else
			json_array_append(list, parts[i]);
	}
	json_decref(a);
	json_decref(b);
	return list ? json_pack("{s:o}", op, list) : NULL;
}

struct rx_out rx_out_and(struct rx_out a, struct rx_out b)
{
	if (a.kind == RX_OUT_FALSE || b.kind == RX_OUT_FALSE) {
		rx_out_free(&a);
		rx_out_free(&b);
		return out_const(false);
	}
	if (a.kind == RX_OUT_TRUE)
		return b;
	if (b.kind == RX_OUT_TRUE)
		return a;
	return out_query(join("$and", a.q, b.q));
}

/* Whether `a` is {"$nor": [b]}: a role applying where an earlier one does
 * not, with the same grants, ORs to everything. */
static bool negates(const json_t *a, const json_t *b)
{
	const json_t *nor = json_object_get(a, "$nor");

	return json_object_size(a) == 1 && json_array_size(nor) == 1 && json_equal(json_array_get(nor, 0), (json_t *)b);
}

struct rx_out rx_out_or(struct rx_out a, struct rx_out b)
{
	if (a.kind == RX_OUT_QUERY && b.kind == RX_OUT_QUERY && (negates(a.q, b.q) || negates(b.q, a.q))) {
		rx_out_free(&a);
		rx_out_free(&b);
		return out_const(true);
	}
	if (a.kind == RX_OUT_TRUE || b.kind == RX_OUT_TRUE) {
		rx_out_free(&a);
		rx_out_free(&b);
		return out_const(true);
	}
	if (a.kind == RX_OUT_FALSE)
		return b;
	if (b.kind == RX_OUT_FALSE)
		return a;
	return out_query(join("$or", a.q, b.q));
}

struct rx_out rx_out_not(struct rx_out a)
{
	if (a.kind != RX_OUT_QUERY)
		return out_const(a.kind == RX_OUT_FALSE);
	return out_query(json_pack("{s:[o]}", "$nor", a.q));
}

json_t *rx_out_query(struct rx_out *o)
{
	if (o->kind == RX_OUT_TRUE)
		return json_object();
	if (o->kind == RX_OUT_FALSE)
		return json_pack("{s:{s:[]}}", "_id", "$in");
	return json_incref(o->q);
}

/* Whether an operand is a value of the document the filter selects: %%this
 * and %%prev are only where a field's permission is emitted. */
static bool doc_side_in(const struct operand *o, const struct rx_emit_env *env)
{
	return o->src == SRC_ROOT || o->src == SRC_PREVROOT ||
	       ((o->src == SRC_THIS || o->src == SRC_PREV) && env && env->field);
}

/* The field path, in the document a filter selects, of a document-side operand. */
static char *field_path(const struct operand *o, const struct rx_emit_env *env)
{
	const struct rpath *parts[2] = {NULL, &o->path};
	size_t len = 0, i, k;
	char *s, *p;

	if (o->src == SRC_THIS || o->src == SRC_PREV)
		parts[0] = env->field;
	for (k = 0; k < 2; k++)
		for (i = 0; parts[k] && i < parts[k]->n; i++)
			len += parts[k]->segs[i].len + 1;
	if (len == 0)
		return NULL; /* the whole document */
	s = p = malloc(len);
	if (!s)
		return NULL;
	for (k = 0; k < 2; k++)
		for (i = 0; parts[k] && i < parts[k]->n; i++) {
			if (p != s)
				*p++ = '.';
			memcpy(p, parts[k]->segs[i].name, parts[k]->segs[i].len);
			p += parts[k]->segs[i].len;
		}
	*p = '\0';
	return s;
}

/* The values of a user-side operand (the user, a literal). */
static void resolve_const(const struct operand *o, const struct rx_emit_env *env, struct cands *c)
{
	struct rx_env e = {.user = env->user};

	resolve(o, &e, c);
}

/* [v] plus v's elements when v is an array: what MongoDB's $in needs to
 * find what the rule language's equality finds. */
static void expand_into(json_t *list, const json_t *v)
{
	size_t i;

	json_array_append(list, (json_t *)v);
	if (json_is_array(v))
		for (i = 0; i < json_array_size(v); i++)
			json_array_append(list, json_array_get(v, i));
}

/* {path: c} for one plain value c, else {path: {"$in": expand(cs)}}. */
static struct rx_out emit_equal(const char *path, const struct cands *cs)
{
	json_t *list;
	size_t i;

	if (cs->n == 1 && !json_is_array(cs->v[0]))
		return out_query(json_is_object(cs->v[0]) ? json_pack("{s:{s:O}}", path, "$eq", cs->v[0])
							  : json_pack("{s:O}", path, cs->v[0]));
	list = json_array();
	for (i = 0; list && i < cs->n; i++)
		expand_into(list, cs->v[i]);
	return out_query(list ? json_pack("{s:{s:o}}", path, "$in", list) : NULL);
}

static enum rop flip(enum rop op)
{
	return op == OP_GT ? OP_LT : op == OP_GTE ? OP_LTE : op == OP_LT ? OP_GT : op == OP_LTE ? OP_GTE : op;
}

static const char *op_name(enum rop op)
{
	return op == OP_GT ? "$gt" : op == OP_GTE ? "$gte" : op == OP_LT ? "$lt" : "$lte";
}

static int not_expressible(sesame_error *err, const char *what)
{
	return seterr(err, SESAME_REJECTED, "filter",
		      "%s: a MongoDB query filter cannot express it (the decision for a document can)", what);
}

static bool same_place(const struct operand *a, const struct operand *b)
{
	size_t i;
	bool fa = a->src == SRC_THIS || a->src == SRC_PREV, fb = b->src == SRC_THIS || b->src == SRC_PREV;

	if (fa != fb || a->path.n != b->path.n)
		return false;
	for (i = 0; i < a->path.n; i++)
		if (strcmp(a->path.segs[i].name, b->path.segs[i].name) != 0)
			return false;
	return true;
}

/* left OP right, where at least one side is in the document. */
static int emit_cmp(const struct rnode *n, const struct rx_emit_env *env, struct rx_out *out, sesame_error *err)
{
	const struct operand *docop = doc_side_in(&n->left, env) ? &n->left : &n->right;
	const struct operand *other = docop == &n->left ? &n->right : &n->left;
	enum rop op = docop == &n->left ? n->op : flip(n->op);
	struct cands cs;
	char *path;
	size_t i;
	int rc = SESAME_OK;

	if (doc_side_in(&n->left, env) && doc_side_in(&n->right, env) && n->op != OP_IN && n->op != OP_NIN) {
		/* %%this against %%prev in a filter: both are the stored field. */
		if ((n->op == OP_EQ || n->op == OP_NE) && same_place(&n->left, &n->right)) {
			*out = out_const(n->op == OP_EQ);
			return SESAME_OK;
		}
		return not_expressible(err, "a comparison of two values of the document");
	}
	path = field_path(docop, env);
	if (!path)
		return not_expressible(err, "a comparison with the whole document");
	cands_init(&cs);
	switch (n->op) {
	case OP_EXISTS:
		*out = out_query(json_pack("{s:{s:b}}", path, "$exists", n->exists));
		break;
	case OP_EQ:
	case OP_NE:
		resolve_const(other, env, &cs);
		null_if_missing(&cs);
		if (n->op == OP_NE && cs.n == 1 && !json_is_array(cs.v[0])) {
			/* MongoDB's $ne is exactly the negation of equality with one value. */
			*out = out_query(json_pack("{s:{s:O}}", path, "$ne", cs.v[0]));
			break;
		}
		*out = emit_equal(path, &cs);
		if (n->op == OP_NE)
			*out = rx_out_not(*out);
		break;
	case OP_GT:
	case OP_GTE:
	case OP_LT:
	case OP_LTE:
		*out = out_const(false);
		resolve_const(other, env, &cs);
		for (i = 0; i < cs.n; i++) {
			const json_t *v = cs.v[i];
			size_t j, k = json_is_array(v) ? json_array_size(v) : 1;

			for (j = 0; j < k; j++) {
				const json_t *x = json_is_array(v) ? json_array_get(v, j) : v;

				if (json_is_number(x) || json_is_string(x))
					*out = rx_out_or(*out, out_query(json_pack("{s:{s:O}}", path, op_name(op), x)));
			}
		}
		break;
	default: /* OP_IN, OP_NIN with an expansion on the right (lists: emit_in()) */
		if (docop == &n->left && doc_side_in(&n->right, env)) {
			rc = not_expressible(err, "an $in between two values of the document");
		} else if (docop == &n->left) {
			struct rx_env e = {.user = env->user};
			json_t *list = json_array();

			in_elements(n, &e, &cs);
			for (i = 0; list && i < cs.n; i++)
				expand_into(list, cs.v[i]);
			*out = cs.n == 0 ? out_const(false)
					 : out_query(list ? json_pack("{s:{s:O}}", path, "$in", list) : NULL);
			json_decref(list);
		} else {
			/* a user-side value $in an array of the document */
			json_t *list = json_array();

			resolve_const(&n->left, env, &cs);
			null_if_missing(&cs);
			for (i = 0; list && i < cs.n; i++)
				expand_into(list, cs.v[i]);
			*out = out_query(list ? json_pack("{s:{s:{s:o}}}", path, "$elemMatch", "$in", list) : NULL);
		}
		if (rc == SESAME_OK && n->op == OP_NIN)
			*out = rx_out_not(*out);
		break;
	}
	cands_free(&cs);
	free(path);
	if (rc != SESAME_OK)
		rx_out_free(out);
	return rc;
}

/* left $in [items...]: an OR of equalities, the constant ones merged
 * into one $in when the left side is in the document. */
static int emit_in(const struct rnode *n, const struct rx_emit_env *env, struct rx_out *out, sesame_error *err)
{
	struct rx_env e = {.user = env->user};
	struct cands consts;
	size_t i;
	int rc = SESAME_OK;

	cands_init(&consts);
	*out = out_const(false);
	for (i = 0; i < n->right.n_items && rc == SESAME_OK; i++) {
		struct rnode eq = *n;
		struct rx_out part;

		eq.op = OP_EQ;
		eq.right = n->right.items[i];
		if (doc_side_in(&eq.left, env) && !doc_side_in(&eq.right, env)) {
			struct cands one;
			size_t j;

			cands_init(&one);
			resolve(&eq.right, &e, &one);
			null_if_missing(&one);
			for (j = 0; j < one.n; j++)
				cands_push(&consts, one.v[j]);
			cands_free(&one);
			continue;
		}
		if (doc_side_in(&eq.left, env) || doc_side_in(&eq.right, env))
			rc = emit_cmp(&eq, env, &part, err);
		else
			part = out_const(rx_eval(&eq, &e));
		if (rc == SESAME_OK)
			*out = rx_out_or(*out, part);
	}
	if (rc == SESAME_OK && consts.n > 0) {
		char *path = field_path(&n->left, env);
		json_t *list = json_array();

		for (i = 0; list && i < consts.n; i++)
			expand_into(list, consts.v[i]);
		if (!path)
			rc = not_expressible(err, "a comparison with the whole document");
		else
			*out = rx_out_or(*out, out_query(list ? json_pack("{s:{s:O}}", path, "$in", list) : NULL));
		json_decref(list);
		free(path);
	}
	cands_free(&consts);
	if (rc != SESAME_OK) {
		rx_out_free(out);
		return rc;
	}
	if (n->op == OP_NIN)
		*out = rx_out_not(*out);
	return SESAME_OK;
}

static bool mentions_doc(const struct rnode *n, const struct rx_emit_env *env)
{
	size_t i;

	if (n->kind != N_CMP)
		return false;
	if (doc_side_in(&n->left, env) || doc_side_in(&n->right, env))
		return true;
	if (n->right.src == SRC_LIST)
		for (i = 0; i < n->right.n_items; i++)
			if (doc_side_in(&n->right.items[i], env))
				return true;
	return false;
}

int rx_emit(const struct rnode *n, const struct rx_emit_env *env, struct rx_out *out, sesame_error *err)
{
	size_t i;
	int rc;

	switch (n->kind) {
	case N_TRUE:
	case N_FALSE:
		*out = out_const(n->kind == N_TRUE);
		return SESAME_OK;
	case N_AND:
	case N_OR:
	case N_NOR:
		/* AND folds from true; OR and NOR from false, NOR negated at the end. */
		*out = out_const(n->kind == N_AND);
		for (i = 0; i < n->n; i++) {
			struct rx_out part;

			rc = rx_emit(n->kids[i], env, &part, err);
			if (rc != SESAME_OK) {
				rx_out_free(out);
				return rc;
			}
			*out = n->kind == N_AND ? rx_out_and(*out, part) : rx_out_or(*out, part);
		}
		if (n->kind == N_NOR)
			*out = rx_out_not(*out);
		return SESAME_OK;
	default:
		if (!mentions_doc(n, env)) {
			struct rx_env e = {.user = env->user};

			*out = out_const(rx_eval(n, &e));
			return SESAME_OK;
		}
		if ((n->op == OP_IN || n->op == OP_NIN) && n->right.src == SRC_LIST)
			return emit_in(n, env, out, err);
		return emit_cmp(n, env, out, err);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * core/rules.h — the rules engine's internals, shared by core/rules.c (rule
 * files, roles, decisions, the public API) and core/rules-expr.c (rule
 * expressions and MongoDB query filters: compiling, evaluating, emitting).
 *
 * A rule file is compiled once, at load, into typed nodes allocated from
 * one arena per file; a decision walks the nodes and never looks at the
 * rule file's JSON again (literal values are borrowed from its parsed
 * tree, kept alive with the nodes).
 */
#ifndef SESAME_RULES_H
#define SESAME_RULES_H

#include "internal.h"

/* Limits (sesame-rules(5), LIMITS). */
#define RULES_MAX_DEPTH 32	    /* nesting of expressions, field permissions and paths */
#define RULES_MAX_LIST 4096	    /* elements of one %and/%or/$in list in a rule file */
#define RULES_MAX_ROLES 128	    /* roles, and filters, of one rule file */
#define RULES_MAX_NAME 128	    /* bytes of a role, filter or field name */
#define RULES_DOC_MAX_DEPTH 32	    /* nesting of a document, prev or filter */
#define RULES_DOC_MAX_VALUES 100000 /* values in a document, prev or filter */

/* ---- arena: the nodes of one rule file, freed at once ---------------- */

struct arena_block;
struct arena {
	struct arena_block *head;
};

/* Zeroed memory from the arena, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t size);
void arena_free(struct arena *a);

/* ---- expressions ------------------------------------------------------ */

/* One step of a dot path; `index` is the step as an array index, or -1. */
struct rseg {
	const char *name;
	size_t len;
	long index;
};

struct rpath {
	struct rseg *segs;
	size_t n;
};

/* Where an operand's value comes from. */
enum rsrc {
	SRC_LIT,      /* a literal JSON value */
	SRC_LIST,     /* a literal array whose elements may be expansions ($in) */
	SRC_USER,     /* %%user.PATH */
	SRC_ROOT,     /* %%root.PATH, or a bare field name */
	SRC_PREVROOT, /* %%prevRoot.PATH */
	SRC_THIS,     /* %%this.PATH: the field's value */
	SRC_PREV,     /* %%prev.PATH: the field's previous value */
	SRC_ELEM,     /* the array element an $elemMatch looks at */
};

struct operand {
	enum rsrc src;
	const json_t *lit; /* SRC_LIT */
	struct rpath path;
	struct operand *items; /* SRC_LIST */
	size_t n_items;
};

enum rop { OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_NIN, OP_EXISTS, OP_ELEMMATCH };
enum rkind { N_TRUE, N_FALSE, N_AND, N_OR, N_NOR, N_CMP };

struct rnode {
	enum rkind kind;
	struct rnode **kids; /* N_AND, N_OR, N_NOR; N_CMP with OP_ELEMMATCH: the element's conditions */
	size_t n;
	enum rop op; /* N_CMP */
	struct operand left, right;
	bool exists; /* OP_EXISTS */
	bool mongo;  /* MongoDB's equality ($in, $eq) rather than the rule language's (RX_QUERY) */
};

/* What an expression may refer to (bits of 1 << SRC_*). */
#define RX_USER (1u << SRC_USER)
#define RX_DOC ((1u << SRC_ROOT) | (1u << SRC_PREVROOT))
#define RX_FIELD ((1u << SRC_THIS) | (1u << SRC_PREV))

enum rx_mode {
	RX_RULE,  /* a rule expression: expansions, operators with % or $ */
	RX_QUERY, /* a MongoDB filter for sesame_rules_match(): $ operators, every value literal */
};

/* The state of one compilation. */
struct rx_compiler {
	const struct doc *d; /* for FILE:LINE:COL; NULL: plain messages */
	struct arena *arena;
	enum rx_mode mode;
	unsigned allow;				   /* RX_* the expression may refer to */
	const char *where;			   /* for messages: "apply_when", "fields.x.read", ... */
	struct seg path[RULES_MAX_DEPTH * 4 + 16]; /* where the value is in the file */
	size_t depth;
	unsigned refs; /* RX_* bits the expression turned out to use */
	sesame_error *err;
};

/*
 * Compile `v` (true, false or an expression object; a query object in
 * RX_QUERY mode) into `*out`.  c->path[0..c->depth) must lead to `v`.
 * SESAME_CONFIG (RX_RULE) or SESAME_MALFORMED (RX_QUERY) with a message
 * naming the place and what is wrong; reasons "type", "operator",
 * "expansion", "depth", "size".
 */
int rx_compile(struct rx_compiler *c, const json_t *v, struct rnode **out);

/* What an expression is evaluated against.  NULL members are missing. */
struct rx_env {
	const json_t *user;
	const json_t *root, *prev_root;
	const json_t *this_, *prev;
	const json_t *elem;
};

bool rx_eval(const struct rnode *n, const struct rx_env *env);

/*
 * Emitting a node as a MongoDB query on one document: %%user expansions are
 * substituted, document references become field paths.  A result is
 * constant (true or false) or a query.
 */
struct rx_out {
	enum { RX_OUT_TRUE, RX_OUT_FALSE, RX_OUT_QUERY } kind;
	json_t *q; /* RX_OUT_QUERY: a new reference */
};

/* The document the filter selects, and the field %%this and %%prev stand for. */
struct rx_emit_env {
	const json_t *user;
	const struct rpath *field; /* NULL: %%this and %%prev are missing (additional_fields, outside fields) */
};

/*
 * Emit `n`; SESAME_REJECTED with reason "filter" (and a message saying
 * what) when the expression compares two document values, which a query
 * cannot express.
 */
int rx_emit(const struct rnode *n, const struct rx_emit_env *env, struct rx_out *out, sesame_error *err);
/* Combinators with constant folding; they steal the references of `a`, `b`. */
struct rx_out rx_out_and(struct rx_out a, struct rx_out b);
struct rx_out rx_out_or(struct rx_out a, struct rx_out b);
struct rx_out rx_out_not(struct rx_out a);
void rx_out_free(struct rx_out *o);
/* The query of `o`: {} for true, {"_id": {"$in": []}} for false.  A new reference. */
json_t *rx_out_query(struct rx_out *o);

/*
 * Check a document, prev or filter given at run time: nesting at most
 * RULES_DOC_MAX_DEPTH, at most RULES_DOC_MAX_VALUES values.
 * SESAME_MALFORMED with reason "depth" or "size" naming `what`.
 */
int rx_check_value(const json_t *v, const char *what, sesame_error *err);

/* Deep equality with numbers compared by value (1 == 1.0). */
bool rx_equal(const json_t *a, const json_t *b);

/* ---- rule files --------------------------------------------------------- */

/* A field's permissions; `fields` are those of its embedded fields. */
struct field_perm {
	char *name;
	struct rpath path;	    /* from the document's top */
	struct rnode *read, *write; /* NULL: not granted */
	struct field_perm *fields;
	size_t n_fields;
};

struct role {
	char *name;
	struct rnode *apply_when;		  /* never NULL ({} is N_TRUE) */
	struct rnode *filter_read, *filter_write; /* document_filters; NULL: none */
	struct rnode *read, *write;		  /* NULL: not granted */
	struct rnode *insert, *delete_, *search;  /* NULL: the default, true */
	struct field_perm *fields;
	size_t n_fields;
	struct rnode *more_read, *more_write; /* additional_fields; NULL: not granted */
};

/* An entry of "filters": a query merged into every request it applies to. */
struct query_filter {
	char *name;
	struct rnode *apply_when;
	struct rnode *query; /* NULL: none */
	json_t *projection;  /* NULL: none; else {FIELD: true/false} */
	bool inclusion;	     /* the projection lists the fields kept */
};

/* One rule file, compiled, or the reason it could not be. */
struct ruleset {
	char *name;   /* "DATABASE.COLLECTION" or "default" */
	char *source; /* the file */
	bool failed;
	char error[SESAME_ERROR_TEXT_LENGTH];
	struct arena arena;
	json_t *root; /* the parsed file: literals point into it */
	struct role *roles;
	size_t n_roles;
	struct query_filter *filters;
	size_t n_filters;
};

/* Compile the rule file `path` for namespace `name` into `rs` (rs->failed
 * and rs->error on failure, as `err`). */
int ruleset_load(struct ruleset *rs, const char *name, const char *path, sesame_error *err);
void ruleset_free(struct ruleset *rs);

/* Every rule file of a context. */
struct rules {
	struct ruleset *sets; /* sorted by name; "default" among them */
	size_t n;
	bool failed; /* the directories could not be read: everything is denied */
	char error[SESAME_ERROR_TEXT_LENGTH];
};

int rules_load(struct rules *r, const struct config *cfg, const struct logger *lg, sesame_error *err);
void rules_free(struct rules *r);
/* The rule file that governs namespace `ns`: its own, else default.json,
 * else NULL. */
const struct ruleset *rules_find(const struct rules *r, const char *ns);

enum rules_action { ACT_READ, ACT_INSERT, ACT_WRITE, ACT_DELETE, ACT_SEARCH };

/* Parse an action name; false when unknown. */
bool rules_action_parse(const char *name, enum rules_action *act);

/*
 * The decision of `rs` (NULL: no rules, everything denied) for `user`
 * (the %%user object; NULL: the system user) doing `act` to `document`
 * (and `prev` for a write).  `*decision` as sesame_rules_evaluate() says.
 * Documents are checked (rx_check_value) by the caller.
 */
int rules_decide(const struct ruleset *rs, const json_t *user, enum rules_action act, const json_t *document,
		 const json_t *prev, json_t **decision, sesame_error *err);

/* The query filter of `rs` for `user` (NULL: system) and ACT_READ or
 * ACT_WRITE: {"filter": F}. */
int rules_filter(const struct ruleset *rs, const json_t *user, enum rules_action act, json_t **filter,
		 sesame_error *err);

/*
 * rules_decide() and rules_filter() with their arguments checked as the
 * API checks them: the action by name, documents (objects within the
 * limits), prev only and always for a write.  What sesame_rules_evaluate()
 * and sesame_rules_filter() run once they know the rule file and the user.
 */
int rules_request(const struct ruleset *rs, const json_t *user, const char *action, const json_t *document,
		  const json_t *prev, json_t **decision, sesame_error *err);
int rules_filter_request(const struct ruleset *rs, const json_t *user, const char *action, json_t **filter,
			 sesame_error *err);

#endif /* SESAME_RULES_H */

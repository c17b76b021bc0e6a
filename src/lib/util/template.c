#include "util/template.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* ---------- the parsed form ---------- */

enum arg_kind { A_FIELD, A_STRING, A_NUMBER, A_BOOL, A_FUNC };

struct arg {
	enum arg_kind kind;
	bool root;   /* A_FIELD: from $ (the whole value), not from dot */
	char **path; /* A_FIELD: member names, NULL-terminated (empty = ".") */
	char *s;     /* A_STRING */
	long long n; /* A_NUMBER, A_BOOL */
	int func;    /* A_FUNC: index into funcs[] */
};

/* One command of a pipeline: a function and its arguments, or a single operand. */
struct cmd {
	struct arg *v;
	size_t n;
};

struct pipeline {
	struct cmd *v;
	size_t n;
};

enum node_kind { N_TEXT, N_PIPE, N_RANGE, N_IF, N_WITH };

struct node;

struct nodes {
	struct node **v;
	size_t n;
};

struct node {
	enum node_kind kind;
	char *text;		/* N_TEXT */
	struct pipeline pipe;	/* the rest */
	struct nodes body, alt; /* N_RANGE / N_IF / N_WITH: the parts before and after else */
};

struct keel_template {
	struct nodes root;
	bool table;
};

/* ---------- output buffer ---------- */

struct buf {
	char *s;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *ns = realloc(b->s, cap);
		if (!ns)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* ---------- freeing ---------- */

static void free_path(char **path)
{
	for (char **p = path; p && *p; p++)
		free(*p);
	free(path);
}

static void free_pipe(struct pipeline *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		for (size_t j = 0; j < pl->v[i].n; j++) {
			free_path(pl->v[i].v[j].path);
			free(pl->v[i].v[j].s);
		}
		free(pl->v[i].v);
	}
	free(pl->v);
}

static void free_nodes(struct nodes *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct node *nd = l->v[i];
		free(nd->text);
		free_pipe(&nd->pipe);
		free_nodes(&nd->body);
		free_nodes(&nd->alt);
		free(nd);
	}
	free(l->v);
}

void keel_template_free(struct keel_template *t)
{
	if (!t)
		return;
	free_nodes(&t->root);
	free(t);
}

/* ---------- functions (docker's template funcs and Go's builtins that matter) ---------- */

/* Returns a new reference, or NULL for "no value"; -1 in *failed with err set on misuse. */
typedef json_t *(*func_fn)(json_t **args, size_t n, keel_error_t *err, bool *failed);

static bool truth(json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	default:
		return false;
	}
}

static int print_value(struct buf *b, json_t *v);

/* A value as text, the way {{.}} prints it (caller frees). */
static char *to_text(json_t *v)
{
	struct buf b = { 0 };
	if (buf_add(&b, "", 0) < 0)
		return NULL;
	if (v ? print_value(&b, v) < 0 : buf_str(&b, "<no value>") < 0) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static json_t *fail_call(keel_error_t *err, bool *failed, const char *fn, const char *why)
{
	keel_err_user(err, EINVAL, "template: error calling %s: %s", fn, why);
	*failed = true;
	return NULL;
}

char *keel_template_json(json_t *v, size_t flags)
{
	cleanup_free char *d = json_dumps(v, flags | JSON_ENCODE_ANY);
	size_t extra = 0, k = 0;
	char *out;
	if (!d)
		return NULL;
	for (const char *p = d; *p; p++)
		extra += strchr("<>&", *p) ? 5 : 0;
	if (!(out = malloc(strlen(d) + extra + 1)))
		return NULL;
	/* these bytes occur only inside strings: JSON's own syntax has none of them */
	for (const char *p = d; *p; p++) {
		if (strchr("<>&", *p))
			k += (size_t)sprintf(out + k, "\\u00%02x", (unsigned char)*p);
		else
			out[k++] = *p;
	}
	out[k] = '\0';
	return out;
}

static json_t *f_json(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	cleanup_free char *d = a[0] ? keel_template_json(a[0], JSON_COMPACT) : NULL;
	return json_string(d ? d : "null");
}

static json_t *f_index(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	json_t *v = a[0];
	for (size_t i = 1; v && i < n; i++) {
		if (json_is_object(v) && json_is_string(a[i]))
			v = json_object_get(v, json_string_value(a[i]));
		else if (json_is_array(v) && json_is_integer(a[i])) {
			json_int_t k = json_integer_value(a[i]);
			if (k < 0 || (size_t)k >= json_array_size(v))
				return fail_call(err, failed, "index", "index out of range");
			v = json_array_get(v, (size_t)k);
		} else {
			return fail_call(err, failed, "index", "cannot index with that key");
		}
	}
	return json_incref(v);
}

static json_t *f_join(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	struct buf b = { 0 };
	json_t *x, *out;
	size_t i;
	if (!json_is_array(a[0]) || !json_is_string(a[1]))
		return fail_call(err, failed, "join", "wants a list and a separator");
	if (buf_add(&b, "", 0) < 0)
		return NULL;
	json_array_foreach (a[0], i, x)
		if ((i && buf_str(&b, json_string_value(a[1])) < 0) || print_value(&b, x) < 0)
			break;
	out = json_string(b.s);
	free(b.s);
	return out;
}

static json_t *f_split(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	const char *s = json_string_value(a[0]), *sep = json_string_value(a[1]);
	json_t *out;
	if (!s || !sep || !*sep)
		return fail_call(err, failed, "split", "wants a string and a separator");
	out = json_array();
	for (const char *p = s;;) {
		const char *e = strstr(p, sep);
		json_array_append_new(out, json_stringn(p, e ? (size_t)(e - p) : strlen(p)));
		if (!e)
			break;
		p = e + strlen(sep);
	}
	return out;
}

/* upper, lower, title: ASCII case, as docker's strings.ToUpper does for the names it shows. */
static json_t *map_case(json_t *v, int mode)
{
	cleanup_free char *s = to_text(v);
	bool start = true;
	if (!s)
		return NULL;
	for (char *p = s; *p; p++) {
		if (mode == 0 || (mode == 2 && start))
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		else if (mode == 1)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		start = *p == ' ' || *p == '\t' || *p == '\n';
	}
	return json_string(s);
}

static json_t *f_upper(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	return map_case(a[0], 0);
}

static json_t *f_lower(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	return map_case(a[0], 1);
}

static json_t *f_title(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	return map_case(a[0], 2);
}

static json_t *f_len(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	if (json_is_array(a[0]))
		return json_integer((json_int_t)json_array_size(a[0]));
	if (json_is_object(a[0]))
		return json_integer((json_int_t)json_object_size(a[0]));
	if (json_is_string(a[0]))
		return json_integer((json_int_t)json_string_length(a[0]));
	return fail_call(err, failed, "len", "len of that type");
}

/* truncate STRING N: at most N characters (docker's). */
static json_t *f_truncate(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	const char *s = json_string_value(a[0]);
	size_t i = 0;
	json_int_t want = json_integer_value(a[1]), chars = 0;
	if (!s || !json_is_integer(a[1]))
		return fail_call(err, failed, "truncate", "wants a string and a length");
	for (; s[i] && chars < want; chars++)
		for (i++; ((unsigned char)s[i] & 0xc0) == 0x80; i++)
			;
	return json_stringn(s, i);
}

static json_t *f_println(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	struct buf b = { 0 };
	json_t *out;
	if (buf_add(&b, "", 0) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((i && buf_str(&b, " ") < 0) ||
		    (a[i] ? print_value(&b, a[i]) : buf_str(&b, "<nil>")) < 0)
			break;
	buf_str(&b, "\n");
	out = json_string(b.s);
	free(b.s);
	return out;
}

static bool same(json_t *x, json_t *y)
{
	if (json_is_number(x) && json_is_number(y))
		return json_number_value(x) == json_number_value(y);
	return x && y ? json_equal(x, y) : x == y;
}

static json_t *f_eq(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	bool r = false;
	for (size_t i = 1; i < n; i++)
		r |= same(a[0], a[i]);
	return json_boolean(r);
}

static json_t *f_ne(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	return json_boolean(!same(a[0], a[1]));
}

static json_t *f_not(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	return json_boolean(!truth(a[0]));
}

/* and / or: the first argument that decides, as Go returns it. */
static json_t *f_and(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	size_t i = 0;
	while (i + 1 < n && truth(a[i]))
		i++;
	return json_incref(a[i]);
}

static json_t *f_or(json_t **a, size_t n, keel_error_t *err, bool *failed)
{
	size_t i = 0;
	while (i + 1 < n && !truth(a[i]))
		i++;
	return json_incref(a[i]);
}

static const struct {
	const char *name;
	size_t min, max;
	func_fn fn;
} funcs[] = {
	{ "json", 1, 1, f_json },
	{ "index", 2, 8, f_index },
	{ "join", 2, 2, f_join },
	{ "split", 2, 2, f_split },
	{ "upper", 1, 1, f_upper },
	{ "lower", 1, 1, f_lower },
	{ "title", 1, 1, f_title },
	{ "len", 1, 1, f_len },
	{ "truncate", 2, 2, f_truncate },
	{ "println", 0, 16, f_println },
	{ "eq", 2, 16, f_eq },
	{ "ne", 2, 2, f_ne },
	{ "not", 1, 1, f_not },
	{ "and", 1, 16, f_and },
	{ "or", 1, 16, f_or },
};

/* ---------- parsing ---------- */

struct parser {
	struct keel_template *t;
	/* open blocks: the list being filled and the range/if/with node it belongs to */
	struct {
		struct node *owner;
		struct nodes *list;
	} stack[32];
	int depth;
	keel_error_t *err;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return keel_err_user(p->err, EINVAL, "template: :1: %s", msg);
}

static struct node *add_node(struct nodes *l, enum node_kind kind)
{
	struct node **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	struct node *nd = calloc(1, sizeof(*nd));
	if (!nv || !nd) {
		free(nd);
		if (nv)
			l->v = nv;
		return NULL;
	}
	l->v = nv;
	nd->kind = kind;
	l->v[l->n++] = nd;
	return nd;
}

/* Text with \t and \n escapes (typed on a command line) turned into the characters. */
static char *unescape(const char *s, size_t n)
{
	char *o = malloc(n + 1), *q = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 't' || s[i + 1] == 'n')) {
			*q++ = s[i + 1] == 't' ? '\t' : '\n';
			i++;
		} else {
			*q++ = s[i];
		}
	}
	*q = '\0';
	return o;
}

/* ".A.B" -> {"A","B"}; "." -> {}. */
static char **parse_path(const char *s, size_t n)
{
	char **v = calloc(n + 1, sizeof(char *));
	size_t k = 0, i = 1;
	if (!v || n == 0 || s[0] != '.')
		goto bad;
	if (n == 1)
		return v;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		if (j == i)
			goto bad;
		for (size_t c = i; c < j; c++)
			if (!(s[c] == '_' || (s[c] >= '0' && s[c] <= '9') ||
			      ((s[c] | 32) >= 'a' && (s[c] | 32) <= 'z')))
				goto bad;
		if (!(v[k++] = strndup(s + i, j - i)))
			goto bad;
		i = j + 1;
	}
	return v;
bad:
	free_path(v);
	return NULL;
}

/* A Go string literal ("..." with \" \\ \n \t, or `raw`) at s; *len its length in s. */
static char *parse_string(const char *s, size_t n, size_t *len)
{
	char q = s[0], *o = malloc(n + 1), *w = o;
	size_t i = 1;
	if (!o)
		return NULL;
	for (; i < n && s[i] != q; i++) {
		if (q == '"' && s[i] == '\\' && i + 1 < n) {
			char c = s[++i];
			*w++ = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	if (i >= n) {
		free(o);
		return NULL;
	}
	*len = i + 1;
	return o;
}

static int find_func(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (strlen(funcs[i].name) == n && !strncmp(funcs[i].name, s, n))
			return (int)i;
	return -1;
}

/* One word of a command into *a; returns its length, or -1. */
static long parse_arg(struct parser *p, const char *s, size_t n, struct arg *a)
{
	size_t len = 0;
	if (*s == '"' || *s == '`') {
		a->kind = A_STRING;
		if (!(a->s = parse_string(s, n, &len)))
			return perr(p, "unterminated quoted string %.*s", (int)(n), s);
		return (long)len;
	}
	while (len < n && s[len] != ' ' && s[len] != '|')
		len++;
	if (*s == '.' || (*s == '$' && (len == 1 || s[1] == '.'))) {
		a->kind = A_FIELD;
		a->root = *s == '$';
		if (!(a->path = parse_path(a->root ? (len == 1 ? "." : s + 1) : s,
					   a->root ? (len == 1 ? 1 : len - 1) : len)))
			return perr(p, "bad field %.*s", (int)(len), s);
		return (long)len;
	}
	if ((*s >= '0' && *s <= '9') || *s == '-') {
		char *end;
		a->kind = A_NUMBER;
		a->n = strtoll(s, &end, 10);
		if ((size_t)(end - s) != len)
			return perr(p, "bad number syntax: %.*s", (int)(len), s);
		return (long)len;
	}
	if ((len == 4 && !strncmp(s, "true", 4)) || (len == 5 && !strncmp(s, "false", 5))) {
		a->kind = A_BOOL;
		a->n = len == 4;
		return (long)len;
	}
	a->kind = A_FUNC;
	if ((a->func = find_func(s, len)) < 0)
		return perr(p, "function \"%.*s\" not defined", (int)(len), s);
	return (long)len;
}

static int parse_pipeline(struct parser *p, const char *s, size_t n, struct pipeline *pl)
{
	size_t i = 0;
	struct cmd *c = NULL;
	while (i < n) {
		long len;
		struct arg *av;
		if (s[i] == ' ') {
			i++;
			continue;
		}
		if (s[i] == '|' || !c) {
			struct cmd *nv = realloc(pl->v, (pl->n + 1) * sizeof(*nv));
			if (!nv)
				return keel_err(p->err, ENOMEM, "template");
			pl->v = nv;
			c = memset(&pl->v[pl->n++], 0, sizeof(*c));
			if (s[i] == '|') {
				i++;
				continue;
			}
		}
		if (!(av = realloc(c->v, (c->n + 1) * sizeof(*av))))
			return keel_err(p->err, ENOMEM, "template");
		memset(&av[c->n], 0, sizeof(*av));
		c->v = av;
		if ((len = parse_arg(p, s + i, n - i, &c->v[c->n++])) < 0)
			return -1;
		i += (size_t)len;
	}
	if (!pl->n)
		return perr(p, "missing value for command");
	for (size_t k = 0; k < pl->n; k++) {
		struct cmd *ck = &pl->v[k];
		size_t args = ck->n - 1 + (k > 0);
		if (!ck->n)
			return perr(p, "missing command");
		/* Go would call a function named as an argument with no arguments: none of ours
		 * takes none but println, so it is an error either way */
		for (size_t j = 1; j < ck->n; j++)
			if (ck->v[j].kind == A_FUNC)
				return perr(p,
					    "wrong number of args for %s: want at least %zu got 0",
					    funcs[ck->v[j].func].name, funcs[ck->v[j].func].min);
		/* .Field ARG...: docker's methods with arguments ({{.Label "k"}}) over a JSON
		 * object member: the member indexed by the arguments */
		if (ck->v[0].kind != A_FUNC && args > 0 && (ck->v[0].kind != A_FIELD || k > 0))
			return perr(p, "can't give argument to non-function");
		if (ck->v[0].kind == A_FUNC &&
		    (args < funcs[ck->v[0].func].min || args > funcs[ck->v[0].func].max))
			return perr(p, "wrong number of args for %s", funcs[ck->v[0].func].name);
	}
	return 0;
}

static bool word(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	return n >= k && !strncmp(s, w, k) && (n == k || s[k] == ' ');
}

/* range/if/with open a block, else switches to its second part, end closes it. */
static int parse_action(struct parser *p, const char *s, size_t n)
{
	struct nodes *cur = p->stack[p->depth].list;
	struct node *nd;
	static const struct {
		const char *w;
		enum node_kind kind;
	} blocks[] = { { "range", N_RANGE }, { "if", N_IF }, { "with", N_WITH } };
	if (word(s, n, "end") && n == 3) {
		if (p->depth == 0)
			return perr(p, "unexpected {{end}}");
		p->depth--;
		return 0;
	}
	if (word(s, n, "else")) {
		struct node *owner = p->stack[p->depth].owner;
		if (p->depth == 0 || p->stack[p->depth].list != &owner->body)
			return perr(p, "unexpected {{else}}");
		p->stack[p->depth].list = &owner->alt;
		if (n == 4)
			return 0;
		/* else if X: a nested if that the same {{end}} closes */
		s += 5, n -= 5;
		if (!word(s, n, "if"))
			return perr(p, "unexpected %.*s after else", (int)(n), s);
		if (!(nd = add_node(&owner->alt, N_IF)))
			return keel_err(p->err, ENOMEM, "template");
		p->stack[p->depth].owner = nd;
		p->stack[p->depth].list = &nd->body;
		return parse_pipeline(p, s + 3, n - 3, &nd->pipe);
	}
	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		size_t k = strlen(blocks[b].w);
		if (!word(s, n, blocks[b].w))
			continue;
		if (p->depth + 1 >= (int)(sizeof(p->stack) / sizeof(p->stack[0])))
			return perr(p, "blocks nested too deep");
		if (!(nd = add_node(cur, blocks[b].kind)))
			return keel_err(p->err, ENOMEM, "template");
		p->depth++;
		p->stack[p->depth].owner = nd;
		p->stack[p->depth].list = &nd->body;
		return parse_pipeline(p, s + k, n - k, &nd->pipe);
	}
	if (!(nd = add_node(cur, N_PIPE)))
		return keel_err(p->err, ENOMEM, "template");
	return parse_pipeline(p, s, n, &nd->pipe);
}

/* Text up to the next action, with Go's {{- and -}} trimming. */
static int add_text(struct parser *p, const char *s, size_t n, bool trim_left, bool trim_right)
{
	struct node *nd;
	while (trim_left && n && strchr(" \t\r\n", *s))
		s++, n--;
	while (trim_right && n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (!n)
		return 0;
	if (!(nd = add_node(p->stack[p->depth].list, N_TEXT)) || !(nd->text = unescape(s, n)))
		return keel_err(p->err, ENOMEM, "template");
	return 0;
}

static int parse_all(struct parser *p, const char *s)
{
	bool trim_next = false;
	while (*s) {
		const char *open = strstr(s, "{{"), *close, *a;
		size_t an;
		bool trim_prev = open && open[2] == '-' && open[3] == ' ';
		if (add_text(p, s, open ? (size_t)(open - s) : strlen(s), trim_next, trim_prev) < 0)
			return -1;
		if (!open)
			break;
		if (!(close = strstr(open + 2, "}}")))
			return perr(p, "unclosed action");
		a = open + 2 + (trim_prev ? 2 : 0);
		an = (size_t)(close - a);
		trim_next = an >= 2 && close[-1] == '-' && close[-2] == ' ';
		if (trim_next)
			an -= 2;
		while (an && *a == ' ')
			a++, an--;
		while (an && a[an - 1] == ' ')
			an--;
		if (!an)
			return perr(p, "missing value for command");
		if (!strncmp(a, "/*", 2)) { /* a comment */
			s = close + 2;
			continue;
		}
		if (parse_action(p, a, an) < 0)
			return -1;
		s = close + 2;
	}
	if (p->depth)
		return perr(p, "unexpected EOF");
	return 0;
}

struct keel_template *keel_template_parse(const char *fmt, keel_error_t *err)
{
	struct keel_template *t = calloc(1, sizeof(*t));
	struct parser p = { .t = t, .err = err };
	if (!t) {
		keel_err(err, ENOMEM, "template");
		return NULL;
	}
	if (!strncmp(fmt, "table", 5) && (fmt[5] == ' ' || fmt[5] == '\0')) {
		t->table = true;
		fmt += fmt[5] ? 6 : 5;
	}
	p.stack[0].list = &t->root;
	if (parse_all(&p, fmt) < 0) {
		keel_template_free(t);
		return NULL;
	}
	return t;
}

bool keel_template_is_table(const struct keel_template *t)
{
	return t->table;
}

/* ---------- rendering ---------- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys in byte order, as Go ranges over and prints maps (caller frees). */
static const char **sorted_keys(json_t *o, size_t *n)
{
	const char **v = calloc(json_object_size(o) + 1, sizeof(char *)), *k;
	json_t *x;
	*n = 0;
	if (!v)
		return NULL;
	json_object_foreach (o, k, x)
		v[(*n)++] = k;
	qsort(v, *n, sizeof(char *), str_cmp);
	return v;
}

/* A value as Go's fmt %v prints the equivalent interface{} value. */
static int print_value(struct buf *b, json_t *v)
{
	char num[64];
	size_t i, n;
	json_t *x;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return buf_add(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return buf_str(b, num);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%g", json_real_value(v));
		return buf_str(b, num);
	case JSON_TRUE:
		return buf_str(b, "true");
	case JSON_FALSE:
		return buf_str(b, "false");
	case JSON_NULL:
		return buf_str(b, "<nil>");
	case JSON_ARRAY:
		if (buf_str(b, "[") < 0)
			return -1;
		json_array_foreach (v, i, x)
			if ((i && buf_str(b, " ") < 0) || print_value(b, x) < 0)
				return -1;
		return buf_str(b, "]");
	case JSON_OBJECT: {
		const char **keys = sorted_keys(v, &n);
		int r = keys && buf_str(b, "map[") == 0 ? 0 : -1;
		for (i = 0; r == 0 && i < n; i++)
			if ((i && buf_str(b, " ") < 0) || buf_str(b, keys[i]) < 0 ||
			    buf_str(b, ":") < 0 || print_value(b, json_object_get(v, keys[i])) < 0)
				r = -1;
		free(keys);
		return r < 0 ? -1 : buf_str(b, "]");
	}
	}
	return 0;
}

struct scope {
	json_t *dot, *root;
};

static json_t *eval_arg(const struct arg *a, const struct scope *sc)
{
	json_t *v = a->root ? sc->root : sc->dot;
	switch (a->kind) {
	case A_STRING:
		return json_string(a->s);
	case A_NUMBER:
		return json_integer(a->n);
	case A_BOOL:
		return json_boolean(a->n);
	default:
		for (char **p = a->path; v && *p; p++)
			v = json_is_object(v) ? json_object_get(v, *p) : NULL;
		return json_incref(v);
	}
}

/* A pipeline's value (new reference, NULL = no value); -1 in *failed on an error. */
static json_t *eval_pipe(const struct pipeline *pl, const struct scope *sc, keel_error_t *err,
			 bool *failed)
{
	json_t *prev = NULL;
	for (size_t k = 0; k < pl->n && !*failed; k++) {
		const struct cmd *c = &pl->v[k];
		json_t *args[17] = { 0 }, *out;
		size_t n = 0;
		/* the command's words and the piped value must fit (found by fuzz_template) */
		if (c->n + 1 > sizeof(args) / sizeof(args[0])) {
			keel_err(err, E2BIG, "template: too many arguments (at most %zu)",
				 sizeof(args) / sizeof(args[0]) - 1);
			*failed = true;
			break;
		}
		if (c->v[0].kind != A_FUNC) {
			json_decref(prev);
			prev = eval_arg(&c->v[0], sc);
			if (c->n > 1) {
				args[n++] = prev;
				for (size_t i = 1; i < c->n; i++)
					args[n++] = eval_arg(&c->v[i], sc);
				prev = f_index(args, n, err, failed);
				for (size_t i = 0; i < n; i++)
					json_decref(args[i]);
				/* docker's methods return "" for what is not there */
				if (!prev && !*failed)
					prev = json_string("");
			}
			continue;
		}
		for (size_t i = 1; i < c->n; i++)
			args[n++] = eval_arg(&c->v[i], sc);
		if (k > 0)
			args[n++] = prev;
		else
			json_decref(prev);
		prev = NULL;
		/* a missing value given to a function is Go's nil: functions see NULL */
		out = funcs[c->v[0].func].fn(args, n, err, failed);
		for (size_t i = 0; i < n; i++)
			json_decref(args[i]);
		prev = out;
	}
	if (*failed) {
		json_decref(prev);
		return NULL;
	}
	return prev;
}

static int render_nodes(const struct nodes *l, const struct scope *sc, struct buf *b,
			keel_error_t *err);

static int render_range(const struct node *nd, json_t *v, const struct scope *sc, struct buf *b,
			keel_error_t *err)
{
	struct scope inner = *sc;
	size_t i, n;
	json_t *x;
	if (!truth(v) || !(json_is_array(v) || json_is_object(v)))
		return render_nodes(&nd->alt, sc, b, err);
	if (json_is_array(v)) {
		json_array_foreach (v, i, x) {
			inner.dot = x;
			if (render_nodes(&nd->body, &inner, b, err) < 0)
				return -1;
		}
		return 0;
	}
	{
		const char **keys = sorted_keys(v, &n);
		int r = keys ? 0 : keel_err(err, ENOMEM, "template");
		for (i = 0; r == 0 && i < n; i++) {
			inner.dot = json_object_get(v, keys[i]);
			r = render_nodes(&nd->body, &inner, b, err);
		}
		free(keys);
		return r;
	}
}

static int render_node(const struct node *nd, const struct scope *sc, struct buf *b,
		       keel_error_t *err)
{
	struct scope inner = *sc;
	bool failed = false;
	json_t *v;
	int r = 0;
	if (nd->kind == N_TEXT)
		return buf_str(b, nd->text) < 0 ? keel_err(err, ENOMEM, "template") : 0;
	v = eval_pipe(&nd->pipe, sc, err, &failed);
	if (failed)
		return -1;
	switch (nd->kind) {
	case N_PIPE:
		if ((v ? print_value(b, v) : buf_str(b, "<no value>")) < 0)
			r = keel_err(err, ENOMEM, "template");
		break;
	case N_RANGE:
		r = render_range(nd, v, sc, b, err);
		break;
	case N_WITH:
		/* the value becomes dot in the body only; else keeps the outer dot */
		if (truth(v))
			inner.dot = v;
		/* fall through */
	default:
		r = render_nodes(truth(v) ? &nd->body : &nd->alt, &inner, b, err);
	}
	json_decref(v);
	return r;
}

static int render_nodes(const struct nodes *l, const struct scope *sc, struct buf *b,
			keel_error_t *err)
{
	for (size_t i = 0; i < l->n; i++)
		if (render_node(l->v[i], sc, b, err) < 0)
			return -1;
	return 0;
}

int keel_template_render(const struct keel_template *t, json_t *ctx, char **out, keel_error_t *err)
{
	struct buf b = { 0 };
	struct scope sc = { ctx, ctx };
	if (buf_add(&b, "", 0) < 0)
		return keel_err(err, ENOMEM, "template");
	if (render_nodes(&t->root, &sc, &b, err) < 0) {
		free(b.s);
		return -1;
	}
	*out = b.s;
	return 0;
}

struct keel_table {
	char ***rows; /* cells per line, NULL-terminated */
	size_t n;
	size_t minwidth;
};

struct keel_table *keel_table_new_min(size_t minwidth)
{
	struct keel_table *t = calloc(1, sizeof(struct keel_table));
	if (t)
		t->minwidth = minwidth;
	return t;
}

/* docker's formatter: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) */
struct keel_table *keel_table_new(void)
{
	return keel_table_new_min(10);
}

int keel_table_add(struct keel_table *t, const char *line)
{
	size_t nc = 1, k = 0;
	char ***nr;
	char **cells;
	for (const char *p = line; *p; p++)
		nc += *p == '\t';
	cells = calloc(nc + 1, sizeof(char *));
	nr = realloc(t->rows, (t->n + 1) * sizeof(*nr));
	if (!cells || !nr) {
		free(cells);
		return -1;
	}
	t->rows = nr;
	for (const char *p = line;; p++) {
		const char *e = strchrnul(p, '\t');
		cells[k++] = strndup(p, (size_t)(e - p));
		if (!*e)
			break;
		p = e;
	}
	t->rows[t->n++] = cells;
	return 0;
}

/* Display width as Go's tabwriter counts it: runes, not bytes (the "…" docker cuts with). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* docker's formatter: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) — a cell is its column's
 * widest text plus 3, and never narrower than 10. */
#define TABLE_MINWIDTH 10
#define TABLE_PADDING  3
#define TABLE_MAXCOLS  64

void keel_table_print(struct keel_table *t, FILE *out)
{
	size_t widths[TABLE_MAXCOLS] = { 0 };
	for (size_t r = 0; r < t->n; r++)
		for (size_t c = 0; c < TABLE_MAXCOLS && t->rows[r][c] && t->rows[r][c + 1]; c++) {
			size_t w = text_width(t->rows[r][c]) + TABLE_PADDING;
			if (w < t->minwidth)
				w = t->minwidth;
			if (w > widths[c])
				widths[c] = w;
		}
	for (size_t r = 0; r < t->n; r++) {
		for (size_t c = 0; t->rows[r][c]; c++) {
			fputs(t->rows[r][c], out);
			if (t->rows[r][c + 1] && c < TABLE_MAXCOLS)
				fprintf(out, "%*s", (int)(widths[c] - text_width(t->rows[r][c])),
					"");
		}
		fputc('\n', out);
	}
}

int keel_template_print_rows(const char *format, const char *dflt, json_t *rows, json_t *titles,
			     FILE *out, keel_error_t *err)
{
	struct keel_template *t;
	struct keel_table *tab = NULL;
	json_t *row;
	size_t i;
	int r = 0;
	if (!format || !*format || !strcmp(format, "table"))
		format = dflt;
	else if (!strcmp(format, "json"))
		format = "{{json .}}";
	if (!(t = keel_template_parse(format, err)))
		return -1;
	if (t->table && !(tab = keel_table_new())) {
		keel_template_free(t);
		return keel_err(err, ENOMEM, "template");
	}
	if (tab && titles) {
		char *line;
		if ((r = keel_template_render(t, titles, &line, err)) == 0) {
			r = keel_table_add(tab, line) < 0 ? keel_err(err, ENOMEM, "template") : 0;
			free(line);
		}
	}
	json_array_foreach (rows, i, row) {
		char *line;
		if (r < 0 || (r = keel_template_render(t, row, &line, err)) < 0)
			break;
		if (tab && keel_table_add(tab, line) < 0)
			r = keel_err(err, ENOMEM, "template");
		else if (!tab)
			fprintf(out, "%s\n", line);
		free(line);
	}
	if (tab && r == 0)
		keel_table_print(tab, out);
	keel_table_free(tab);
	keel_template_free(t);
	return r;
}

void keel_table_free(struct keel_table *t)
{
	if (!t)
		return;
	for (size_t r = 0; r < t->n; r++) {
		for (size_t c = 0; t->rows[r][c]; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	free(t->rows);
	free(t);
}

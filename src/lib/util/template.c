#include "util/template.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

enum node_kind { N_TEXT, N_FIELD, N_JSON };

struct node {
	enum node_kind kind;
	char *text;    /* N_TEXT */
	char **path;   /* N_FIELD/N_JSON: member names, NULL-terminated (empty = ".") */
};

struct keel_template {
	struct node *v;
	size_t n;
	bool table;
};

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

void keel_template_free(struct keel_template *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].text);
		for (char **p = t->v[i].path; p && *p; p++)
			free(*p);
		free(t->v[i].path);
	}
	free(t->v);
	free(t);
}

static struct node *add_node(struct keel_template *t)
{
	struct node *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	t->v = nv;
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	return &t->v[t->n++];
}

/* Text with \t and \n escapes turned into the characters. */
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
	for (size_t c = 0; v && v[c]; c++)
		free(v[c]);
	free(v);
	return NULL;
}

static int parse_action(struct keel_template *t, const char *s, size_t n, keel_error_t *err)
{
	struct node *nd;
	while (n && (*s == ' ' || *s == '-'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '-'))
		n--;
	if (!(nd = add_node(t)))
		return keel_err(err, ENOMEM, "template");
	nd->kind = N_FIELD;
	if (n > 5 && !strncmp(s, "json ", 5)) {
		nd->kind = N_JSON;
		s += 5;
		n -= 5;
		while (n && *s == ' ')
			s++, n--;
	}
	if (!(nd->path = parse_path(s, n)))
		return keel_err(err, EINVAL, "template: unsupported action {{%.*s}}", (int)n, s);
	return 0;
}

struct keel_template *keel_template_parse(const char *fmt, keel_error_t *err)
{
	struct keel_template *t = calloc(1, sizeof(*t));
	const char *p = fmt;
	if (!t) {
		keel_err(err, ENOMEM, "template");
		return NULL;
	}
	if (!strncmp(p, "table", 5) && (p[5] == ' ' || p[5] == '\0')) {
		t->table = true;
		p += p[5] ? 6 : 5;
	}
	while (*p) {
		const char *open = strstr(p, "{{"), *close;
		size_t tn = open ? (size_t)(open - p) : strlen(p);
		if (tn) {
			struct node *nd = add_node(t);
			if (!nd || !(nd->text = unescape(p, tn)))
				goto oom;
			nd->kind = N_TEXT;
		}
		if (!open)
			break;
		close = strstr(open + 2, "}}");
		if (!close) {
			keel_err(err, EINVAL, "template: unclosed action");
			goto fail;
		}
		if (parse_action(t, open + 2, (size_t)(close - open - 2), err) < 0)
			goto fail;
		p = close + 2;
	}
	return t;
oom:
	keel_err(err, ENOMEM, "template");
fail:
	keel_template_free(t);
	return NULL;
}

bool keel_template_is_table(const struct keel_template *t)
{
	return t->table;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A value as Go's fmt %v prints the equivalent interface{} value. */
static int print_value(struct buf *b, json_t *v)
{
	char num[64];
	size_t i;
	const char *k;
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
		json_array_foreach(v, i, x) if ((i && buf_str(b, " ") < 0) || print_value(b, x) < 0)
			return -1;
		return buf_str(b, "]");
	case JSON_OBJECT: {
		/* Go prints maps with sorted keys. */
		cleanup_json json_t *keys = json_array();
		if (!keys || buf_str(b, "map[") < 0)
			return -1;
		json_object_foreach(v, k, x) json_array_append_new(keys, json_string(k));
		size_t n = json_array_size(keys);
		const char **sorted = calloc(n + 1, sizeof(char *));
		if (!sorted)
			return -1;
		for (i = 0; i < n; i++)
			sorted[i] = json_string_value(json_array_get(keys, i));
		qsort(sorted, n, sizeof(char *), str_cmp);
		for (i = 0; i < n; i++) {
			if ((i && buf_str(b, " ") < 0) || buf_str(b, sorted[i]) < 0 ||
			    buf_str(b, ":") < 0 || print_value(b, json_object_get(v, sorted[i])) < 0) {
				free(sorted);
				return -1;
			}
		}
		free(sorted);
		return buf_str(b, "]");
	}
	}
	return 0;
}

int keel_template_render(const struct keel_template *t, json_t *ctx, char **out,
			 keel_error_t *err)
{
	struct buf b = {0};
	if (buf_add(&b, "", 0) < 0)
		return keel_err(err, ENOMEM, "template");
	for (size_t i = 0; i < t->n; i++) {
		const struct node *nd = &t->v[i];
		json_t *v = ctx;
		int r = 0;
		if (nd->kind == N_TEXT) {
			r = buf_str(&b, nd->text);
		} else {
			for (char **p = nd->path; v && *p; p++)
				v = json_is_object(v) ? json_object_get(v, *p) : NULL;
			if (nd->kind == N_JSON) {
				cleanup_free char *d =
					v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
				r = buf_str(&b, d ? d : "null");
			} else {
				r = v ? print_value(&b, v) : buf_str(&b, "<no value>");
			}
		}
		if (r < 0) {
			free(b.s);
			return keel_err(err, ENOMEM, "template");
		}
	}
	*out = b.s;
	return 0;
}

struct keel_table {
	char ***rows; /* cells per line, NULL-terminated */
	size_t n;
};

struct keel_table *keel_table_new(void)
{
	return calloc(1, sizeof(struct keel_table));
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

void keel_table_print(struct keel_table *t, FILE *out)
{
	size_t widths[64] = {0};
	for (size_t r = 0; r < t->n; r++)
		for (size_t c = 0; t->rows[r][c] && t->rows[r][c + 1] && c < 64; c++) {
			size_t w = strlen(t->rows[r][c]);
			if (w > widths[c])
				widths[c] = w;
		}
	for (size_t r = 0; r < t->n; r++) {
		for (size_t c = 0; t->rows[r][c]; c++) {
			if (t->rows[r][c + 1] && c < 64)
				fprintf(out, "%-*s", (int)(widths[c] + 3), t->rows[r][c]);
			else
				fputs(t->rows[r][c], out);
		}
		fputc('\n', out);
	}
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

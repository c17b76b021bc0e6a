/* Dockerfile text -> logical lines -> instructions: BOM, parser directives, comments, line
 * continuations (with the escape token), heredoc bodies; then stage structure. The per-
 * instruction argument rules are in dockerfile_instr.c. Follows BuildKit's parser. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile_internal.h"
#include "build/shellword.h"
#include "build/strbuf.h"
#include "store/digest.h"
#include "util/cleanup.h"

int df_err(keel_error_t *err, const struct keel_dockerfile *df, int line, const char *fmt, ...)
{
	char msg[KEEL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return keel_err_user(err, EINVAL, "%s:%d: %s", df->name, line, msg);
}

void df_warn(struct keel_dockerfile *df, int line, const char *fmt, ...)
{
	char *msg = NULL, *full = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && asprintf(&full, "%s:%d: %s", df->name, line, msg) >= 0)
		strv_push(&df->warnings, &df->nwarnings, full);
	free(msg);
}

/* ---- lines ---- */

struct scanner {
	const char *p, *end;
};

/* The next physical line, its newline included (like BuildKit's scanLines). */
static bool scan(struct scanner *s, const char **line, size_t *len)
{
	const char *nl;
	if (s->p >= s->end)
		return false;
	nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	*line = s->p;
	*len = nl ? (size_t)(nl - s->p) + 1 : (size_t)(s->end - s->p);
	s->p += *len;
	return true;
}

static size_t trim_newline(const char *l, size_t n)
{
	while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
		n--;
	return n;
}

static bool is_space(char c)
{
	return isspace((unsigned char)c) != 0;
}

static bool is_comment(const char *l, size_t n)
{
	size_t i = 0;
	while (i < n && is_space(l[i]))
		i++;
	return i < n && l[i] == '#';
}

static bool is_blank(const char *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(l[i]))
			return false;
	return true;
}

/* Docker's continuation rule: the escape token, then only spaces/tabs, at the end of the
 * line, not itself escaped (`\\` at the end is a literal backslash). Returns the new
 * length with the token removed, or n when the line does not continue. */
static size_t continuation(const char *l, size_t n, char esc, bool *cont)
{
	size_t e = n;
	while (e && (l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	*cont = e && l[e - 1] == esc && (e == 1 || l[e - 2] != esc);
	return *cont ? e - 1 : n;
}

/* ---- parser directives ---- */

struct directives {
	bool done, seen_escape, seen_syntax, seen_check;
};

/* "# key=value" at the top of the file. An unknown key, a comment, a blank line or an
 * instruction ends the directive block; later directive-looking lines are comments. */
static int directive(struct keel_dockerfile *df, struct directives *d, const char *l, size_t n,
		     int lineno, keel_error_t *err)
{
	size_t i = 0, ks, ke, vs, ve;
	char key[16];
	bool *seen;

	if (d->done)
		return 0;
	if (n == 0 || l[0] != '#') {
		d->done = true;
		return 0;
	}
	for (i = 1; i < n && is_space(l[i]); i++)
		;
	ks = i;
	if (i >= n || !isalpha((unsigned char)l[i])) {
		d->done = true;
		return 0;
	}
	while (i < n && isalnum((unsigned char)l[i]))
		i++;
	ke = i;
	while (i < n && is_space(l[i]))
		i++;
	if (i >= n || l[i] != '=' || ke - ks >= sizeof(key)) {
		d->done = true;
		return 0;
	}
	for (i++; i < n && is_space(l[i]); i++)
		;
	vs = i;
	ve = n;
	while (ve > vs && is_space(l[ve - 1]))
		ve--;
	if (ve == vs) {
		d->done = true;
		return 0;
	}
	for (size_t k = 0; k < ke - ks; k++)
		key[k] = (char)tolower((unsigned char)l[ks + k]);
	key[ke - ks] = '\0';
	if (strcmp(key, "escape") == 0)
		seen = &d->seen_escape;
	else if (strcmp(key, "syntax") == 0)
		seen = &d->seen_syntax;
	else if (strcmp(key, "check") == 0)
		seen = &d->seen_check;
	else {
		d->done = true;
		return 0;
	}
	if (*seen)
		return df_err(err, df, lineno, "only one %s parser directive can be used", key);
	*seen = true;
	if (seen == &d->seen_escape) {
		if (ve - vs != 1 || (l[vs] != '\\' && l[vs] != '`'))
			return df_err(err, df, lineno,
				      "invalid escape token '%.*s' does not match ` or \\",
				      (int)(ve - vs), l + vs);
		df->escape = l[vs];
	} else if (seen == &d->seen_syntax) {
		df->syntax = strndup(l + vs, ve - vs);
	}
	return 0;
}

/* ---- heredocs ---- */

static bool can_heredoc(const struct keel_df_instr *in)
{
	if (in->kind == KEEL_DF_ONBUILD && in->trigger)
		in = in->trigger;
	return (in->kind == KEEL_DF_RUN || in->kind == KEEL_DF_COPY || in->kind == KEEL_DF_ADD) &&
	       !in->json;
}

static size_t count_quotes(const char *s)
{
	size_t c = 0;
	for (; *s; s++)
		c += *s == '\'' || *s == '"';
	return c;
}

/* One word of the line: "[fd]<<[-]NAME". Fills h (name owned) or leaves h->name NULL. */
static int heredoc_word(const char *w, struct keel_df_heredoc *h, keel_error_t *err)
{
	const char *p = w;
	cleanup_strv char **plain = NULL;
	cleanup_strv char **raw = NULL;
	size_t np = 0, nr = 0;
	unsigned fd = 0;

	while (isdigit((unsigned char)*p))
		fd = fd * 10 + (unsigned)(*p++ - '0');
	if (strncmp(p, "<<", 2) != 0)
		return 0;
	p += 2;
	h->chomp = *p == '-';
	if (h->chomp)
		p++;
	if (!*p || strchr(p, '<'))
		return 0;
	if (keel_shell_words(p, NULL, '\\', KEEL_SHELL_SKIP_UNSET, &plain, &np, err) < 0)
		return -1;
	if (np != 1)
		return 0;
	if (keel_shell_words(p, NULL, '\\', KEEL_SHELL_SKIP_UNSET | KEEL_SHELL_RAW_QUOTES, &raw,
			     &nr, err) < 0)
		return -1;
	/* Quotes anywhere in the delimiter disable expansion of the body. */
	h->expand = nr == 1 && count_quotes(plain[0]) == count_quotes(raw[0]);
	h->fd = fd;
	h->name = steal_pointer(&plain[0]);
	return 0;
}

static char *chomp_tabs(const char *s)
{
	struct strbuf b = { 0 };
	bool bol = true;
	for (; *s; s++) {
		if (bol && *s == '\t')
			continue;
		bol = *s == '\n';
		sb_addc(&b, *s);
	}
	return sb_steal(&b);
}

/* Reads the bodies of the heredocs named on the instruction's line, in order. */
static int read_heredocs(struct keel_dockerfile *df, struct keel_df_instr *in, struct scanner *sc,
			 int *lineno, keel_error_t *err)
{
	struct keel_df_instr *target = in->trigger ? in->trigger : in;
	cleanup_strv char **words = NULL;
	size_t nw = 0;
	keel_error_t ignored;

	/* An unbalanced quote on the line just means no heredoc (as in BuildKit). */
	if (keel_shell_words(in->original, NULL, '\\',
			     KEEL_SHELL_SKIP_UNSET | KEEL_SHELL_RAW_QUOTES | KEEL_SHELL_RAW_ESCAPES,
			     &words, &nw, &ignored) < 0)
		return 0;
	for (size_t i = 0; i < nw; i++) {
		struct keel_df_heredoc h = { 0 }, *slot;
		struct strbuf body = { 0 };
		const char *l;
		size_t n;
		bool done = false;

		if (heredoc_word(words[i], &h, err) < 0)
			return df_err(err, df, in->line, "%s", err->msg);
		if (!h.name)
			continue;
		while (!done && scan(sc, &l, &n)) {
			size_t t = trim_newline(l, n), s = 0;
			(*lineno)++;
			if (h.chomp)
				while (s < t && l[s] == '\t')
					s++;
			if (t - s == strlen(h.name) && memcmp(l + s, h.name, t - s) == 0)
				done = true;
			else
				sb_addn(&body, l, n);
		}
		h.content = sb_steal(&body);
		if (h.content && h.chomp) {
			char *c = chomp_tabs(h.content);
			free(h.content);
			h.content = c;
		}
		slot = vec_grow((void **)&target->heredocs, &target->nheredocs, sizeof(h));
		if (!slot || !h.content) {
			free(h.name);
			free(h.content);
			return keel_err(err, ENOMEM, "heredoc");
		}
		*slot = h;
		if (!done)
			return df_err(err, df, in->line,
				      "unterminated heredoc <<%s (started here, "
				      "file ends at line %d)",
				      h.name, *lineno);
	}
	return 0;
}

/* ---- the file ---- */

/* Collects one logical line starting with first (already left-trimmed, directive-checked).
 * Returns 1 with *out, or 0 for a line with nothing in it. */
static int logical_line(struct keel_dockerfile *df, struct directives *d, struct scanner *sc,
			const char *first, size_t n, int *lineno, char **out, keel_error_t *err)
{
	struct strbuf b = { 0 };
	bool cont, empty_cont = false;
	size_t len = continuation(first, n, df->escape, &cont);
	const char *l;

	if (!cont && len == 0)
		return 0;
	sb_addn(&b, first, len);
	while (cont && scan(sc, &l, &n)) {
		size_t t = trim_newline(l, n);
		(*lineno)++;
		d->done = true;
		if (is_comment(l, t))
			continue; /* comment lines inside a continuation are dropped */
		if (is_blank(l, t)) {
			empty_cont = true;
			continue;
		}
		len = continuation(l, t, df->escape, &cont);
		sb_addn(&b, l, len); /* leading whitespace of continuation lines is kept */
	}
	if (empty_cont)
		df_warn(df, *lineno, "empty continuation line (will become an error in Docker)");
	*out = sb_steal(&b);
	return *out ? 1 : keel_err(err, ENOMEM, "parsing");
}

static int parse_lines(struct keel_dockerfile *df, struct scanner *sc, keel_error_t *err)
{
	struct directives d = { 0 };
	int lineno = 0;
	const char *l;
	size_t n;

	while (scan(sc, &l, &n)) {
		struct keel_df_instr *in;
		char *line = NULL;
		int start, r;

		if (lineno == 0 && n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
			l += 3;
			n -= 3;
		}
		n = trim_newline(l, n);
		while (n && is_space(*l)) {
			l++;
			n--;
		}
		lineno++;
		if (directive(df, &d, l, n, lineno, err) < 0)
			return -1;
		if (is_comment(l, n))
			continue;
		start = lineno;
		r = logical_line(df, &d, sc, l, n, &lineno, &line, err);
		if (r <= 0) {
			if (r < 0)
				return -1;
			continue;
		}
		in = vec_grow((void **)&df->instrs, &df->ninstrs, sizeof(*in));
		if (!in) {
			free(line);
			return keel_err(err, ENOMEM, "parsing");
		}
		in->line = start;
		r = df_parse_instr(df, in, line, start, err);
		free(line);
		if (r < 0)
			return -1;
		if (can_heredoc(in) && strstr(in->original, "<<") &&
		    read_heredocs(df, in, sc, &lineno, err) < 0)
			return -1;
		in->end_line = lineno;
		if (in->trigger)
			in->trigger->end_line = lineno;
	}
	if (df->ninstrs == 0)
		return df_err(err, df, lineno ? lineno : 1, "file with no instructions");
	return 0;
}

/* Splits the instruction list into stages; only ARG may come before the first FROM. */
static int make_stages(struct keel_dockerfile *df, keel_error_t *err)
{
	for (size_t i = 0; i < df->ninstrs; i++) {
		struct keel_df_instr *in = &df->instrs[i];
		struct keel_df_stage *st;
		if (in->kind != KEEL_DF_FROM) {
			if (df->nstages == 0 && in->kind != KEEL_DF_ARG)
				return df_err(err, df, in->line,
					      "%s before the first FROM: no build stage in current "
					      "context (only ARG may precede FROM)",
					      keel_df_kind_name(in->kind));
			if (df->nstages)
				df->stages[df->nstages - 1].count++;
			else
				df->nglobal++;
			continue;
		}
		st = vec_grow((void **)&df->stages, &df->nstages, sizeof(*st));
		if (!st)
			return keel_err(err, ENOMEM, "parsing");
		st->index = df->nstages - 1;
		st->first = i;
		st->count = 1;
		st->base = strdup(in->args[0]);
		st->platform = keel_df_flag(in, "platform", NULL)
				   ? strdup(keel_df_flag(in, "platform", NULL))
				   : NULL;
		if (in->nargs == 3) {
			st->name = strdup(in->args[2]);
			for (char *p = st->name; p && *p; p++)
				*p = (char)tolower((unsigned char)*p);
		}
		if (!st->base || (in->nargs == 3 && !st->name))
			return keel_err(err, ENOMEM, "parsing");
	}
	if (df->nstages == 0)
		return df_err(err, df, df->instrs[df->ninstrs - 1].line,
			      "no FROM instruction: a Dockerfile needs at least one build stage");
	return 0;
}

struct keel_dockerfile *keel_dockerfile_parse(const char *text, size_t len, const char *name,
					      keel_error_t *err)
{
	struct keel_dockerfile *df = calloc(1, sizeof(*df));
	struct scanner sc = { text, text + len };

	if (!df || !(df->name = strdup(name ? name : "Dockerfile"))) {
		free(df);
		keel_err(err, ENOMEM, "parsing Dockerfile");
		return NULL;
	}
	df->escape = '\\';
	if (memchr(text, '\0', len)) {
		df_err(err, df, 1, "the file contains a NUL byte: not a Dockerfile");
		keel_dockerfile_free(df);
		return NULL;
	}
	if (parse_lines(df, &sc, err) < 0 || make_stages(df, err) < 0) {
		keel_dockerfile_free(df);
		return NULL;
	}
	return df;
}

void df_instr_clear(struct keel_df_instr *in)
{
	free(in->original);
	for (size_t i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strv_free(in->args);
	for (size_t i = 0; i < in->nkvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	for (size_t i = 0; i < in->nheredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
	if (in->trigger) {
		df_instr_clear(in->trigger);
		free(in->trigger);
	}
	memset(in, 0, sizeof(*in));
}

void keel_dockerfile_free(struct keel_dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->ninstrs; i++)
		df_instr_clear(&df->instrs[i]);
	free(df->instrs);
	for (size_t i = 0; i < df->nstages; i++) {
		free(df->stages[i].base);
		free(df->stages[i].name);
		free(df->stages[i].platform);
	}
	free(df->stages);
	strv_free(df->warnings);
	free(df->syntax);
	free(df->name);
	free(df);
}

const char *keel_df_flag(const struct keel_df_instr *in, const char *name, bool *present)
{
	const char *v = NULL;
	bool found = false;
	for (size_t i = 0; i < in->nflags; i++)
		if (strcmp(in->flags[i].name, name) == 0) {
			v = in->flags[i].value;
			found = true;
		}
	if (present)
		*present = found;
	return v;
}

/* ---- dump ---- */

/* A C-style quoted string: \" \\ \n \t and \xHH for other control bytes. */
static void dump_str(struct strbuf *b, const char *s)
{
	char hex[8];
	sb_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			sb_addc(b, '\\');
			sb_addc(b, (char)c);
		} else if (c == '\n') {
			sb_add(b, "\\n");
		} else if (c == '\t') {
			sb_add(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			sb_add(b, hex);
		} else {
			sb_addc(b, (char)c);
		}
	}
	sb_addc(b, '"');
}

static void dump_instr(struct strbuf *b, const struct keel_df_instr *in)
{
	sb_add(b, keel_df_kind_name(in->kind));
	for (size_t i = 0; i < in->nflags; i++) {
		sb_add(b, " --");
		sb_add(b, in->flags[i].name);
		if (in->flags[i].value) {
			sb_addc(b, '=');
			dump_str(b, in->flags[i].value);
		}
	}
	if (in->kind == KEEL_DF_HEALTHCHECK && in->health.none)
		sb_add(b, " NONE");
	if (in->kind == KEEL_DF_ONBUILD && in->trigger) {
		sb_add(b, " [");
		dump_instr(b, in->trigger);
		sb_addc(b, ']');
		return;
	}
	if (in->nkvs) {
		sb_add(b, " kv");
		for (size_t i = 0; i < in->nkvs; i++) {
			sb_addc(b, ' ');
			dump_str(b, in->kvs[i].key);
			if (in->kvs[i].value) {
				sb_addc(b, '=');
				dump_str(b, in->kvs[i].value);
			}
		}
	} else {
		sb_add(b, in->json ? " json" : " shell");
		for (size_t i = 0; i < in->nargs; i++) {
			sb_addc(b, ' ');
			dump_str(b, in->args[i]);
		}
	}
	for (size_t i = 0; i < in->nheredocs; i++) {
		sb_add(b, " <<");
		sb_add(b, in->heredocs[i].chomp ? "-" : "");
		sb_add(b, in->heredocs[i].expand ? "" : "'");
		dump_str(b, in->heredocs[i].name);
		sb_addc(b, '=');
		dump_str(b, in->heredocs[i].content);
	}
}

char *keel_dockerfile_dump(const struct keel_dockerfile *df)
{
	struct strbuf b = { 0 };
	char num[32];
	for (size_t i = 0; i < df->ninstrs; i++) {
		snprintf(num, sizeof(num), "%d ", df->instrs[i].line);
		sb_add(&b, num);
		dump_instr(&b, &df->instrs[i]);
		sb_addc(&b, '\n');
	}
	return sb_steal(&b);
}

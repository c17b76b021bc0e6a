/* Docker's shell-word lexer (BuildKit frontend/dockerfile/shell) in C. See shellword.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/shellword.h"
#include "build/strbuf.h"
#include "store/digest.h"

/* ---- env ---- */

static size_t env_find(const struct keel_env *e, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->vars[i], key, klen) == 0 && e->vars[i][klen] == '=')
			return i;
	return (size_t)-1;
}

int keel_env_set(struct keel_env *e, const char *key, const char *value, keel_error_t *err)
{
	char *kv;
	size_t i = env_find(e, key);
	if (asprintf(&kv, "%s=%s", key, value) < 0)
		return keel_err(err, ENOMEM, "env");
	if (i != (size_t)-1) {
		free(e->vars[i]);
		e->vars[i] = kv;
		return 0;
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **p = realloc(e->vars, cap * sizeof(char *));
		if (!p) {
			free(kv);
			return keel_err(err, ENOMEM, "env");
		}
		e->vars = p;
		e->cap = cap;
	}
	e->vars[e->n++] = kv;
	e->vars[e->n] = NULL;
	return 0;
}

const char *keel_env_get(const struct keel_env *e, const char *key)
{
	size_t i;
	if (!e)
		return NULL;
	i = env_find(e, key);
	return i == (size_t)-1 ? NULL : e->vars[i] + strlen(key) + 1;
}

void keel_env_unset(struct keel_env *e, const char *key)
{
	size_t i = env_find(e, key);
	if (i == (size_t)-1)
		return;
	free(e->vars[i]);
	memmove(&e->vars[i], &e->vars[i + 1], (e->n - i) * sizeof(char *));
	e->n--;
}

int keel_env_copy(struct keel_env *dst, const struct keel_env *src, keel_error_t *err)
{
	for (size_t i = 0; src && i < src->n; i++) {
		const char *eq = strchr(src->vars[i], '=');
		char *k = strndup(src->vars[i], (size_t)(eq - src->vars[i]));
		int r = k ? keel_env_set(dst, k, eq + 1, err) : keel_err(err, ENOMEM, "env");
		free(k);
		if (r < 0)
			return -1;
	}
	return 0;
}

void keel_env_free(struct keel_env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->vars[i]);
	free(e->vars);
	*e = (struct keel_env){ 0 };
}

/* ---- lexer ---- */

struct lex {
	const char *s;
	size_t i;
	char esc;
	unsigned flags;
	const struct keel_env *env;
	keel_error_t *err;
	/* word splitting (keel_shell_words) */
	struct strbuf word;
	bool in_word;
	char **words;
	size_t nwords;
	bool words_oom;
};

static int peek(const struct lex *l)
{
	return l->s[l->i] ? (unsigned char)l->s[l->i] : -1;
}

static int next(struct lex *l)
{
	return l->s[l->i] ? (unsigned char)l->s[l->i++] : -1;
}

static void word_end(struct lex *l)
{
	if (l->word.len > 0 || l->word.oom) {
		char *w = sb_steal(&l->word);
		if (strv_push(&l->words, &l->nwords, w) < 0)
			l->words_oom = true;
	}
	sb_reset(&l->word);
	l->in_word = false;
}

static void add_raw_char(struct lex *l, char c)
{
	sb_addc(&l->word, c);
	l->in_word = true;
}

static void add_char(struct lex *l, char c)
{
	if (isspace((unsigned char)c)) {
		if (l->in_word && l->word.len)
			word_end(l);
	} else {
		add_raw_char(l, c);
	}
}

static void add_string(struct lex *l, const char *s)
{
	for (; *s; s++)
		add_char(l, *s);
}

static void add_raw_string(struct lex *l, const char *s)
{
	sb_add(&l->word, s);
	l->in_word = true;
}

static int process_until(struct lex *l, int stop, struct strbuf *out);

static int single_quote(struct lex *l, struct strbuf *out)
{
	next(l);
	if (l->flags & KEEL_SHELL_RAW_QUOTES)
		sb_addc(out, '\'');
	for (;;) {
		int c = next(l);
		if (c < 0)
			return keel_err_user(l->err, EINVAL,
					     "unexpected end of statement while looking "
					     "for matching single-quote");
		if (c == '\'')
			break;
		sb_addc(out, (char)c);
	}
	if (l->flags & KEEL_SHELL_RAW_QUOTES)
		sb_addc(out, '\'');
	return 0;
}

static int dollar(struct lex *l, struct strbuf *out);

static int double_quote(struct lex *l, struct strbuf *out)
{
	next(l);
	if (l->flags & KEEL_SHELL_RAW_QUOTES)
		sb_addc(out, '"');
	for (;;) {
		int c = peek(l);
		if (c < 0)
			return keel_err_user(l->err, EINVAL,
					     "unexpected end of statement while looking "
					     "for matching double-quote");
		if (c == '"') {
			next(l);
			break;
		}
		if (c == '$') {
			if (dollar(l, out) < 0)
				return -1;
			continue;
		}
		next(l);
		if (c == l->esc) {
			int p = peek(l);
			if (p < 0)
				continue; /* an escape at the very end is dropped */
			/* Only ", $ and the escape itself are escapable in double quotes; any
			 * other escape is kept as written (Docker's rule, like sh). */
			if (p == '"' || p == '$' || p == l->esc) {
				if (l->flags & KEEL_SHELL_RAW_ESCAPES)
					sb_addc(out, (char)c);
				c = next(l);
			}
		}
		sb_addc(out, (char)c);
	}
	if (l->flags & KEEL_SHELL_RAW_QUOTES)
		sb_addc(out, '"');
	return 0;
}

static bool is_special_param(int c)
{
	return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!';
}

static void read_name(struct lex *l, struct strbuf *name)
{
	int c = peek(l);
	if (c >= 0 && isdigit(c)) {
		while (peek(l) >= 0 && isdigit(peek(l)))
			sb_addc(name, (char)next(l));
		return;
	}
	if (c >= 0 && is_special_param(c)) {
		sb_addc(name, (char)next(l));
		return;
	}
	while ((c = peek(l)) >= 0 && (isalnum(c) || c == '_'))
		sb_addc(name, (char)next(l));
}

static int braced(struct lex *l, struct strbuf *out)
{
	struct strbuf name = { 0 }, word = { 0 };
	const char *val;
	int c, mod = 0, r = 0;

	c = peek(l);
	if (c < 0)
		return keel_err_user(l->err, EINVAL, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return keel_err_user(l->err, EINVAL, "syntax error: bad substitution");
	read_name(l, &name);
	val = name.s ? keel_env_get(l->env, name.s) : NULL;
	c = next(l);
	if (c == '}') {
		if (!val && (l->flags & KEEL_SHELL_SKIP_UNSET)) {
			sb_add(out, "${");
			sb_add(out, name.s ? name.s : "");
			sb_addc(out, '}');
		} else if (val) {
			sb_add(out, val);
		}
		goto done;
	}
	if (c == ':') {
		mod = next(l);
		if (mod != '-' && mod != '+' && mod != '?') {
			r = keel_err_user(l->err, EINVAL,
					  "unsupported modifier (%c) in substitution",
					  mod < 0 ? ' ' : mod);
			goto done;
		}
		mod |= 0x100; /* the colon form tests for empty as well as unset */
	} else if (c == '-' || c == '+' || c == '?') {
		mod = c;
	} else {
		r = keel_err_user(l->err, EINVAL,
				  c < 0 ? "syntax error: missing '}'"
					: "syntax error: bad substitution");
		goto done;
	}
	if (process_until(l, '}', &word) < 0) {
		r = -1;
		goto done;
	}
	{
		bool colon = mod & 0x100, set = val != NULL, nonempty = val && *val;
		bool have = colon ? nonempty : set;
		const char *w = word.s ? word.s : "";
		switch (mod & 0xff) {
		case '-':
			sb_add(out, have ? val : w);
			break;
		case '+':
			sb_add(out, have ? w : "");
			break;
		case '?':
			if (!have) {
				r = keel_err_user(l->err, EINVAL, "%s: %s", name.s ? name.s : "",
						  *w ? w
						     : (set ? "is not allowed to be empty"
							    : "is not allowed to be unset"));
				goto done;
			}
			sb_add(out, val);
			break;
		}
	}
done:
	sb_free(&name);
	sb_free(&word);
	return r;
}

static int dollar(struct lex *l, struct strbuf *out)
{
	struct strbuf name = { 0 };
	const char *val;

	next(l); /* '$' */
	if (peek(l) == '{') {
		next(l);
		return braced(l, out);
	}
	read_name(l, &name);
	if (!name.len) {
		sb_addc(out, '$');
		sb_free(&name);
		return 0;
	}
	val = keel_env_get(l->env, name.s);
	if (val) {
		sb_add(out, val);
	} else if (l->flags & KEEL_SHELL_SKIP_UNSET) {
		sb_addc(out, '$');
		sb_add(out, name.s);
	}
	sb_free(&name);
	return 0;
}

/* The main loop: reads until stop (a char, or -1 for the end), appending the result to out
 * and feeding the word splitter. */
static int process_until(struct lex *l, int stop, struct strbuf *out)
{
	for (;;) {
		int c = peek(l);
		struct strbuf tmp = { 0 };
		if (c < 0) {
			if (stop >= 0)
				return keel_err_user(l->err, EINVAL, "syntax error: missing '%c'",
						     stop);
			return 0;
		}
		if (c == stop) {
			next(l);
			return 0;
		}
		if (c == '\'' || c == '"' || c == '$') {
			int r = c == '\''  ? single_quote(l, &tmp)
				: c == '"' ? double_quote(l, &tmp)
					   : dollar(l, &tmp);
			if (r < 0) {
				sb_free(&tmp);
				return -1;
			}
			sb_add(out, tmp.s ? tmp.s : "");
			/* A variable's value is split into words; quoted text is not. */
			if (c == '$')
				add_string(l, tmp.s ? tmp.s : "");
			else
				add_raw_string(l, tmp.s ? tmp.s : "");
			sb_free(&tmp);
			continue;
		}
		next(l);
		if (c == l->esc) {
			if (l->flags & KEEL_SHELL_RAW_ESCAPES) {
				add_raw_char(l, (char)c);
				sb_addc(out, (char)c);
			}
			c = next(l);
			if (c < 0)
				return 0;
			add_raw_char(l, (char)c);
		} else {
			add_char(l, (char)c);
		}
		sb_addc(out, (char)c);
	}
}

static int run_lexer(struct lex *l, struct strbuf *out)
{
	if (l->esc != '\\' && l->esc != '`')
		l->esc = '\\';
	if (process_until(l, -1, out) < 0)
		return -1;
	if (out->oom || l->word.oom)
		return keel_err(l->err, ENOMEM, "expanding variables");
	return 0;
}

int keel_shell_word(const char *word, const struct keel_env *env, char escape, unsigned flags,
		    char **out, keel_error_t *err)
{
	struct lex l = { .s = word, .esc = escape, .flags = flags, .env = env, .err = err };
	struct strbuf res = { 0 };
	int r = run_lexer(&l, &res);
	sb_free(&l.word);
	strv_free(l.words);
	if (r < 0) {
		sb_free(&res);
		return -1;
	}
	*out = sb_steal(&res);
	return *out ? 0 : keel_err(err, ENOMEM, "expanding variables");
}

int keel_shell_words(const char *word, const struct keel_env *env, char escape, unsigned flags,
		     char ***out, size_t *n, keel_error_t *err)
{
	struct lex l = { .s = word, .esc = escape, .flags = flags, .env = env, .err = err };
	struct strbuf res = { 0 };
	int r = run_lexer(&l, &res);
	sb_free(&res);
	if (r == 0)
		word_end(&l);
	sb_free(&l.word);
	if (r == 0 && !l.words && strv_push(&l.words, &l.nwords, strdup("")) == 0) {
		/* an empty vector, not NULL: drop the placeholder */
		free(l.words[0]);
		l.words[0] = NULL;
		l.nwords = 0;
	}
	if (r < 0 || l.words_oom || !l.words) {
		strv_free(l.words);
		return r < 0 ? -1 : keel_err(err, ENOMEM, "expanding variables");
	}
	*out = l.words;
	*n = l.nwords;
	return 0;
}

/* Internal to src/lib/build: a growable string with a sticky out-of-memory flag, so
 * lexers append freely and check once, and a growable pointer vector. */
#ifndef KEEL_BUILD_STRBUF_H
#define KEEL_BUILD_STRBUF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static inline void sb_reserve(struct strbuf *b, size_t more)
{
	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap * 2 : 64;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->s, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->s = p;
	b->cap = cap;
}

static inline void sb_addn(struct strbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static inline void sb_add(struct strbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static inline void sb_addc(struct strbuf *b, char c)
{
	sb_addn(b, &c, 1);
}

static inline void sb_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

/* Returns the string (never NULL unless out of memory) and leaves the buffer empty. */
static inline char *sb_steal(struct strbuf *b)
{
	char *s;
	if (b->oom) {
		free(b->s);
		*b = (struct strbuf){ 0 };
		return NULL;
	}
	s = b->s ? b->s : strdup("");
	*b = (struct strbuf){ 0 };
	return s;
}

static inline void sb_free(struct strbuf *b)
{
	free(b->s);
	*b = (struct strbuf){ 0 };
}

/* Appends item (ownership moves in) to a NULL-terminated vector. -1 on ENOMEM (item is
 * then freed). */
static inline int strv_push(char ***v, size_t *n, char *item)
{
	char **p;
	if (!item)
		return -1;
	p = realloc(*v, (*n + 2) * sizeof(char *));
	if (!p) {
		free(item);
		return -1;
	}
	p[(*n)++] = item;
	p[*n] = NULL;
	*v = p;
	return 0;
}

static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Grows an array of structs by one zeroed element; returns it or NULL. */
static inline void *vec_grow(void **arr, size_t *n, size_t size)
{
	char *p = realloc(*arr, (*n + 1) * size);
	if (!p)
		return NULL;
	memset(p + *n * size, 0, size);
	*arr = p;
	return p + (*n)++ * size;
}

#endif

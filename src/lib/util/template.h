/* A small subset of Go's text/template, as Docker's --format flags use it, over JSON values:
 *   {{.Field}} {{.Field.Sub}}  a member (missing: "<no value>"); strings print raw, arrays
 *                               as [a b], objects as map[k:v], as Go prints them
 *   {{json .}} {{json .Field}}  the value as compact JSON
 *   {{.}}                       the whole value
 *   "table " prefix             a header row first and columns aligned (see keel_table)
 *   \t and \n                   (backslash escapes typed on a command line) become tab/newline
 * Anything else inside {{ }} is a parse error. */
#ifndef KEEL_TEMPLATE_H
#define KEEL_TEMPLATE_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "util/error.h"

struct keel_template;

/* Parses fmt. Caller frees with keel_template_free. */
struct keel_template *keel_template_parse(const char *fmt, keel_error_t *err);
void keel_template_free(struct keel_template *t);

/* True when fmt started with "table". */
bool keel_template_is_table(const struct keel_template *t);

/* Renders against ctx; *out is a malloc'd string (caller frees). */
int keel_template_render(const struct keel_template *t, json_t *ctx, char **out,
			 keel_error_t *err);

/* Go's text/tabwriter with Docker's settings (padding 3, spaces): lines are added with cells
 * separated by '\t'; every cell but a line's last is padded to its column's width. */
struct keel_table;
struct keel_table *keel_table_new(void);
int keel_table_add(struct keel_table *t, const char *line);
void keel_table_print(struct keel_table *t, FILE *out);
void keel_table_free(struct keel_table *t);

#endif

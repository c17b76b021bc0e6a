/* The part of Go's text/template that docker's --format flags use, over JSON values:
 *   {{.Field}} {{.Field.Sub}} {{.}} {{$.Field}} ($ = the whole value, also inside range/with)
 *       a member (missing: "<no value>"); strings print raw, arrays as [a b], objects as
 *       map[k:v] with sorted keys, as Go prints them
 *   "text", `raw`, 12, true     literals
 *   FUNC ARG...                 json, index, join, split, upper, lower, title, len, truncate,
 *                               println, eq, ne, not, and, or (docker's and Go's)
 *   A | FUNC ARG...             a pipeline: the value goes in as FUNC's last argument
 *   .Field ARG...               docker's methods with arguments ({{.Label "k"}}): the member
 *                               indexed by the arguments, as index does ("" if none)
 *   {{range P}}..{{else}}..{{end}}  over an array, or an object's values in key order
 *   {{if P}}..{{else if Q}}..{{else}}..{{end}}, {{with P}}..{{else}}..{{end}}
 *   {{- and -}}                 trim the blanks beside the action; comment actions print nothing
 *   "table " prefix             a header row first and columns aligned (see keel_table)
 *   \t and \n                   (backslash escapes typed on a command line) become tab/newline
 * Not there: variables ($x :=), parentheses, printf, Go methods. Errors read as
 * Go's ("template: :1: function \"x\" not defined"). */
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

/* v as JSON (json_dumps flags) the way Go's encoding/json writes it for docker: "<", ">" and
 * "&" as \u003c, \u003e, \u0026. Caller frees; NULL when out of memory. */
char *keel_template_json(json_t *v, size_t flags);

/* Go's text/tabwriter with Docker's settings (padding 3, spaces): lines are added with cells
 * separated by '\t'; every cell but a line's last is padded to its column's width (widest
 * text + 3, at least 10, counted in characters). */
struct keel_table;
struct keel_table *keel_table_new(void);
/* The same with another minimum cell width (docker's top: 20). */
struct keel_table *keel_table_new_min(size_t minwidth);
int keel_table_add(struct keel_table *t, const char *line);
void keel_table_print(struct keel_table *t, FILE *out);
void keel_table_free(struct keel_table *t);

/* The --format of docker's listing commands (ps, images, history, stats, system df, ...):
 * NULL, "" or "table" use dflt; "json" prints each row as one line of JSON; a "table ..."
 * format prints a header rendered from titles (may be NULL: none) and aligned columns
 * (keel_table); any other template prints one line per row. rows is an array of objects
 * whose members the template names. Returns 0, or -1 with *err set (a template that does
 * not parse or render; nothing was printed then for a table). */
int keel_template_print_rows(const char *format, const char *dflt, json_t *rows, json_t *titles,
			     FILE *out, keel_error_t *err);

#endif

/* Command-line flags the way runc's urfave/cli parses them: `--opt value`, `--opt=value`,
 * `-opt value` (one dash works for long names too), short aliases (`-d`), booleans without
 * a value (or `--opt=true|false`), repeatable string flags. Parsing stops at the first
 * positional argument or at `--`. */
#ifndef KEEL_CLI_ARGS_H
#define KEEL_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

enum keel_opt_kind { KEEL_OPT_BOOL, KEEL_OPT_STRING, KEEL_OPT_INT, KEEL_OPT_LIST };

struct keel_strlist {
	char **v; /* NULL-terminated, malloc'd */
	size_t n;
};

struct keel_opt {
	const char *name;  /* long name without dashes */
	const char *alias; /* one-letter alias or NULL */
	enum keel_opt_kind kind;
	void *dest; /* bool *, const char **, long *, struct keel_strlist * */
	const char *help;
};

/* Parses flags from argv[*i] on; on return *i is the first positional. Returns 0, or -1
 * with `errbuf` holding runc's message ("flag provided but not defined: -foo"). A help flag
 * (-h/--help) returns 1. */
int keel_args_parse(int argc, char **argv, int *i, const struct keel_opt *opts, char *errbuf,
		    size_t errlen);

/* Prints "   --name value, -a value  help" lines. */
void keel_args_usage(const struct keel_opt *opts, void *file);

void keel_strlist_free(struct keel_strlist *l);

#endif

/* Shared parts of the image commands: Docker-style (pflag) option parsing with the global
 * --root, opening the store, Docker's human-readable sizes and durations. */
#ifndef KEEL_CLI_IMAGE_H
#define KEEL_CLI_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "store/store.h"
#include "util/error.h"

/* DF_INT is kept as the text typed (a const char *, checked by the command) and shown as
 * "int" in the help, as docker's; DF_FILTER is a DF_LIST shown as "filter". */
enum dflag_kind { DF_BOOL, DF_STRING, DF_LIST, DF_INT, DF_FILTER };

struct dflag {
	const char *name;
	char shorthand; /* 0 when none */
	enum dflag_kind kind;
	void *dest; /* bool *, const char **, struct dlist * */
	const char *help; /* NULL: accepted, not shown (docker's hidden, deprecated names) */
};

struct dlist {
	char *v[64];
	size_t n;
};

struct dcmd {
	const char *name;  /* "images" (as in "keel images") */
	const char *usage; /* "[OPTIONS] [REPOSITORY[:TAG]]" */
	const char *about; /* one line */
	const char *aliases; /* or NULL */
	const struct dflag *flags; /* terminated by {0} */
	int min_args, max_args; /* max -1: unlimited */
};

struct dargs {
	char **pos;
	int n;
	const char *root; /* --root or $KEEL_ROOT or default */
};

/* Parses argv[1..] (argv[0] is the command name) with pflag's rules: flags anywhere,
 * combined shorts (-aq), --flag=value, "--" ends flags. Returns 0, 1 after printing help
 * (exit 0), or -1 after printing Docker's error (exit 125). */
int dflags_parse(const struct dcmd *cmd, int argc, char **argv, struct dargs *out);

/* The command's name as typed: "images" or "image ls" when argv0 (the word that selected it)
 * differs from the top-level name. Returns a static buffer. */
const char *cli_name(const char *argv0, const char *top);

/* Opens the store of --root; prints the error and returns NULL on failure (exit 125). */
struct keel_store *cli_store(const struct dargs *a);

/* "Error: <msg>" / "Error response from daemon: <msg>" on stderr; returns the exit code
 * (1 for a missing image or a conflict, as Docker; 125 for keel's own failures). */
int cli_fail(const keel_error_t *err, bool daemon_style);

/* go-units HumanSizeWithPrecision (decimal units): "4.26MB". */
void human_size(int64_t bytes, int precision, char *out, size_t len);
/* go-units HumanDuration of now - t, plus " ago": "2 months ago". */
void human_since(int64_t t, char *out, size_t len);

struct keel_image;
struct keel_template;

/* Docker's image inspect object for img (new reference). */
json_t *cli_image_inspect_json(const struct keel_image *img);

/* inspect's -f/--format: *t NULL for JSON ("", "json"), else the parsed template (caller
 * frees). Returns 0, or 64 (docker's code) after printing "template parsing error: ...". */
int cli_inspect_template(const char *format, struct keel_template **t);

/* inspect's output: the objects as an indented JSON array (t NULL), or one rendered line
 * each. */
void cli_inspect_print(json_t *all, const struct keel_template *t);

/* `keel image prune` (no top-level form). */
int keel_cli_image_prune(int argc, char **argv);

/* The filters' label=KEY[=VALUE] test (docker's MatchKVList) on a Labels object; on an image's
 * config Labels (images, image prune). Containers: cli_ctr_has_label. */
bool cli_labels_match(const json_t *labels, const char *want);
struct keel_image;
bool cli_image_has_label(const struct keel_image *img, const char *want);

#endif

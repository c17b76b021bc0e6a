#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct keel_opt *find(const struct keel_opt *opts, const char *name, size_t len)
{
	for (const struct keel_opt *o = opts; o->name; o++) {
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
		if (o->alias && strlen(o->alias) == len && strncmp(o->alias, name, len) == 0)
			return o;
	}
	return NULL;
}

static int set_value(const struct keel_opt *o, const char *val, char *errbuf, size_t errlen)
{
	char *end;
	switch (o->kind) {
	case KEEL_OPT_BOOL:
		if (!val || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(bool *)o->dest = true;
		else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(bool *)o->dest = false;
		else {
			snprintf(errbuf, errlen, "invalid boolean value \"%s\" for -%s", val, o->name);
			return -1;
		}
		return 0;
	case KEEL_OPT_STRING:
		*(const char **)o->dest = val;
		return 0;
	case KEEL_OPT_INT:
		errno = 0;
		*(long *)o->dest = strtol(val, &end, 0);
		if (errno || *end || !*val) {
			snprintf(errbuf, errlen, "invalid value \"%s\" for flag -%s", val, o->name);
			return -1;
		}
		return 0;
	case KEEL_OPT_LIST: {
		struct keel_strlist *l = o->dest;
		char **nv = realloc(l->v, (l->n + 2) * sizeof(char *));
		if (!nv) {
			snprintf(errbuf, errlen, "out of memory");
			return -1;
		}
		l->v = nv;
		l->v[l->n++] = strdup(val);
		l->v[l->n] = NULL;
		return 0;
	}
	}
	return -1;
}

int keel_args_parse(int argc, char **argv, int *i, const struct keel_opt *opts, char *errbuf,
		    size_t errlen)
{
	while (*i < argc) {
		const char *a = argv[*i];
		const char *name, *eq;
		const struct keel_opt *o;
		size_t len;

		if (a[0] != '-' || a[1] == '\0')
			return 0;
		if (strcmp(a, "--") == 0) {
			(*i)++;
			return 0;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if ((len == 1 && name[0] == 'h') || (len == 4 && strncmp(name, "help", 4) == 0))
			return 1;
		o = find(opts, name, len);
		if (!o) {
			snprintf(errbuf, errlen, "flag provided but not defined: -%.*s", (int)len, name);
			return -1;
		}
		(*i)++;
		if (o->kind == KEEL_OPT_BOOL) {
			if (set_value(o, eq ? eq + 1 : NULL, errbuf, errlen) < 0)
				return -1;
			continue;
		}
		if (!eq && *i >= argc) {
			snprintf(errbuf, errlen, "flag needs an argument: -%s", o->name);
			return -1;
		}
		if (set_value(o, eq ? eq + 1 : argv[(*i)++], errbuf, errlen) < 0)
			return -1;
	}
	return 0;
}

void keel_args_usage(const struct keel_opt *opts, void *file)
{
	FILE *f = file;
	for (const struct keel_opt *o = opts; o->name; o++) {
		char left[64];
		const char *v = o->kind == KEEL_OPT_BOOL ? "" : " value";
		if (o->alias)
			snprintf(left, sizeof(left), "--%s%s, -%s%s", o->name, v, o->alias, v);
		else
			snprintf(left, sizeof(left), "--%s%s", o->name, v);
		fprintf(f, "   %-34s %s\n", left, o->help ? o->help : "");
	}
}

void keel_strlist_free(struct keel_strlist *l)
{
	for (size_t k = 0; k < l->n; k++)
		free(l->v[k]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Dockerfile parser, expander, ARG scoping and stage graph. The corpus in
 * tests/fixtures/dockerfiles/ is parsed and evaluated and compared with each case's
 * expected.txt (reviewed by hand against Docker's rules; regenerate with
 * tests/helpers/dockerfile-ast --build-arg HTTP_PROXY=http://proxy:3128 --context ...). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "build/context.h"
#include "build/dockerfile.h"
#include "build/eval.h"
#include "build/shellword.h"
#include "util/fs.h"

#define CORPUS "../fixtures/dockerfiles"

static struct keel_dockerfile *parse(const char *text, keel_error_t *err)
{
	return keel_dockerfile_parse(text, strlen(text), "Dockerfile", err);
}

static void expect_parse_error(const char *text, const char *want)
{
	keel_error_t err = { 0 };
	struct keel_dockerfile *df = parse(text, &err);
	if (df)
		fail_msg("parsed, wanted error %s:\n%s", want, text);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
	assert_int_equal(err.errnum, EINVAL);
}

/* Evaluates every stage; returns the first error message or "" (static buffer). */
static const char *eval_all(const char *text, char *const *args)
{
	static keel_error_t err;
	struct keel_dockerfile *df;
	struct keel_df_eval_opts o = { .build_args = args };
	memset(&err, 0, sizeof(err));
	df = parse(text, &err);
	assert_non_null(df);
	for (size_t i = 0; i < df->nstages; i++) {
		struct keel_df_stage_eval ev = { 0 };
		int r = keel_df_eval_stage(df, i, &o, &ev, &err);
		keel_df_stage_eval_free(&ev);
		if (r < 0)
			break;
	}
	keel_dockerfile_free(df);
	return err.msg;
}

/* The same text as tests/helpers/dockerfile-ast prints. */
static char *render(const char *dir)
{
	char path[512], *text = NULL, *s, *out = NULL;
	char *args[] = { "HTTP_PROXY=http://proxy:3128", NULL };
	keel_error_t err = { 0 };
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct keel_dockerfile *df;
	struct keel_df_graph g;
	bool needed[64];
	ssize_t n;
	struct keel_build_context *c;

	snprintf(path, sizeof(path), "%s/%s/Dockerfile", CORPUS, dir);
	n = keel_read_file(path, &text, &err);
	assert_true(n >= 0);
	df = keel_dockerfile_parse(text, (size_t)n, "Dockerfile", &err);
	if (!df)
		fail_msg("%s: %s", dir, err.msg);
	s = keel_dockerfile_dump(df);
	fprintf(f, "# ast\n%s", s);
	free(s);
	for (size_t i = 0; df->warnings && df->warnings[i]; i++)
		fprintf(f, "# warning: %s\n", df->warnings[i]);
	assert_int_equal(keel_df_graph_build(df, args, &g, &err), 0);
	assert_true(keel_df_graph_needed(df, &g, NULL, needed, &err) >= 0);
	for (size_t i = 0; i < df->nstages; i++) {
		struct keel_df_eval_opts o = { .build_args = args };
		struct keel_df_stage_eval ev = { 0 };
		fprintf(f, "# stage %zu%s%s wave=%d needed=%d deps=", i,
			df->stages[i].name ? " " : "", df->stages[i].name ? df->stages[i].name : "",
			g.wave[i], needed[i]);
		for (size_t k = 0; k < g.deps[i].nstages; k++)
			fprintf(f, "%s%zu", k ? "," : "", g.deps[i].stages[k]);
		fprintf(f, "\n");
		if (keel_df_eval_stage(df, i, &o, &ev, &err) < 0)
			fail_msg("%s: %s", dir, err.msg);
		s = keel_df_stage_eval_dump(&ev);
		fprintf(f, "%s", s);
		free(s);
		keel_df_stage_eval_free(&ev);
	}
	snprintf(path, sizeof(path), "%s/%s/context", CORPUS, dir);
	c = keel_build_context_open_dir(path, &err);
	if (!c)
		fail_msg("%s: %s", dir, err.msg);
	fprintf(f, "# context\n");
	for (size_t i = 0; i < c->n; i++)
		/* group/other write bits depend on the umask of whoever checked the tree out */
		fprintf(f, "%s %o%s%s\n", c->entries[i].path,
			(unsigned)(S_ISLNK(c->entries[i].mode) ? c->entries[i].mode
							       : c->entries[i].mode & ~(mode_t)022),
			c->entries[i].link ? " -> " : "",
			c->entries[i].link ? c->entries[i].link : "");
	keel_build_context_free(c);
	keel_df_graph_free(&g);
	keel_dockerfile_free(df);
	free(text);
	fclose(f);
	return out;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void **state)
{
	DIR *d = opendir(CORPUS);
	struct dirent *de;
	char *names[128];
	size_t n = 0;
	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) && n < 128)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(char *), name_cmp);
	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++) {
		char path[512], *want = NULL, *got = render(names[i]);
		keel_error_t err;
		snprintf(path, sizeof(path), "%s/%s/expected.txt", CORPUS, names[i]);
		assert_true(keel_read_file(path, &want, &err) >= 0);
		if (strcmp(got, want) != 0)
			fail_msg("%s: output differs from expected.txt:\n%s", names[i], got);
		free(got);
		free(want);
		free(names[i]);
	}
}

static void test_structure(void **state)
{
	keel_error_t err = { 0 };
	struct keel_dockerfile *df = parse("\xEF\xBB\xBF# Syntax = docker/dockerfile:1\n"
					   "arg A=1\nfrom base as Build\n"
					   "copy --from=x --link a b c/\n"
					   "run <<EOF\nline1\nEOF\ncmd []\n",
					   &err);
	(void)state;
	assert_non_null(df);
	assert_string_equal(df->syntax, "docker/dockerfile:1");
	assert_int_equal(df->ninstrs, 5);
	assert_int_equal(df->nglobal, 1);
	assert_int_equal(df->nstages, 1);
	assert_string_equal(df->stages[0].name, "build");
	assert_string_equal(df->stages[0].base, "base");
	assert_int_equal(df->instrs[2].line, 4);
	assert_int_equal(df->instrs[2].nargs, 3);
	assert_string_equal(keel_df_flag(&df->instrs[2], "from", NULL), "x");
	{
		bool present = false;
		assert_null(keel_df_flag(&df->instrs[2], "link", &present));
		assert_true(present);
	}
	assert_int_equal(df->instrs[3].line, 5);
	assert_int_equal(df->instrs[3].end_line, 7);
	assert_int_equal(df->instrs[3].nheredocs, 1);
	assert_string_equal(df->instrs[3].heredocs[0].content, "line1\n");
	assert_true(df->instrs[3].heredocs[0].expand);
	assert_true(df->instrs[4].json);
	assert_int_equal(df->instrs[4].nargs, 0);
	assert_int_equal(df->instrs[4].line, 8);
	keel_dockerfile_free(df);
}

static void test_directives(void **state)
{
	keel_error_t err = { 0 };
	struct keel_dockerfile *df;
	(void)state;
	/* A directive after a comment is a comment: the escape stays '\'. */
	df = parse("# hello\n# escape=`\nFROM a\nRUN x \\\n y\n", &err);
	assert_non_null(df);
	assert_int_equal(df->escape, '\\');
	assert_string_equal(df->instrs[1].args[0], "x  y");
	keel_dockerfile_free(df);
	df = parse("#ESCAPE = `\nFROM a\nRUN x `\n y\n", &err);
	assert_non_null(df);
	assert_int_equal(df->escape, '`');
	keel_dockerfile_free(df);
	expect_parse_error("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2: only one escape");
	expect_parse_error("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x'");
	/* An escaped escape at the end is not a continuation. */
	df = parse("FROM a\nRUN echo \\\\\nRUN two\n", &err);
	assert_non_null(df);
	assert_int_equal(df->ninstrs, 3);
	keel_dockerfile_free(df);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("FROM a\n\nFOO bar\n", "Dockerfile:3: unknown instruction: FOO");
	expect_parse_error("FROM a\nRUN <<EOF\nnever ends\n", "Dockerfile:2: unterminated heredoc");
	expect_parse_error("", "file with no instructions");
	expect_parse_error("# only a comment\n", "file with no instructions");
	expect_parse_error("RUN x\nFROM a\n", "Dockerfile:1: RUN before the first FROM");
	expect_parse_error("FROM a b\n", "Dockerfile:1: FROM requires either one or three");
	expect_parse_error("FROM a AS 1x\n", "invalid name for build stage");
	expect_parse_error("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two");
	expect_parse_error("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: chaining ONBUILD");
	expect_parse_error("FROM a\nONBUILD FROM b\n", "FROM isn't allowed as an ONBUILD trigger");
	expect_parse_error("FROM a\nONBUILD MAINTAINER me\n", "MAINTAINER isn't allowed");
	expect_parse_error("FROM a\nONBUILD BOGUS x\n", "unknown instruction: BOGUS");
	expect_parse_error("FROM a\nCMD [\"a\", 1]\n", "arrays must be comprised of strings");
	expect_parse_error("FROM a\nSHELL /bin/sh -c\n",
			   "SHELL requires the arguments to be in JSON");
	expect_parse_error("FROM a\nCOPY --bogus=1 a b\n", "unknown flag: --bogus");
	expect_parse_error("FROM a\nENV --x=1 A=1\n", "unknown flag: --x");
	expect_parse_error("FROM a\nCOPY --from=a --from=b a b\n", "duplicate flag");
	expect_parse_error("FROM a\nCOPY --link=maybe a b\n", "expecting boolean value");
	expect_parse_error("FROM a\nCOPY --from a b\n", "missing a value on flag: --from");
	expect_parse_error("FROM a\nCOPY --chmod=999 a b\n", "invalid --chmod=999");
	expect_parse_error("FROM a\nRUN --network=bridge x\n", "unsupported network mode");
	expect_parse_error("FROM a\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments");
	expect_parse_error("FROM a\nHEALTHCHECK FOO x\n", "unknown type \"FOO\"");
	expect_parse_error("FROM a\nHEALTHCHECK --interval=5 CMD x\n", "invalid --interval=5");
	expect_parse_error("FROM a\nHEALTHCHECK --timeout=1us CMD x\n", "less than 1ms");
	expect_parse_error("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "cannot be negative");
	expect_parse_error("FROM a\nENV A\n", "ENV must have two arguments");
	expect_parse_error("FROM a\nENV A=1 B\n", "can't find = in \"B\"");
	expect_parse_error("FROM a\nLABEL =x\n", "LABEL names can not be blank");
	expect_parse_error("FROM a\nVOLUME [\"\"]\n", "VOLUME specified can not be an empty");
	expect_parse_error("FROM a\nWORKDIR\n", "WORKDIR requires exactly one argument");
	expect_parse_error("FROM a\nRUN\n", "RUN requires at least one argument");
	expect_parse_error("FROM a\nEXPOSE\n", "EXPOSE requires at least one argument");
	expect_parse_error("FROM a\nARG\n", "ARG requires at least one argument");
}

static void test_forms(void **state)
{
	keel_error_t err = { 0 };
	struct keel_dockerfile *df =
	    parse("FROM a\n"
		  "RUN [\"echo\", \"a b\"]\n" /* exec */
		  "RUN [not json\n"	      /* shell (invalid JSON) */
		  "CMD [\"x\"] trailing\n"    /* Go's decoder stops after the array */
		  "VOLUME [\"/v\"]\n"
		  "COPY [\"a b\", \"/c\"]\n"
		  "ENV A=1 \\\n    B=2\n"
		  "LABEL k v w\n"
		  "ARG X Y=1 Z=\"q r\"\n"
		  "HEALTHCHECK --interval=1m30s --timeout=500ms CMD curl x\n"
		  "ONBUILD COPY --chown=1 <<EOF /f\nbody\nEOF\n"
		  "RUN 3<<EOF cat <&3\nx\nEOF\n"
		  "RUN echo \"<<notaheredoc\"\n",
		  &err);
	(void)state;
	assert_non_null(df);
	assert_true(df->instrs[1].json);
	assert_string_equal(df->instrs[1].args[1], "a b");
	assert_false(df->instrs[2].json);
	assert_string_equal(df->instrs[2].args[0], "[not json");
	assert_true(df->instrs[3].json);
	assert_int_equal(df->instrs[3].nargs, 1);
	assert_true(df->instrs[4].json);
	assert_string_equal(df->instrs[5].args[0], "a b");
	assert_int_equal(df->instrs[6].nkvs, 2);
	assert_string_equal(df->instrs[6].kvs[1].key, "B");
	assert_true(df->instrs[7].legacy_kv);
	assert_string_equal(df->instrs[7].kvs[0].value, "v w");
	assert_int_equal(df->instrs[8].nkvs, 3);
	assert_null(df->instrs[8].kvs[0].value);
	assert_string_equal(df->instrs[8].kvs[2].value, "\"q r\"");
	assert_true(df->instrs[9].health.interval == 90000000000LL);
	assert_true(df->instrs[9].health.timeout == 500000000LL);
	assert_non_null(df->instrs[10].trigger);
	assert_int_equal(df->instrs[10].trigger->kind, KEEL_DF_COPY);
	assert_int_equal(df->instrs[10].trigger->nheredocs, 1);
	assert_string_equal(df->instrs[10].trigger->heredocs[0].content, "body\n");
	assert_int_equal(df->instrs[11].nheredocs, 1);
	assert_int_equal(df->instrs[11].heredocs[0].fd, 3);
	assert_int_equal(df->instrs[12].nheredocs, 0); /* a quoted word is no heredoc */
	keel_dockerfile_free(df);
}

static void expect_word(const char *in, const char *want)
{
	struct keel_env env = { 0 };
	keel_error_t err;
	char *out = NULL;
	assert_int_equal(keel_env_set(&env, "A", "1", &err), 0);
	assert_int_equal(keel_env_set(&env, "E", "", &err), 0);
	assert_int_equal(keel_env_set(&env, "S", "x y", &err), 0);
	if (keel_shell_word(in, &env, '\\', 0, &out, &err) < 0)
		fail_msg("%s: %s", in, err.msg);
	if (strcmp(out, want) != 0)
		fail_msg("%s -> \"%s\", want \"%s\"", in, out, want);
	free(out);
	keel_env_free(&env);
}

static void test_shellword(void **state)
{
	struct keel_env env = { 0 };
	keel_error_t err;
	char *out = NULL, **words = NULL;
	size_t n;
	(void)state;
	expect_word("$A", "1");
	expect_word("${A}x", "1x");
	expect_word("$Ax", "");
	expect_word("${U:-d}", "d");
	expect_word("${E:-d}", "d");
	expect_word("${E-d}", "");
	expect_word("${U-d}", "d");
	expect_word("${A:+alt}", "alt");
	expect_word("${E:+alt}", "");
	expect_word("${E+alt}", "alt");
	expect_word("${U:-${A}2}", "12");
	expect_word("'$A'", "$A");
	expect_word("\"$A\"", "1");
	expect_word("\\$A", "$A");
	expect_word("\"\\$A \\\" \\n\"", "$A \" \\n");
	expect_word("a\\ b", "a b");
	expect_word("$", "$");
	expect_word("a$", "a$");
	expect_word("$1", "");
	expect_word("x y  z", "x y  z");
	assert_int_equal(keel_shell_word("${U:?must be set}", &env, '\\', 0, &out, &err), -1);
	assert_non_null(strstr(err.msg, "must be set"));
	assert_int_equal(keel_shell_word("\"open", &env, '\\', 0, &out, &err), -1);
	assert_non_null(strstr(err.msg, "matching double-quote"));
	assert_int_equal(keel_shell_word("'open", &env, '\\', 0, &out, &err), -1);
	assert_int_equal(keel_shell_word("${A", &env, '\\', 0, &out, &err), -1);
	assert_int_equal(keel_shell_word("${A%x}", &env, '\\', 0, &out, &err), -1);
	assert_int_equal(keel_shell_word("${}", &env, '\\', 0, &out, &err), -1);
	/* backtick escape */
	assert_int_equal(keel_shell_word("C:\\dir `$A", &env, '`', 0, &out, &err), 0);
	assert_string_equal(out, "C:\\dir $A");
	free(out);
	/* words: unquoted variables split, quoted text does not */
	assert_int_equal(keel_env_set(&env, "S", "80 443", &err), 0);
	assert_int_equal(keel_shell_words("$S \"a b\" c''d", &env, '\\', 0, &words, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(words[0], "80");
	assert_string_equal(words[1], "443");
	assert_string_equal(words[2], "a b");
	assert_string_equal(words[3], "cd");
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
	assert_int_equal(keel_shell_words("  ", &env, '\\', 0, &words, &n, &err), 0);
	assert_int_equal(n, 0);
	free(words);
	keel_env_free(&env);
}

static void test_eval_errors(void **state)
{
	char *none[] = { NULL };
	(void)state;
	assert_non_null(strstr(eval_all("FROM a\nENV A=\"x\n", none), "Dockerfile:2: ENV: "
								      "unexpected end"));
	assert_non_null(strstr(eval_all("FROM a\nRUN --mount=type=cache,target=/c x\n", none),
			       "Dockerfile:2: RUN --mount is not supported"));
	assert_non_null(strstr(eval_all("ARG M=abc\nFROM a\nARG M\nCOPY --chmod=$M a b\n", none),
			       "Dockerfile:4: invalid --chmod=abc"));
	assert_non_null(
	    strstr(eval_all("ARG B\nFROM $B\n", none), "Dockerfile:2: FROM: base name"));
	assert_string_equal(eval_all("FROM a\nCOPY --chmod=$M a b\n", (char *[]){ NULL }),
			    "Dockerfile:2: invalid --chmod=: an octal mode is needed (e.g. 0755)");
}

/* The "|N K=V" history args are sorted as Docker's prependEnvOnCmd sorts them. */
static void test_history_args_sorted(void **state)
{
	keel_error_t err = { 0 };
	struct keel_dockerfile *df = parse("FROM a\nARG Z=1\nARG A=2\nARG M\nRUN x\n", &err);
	struct keel_df_eval_opts o = { 0 };
	struct keel_df_stage_eval ev = { 0 };
	(void)state;
	assert_non_null(df);
	assert_int_equal(keel_df_eval_stage(df, 0, &o, &ev, &err), 0);
	assert_string_equal(ev.steps[4].build_args[0], "A=2");
	assert_string_equal(ev.steps[4].build_args[1], "Z=1");
	assert_null(ev.steps[4].build_args[2]);
	keel_df_stage_eval_free(&ev);
	keel_dockerfile_free(df);
}

static void test_arg_scoping(void **state)
{
	keel_error_t err = { 0 };
	char *args[] = { "G=cli", "S=cli-s", "NOPE=1", "no_proxy=x", NULL };
	struct keel_dockerfile *df = parse("ARG G=g\nARG IMG=img\nFROM $IMG:$G\n"
					   "RUN echo\nARG G\nARG S=s\nARG T=${S}t\nENV S=env\n"
					   "RUN echo\nFROM b\nRUN echo $G\n",
					   &err);
	struct keel_df_eval_opts o = { .build_args = args };
	struct keel_df_stage_eval ev = { 0 };
	char **unused;
	(void)state;
	assert_non_null(df);
	assert_int_equal(keel_df_eval_stage(df, 0, &o, &ev, &err), 0);
	assert_string_equal(ev.base, "img:cli");
	/* before "ARG G": nothing in scope; no_proxy in RUN's env but not in the history */
	assert_null(ev.steps[1].build_args[0]);
	assert_string_equal(ev.steps[1].env[0], "no_proxy=x");
	/* after: G from the build arg, T from S's value at the time; S is left out of the
	 * history args because ENV S shadows it (Docker's FilterAllowed) */
	assert_string_equal(ev.steps[6].build_args[0], "G=cli");
	assert_string_equal(ev.steps[6].build_args[1], "T=cli-st");
	assert_null(ev.steps[6].build_args[2]);
	/* ENV S wins in RUN's environment */
	{
		bool found = false;
		for (char **e = ev.steps[6].env; *e; e++)
			if (strcmp(*e, "S=env") == 0)
				found = true;
		assert_true(found);
	}
	keel_df_stage_eval_free(&ev);
	/* the second stage does not see the global G */
	assert_int_equal(keel_df_eval_stage(df, 1, &o, &ev, &err), 0);
	assert_null(ev.steps[1].build_args[0]);
	keel_df_stage_eval_free(&ev);
	unused = keel_df_unused_build_args(df, NULL, args);
	assert_non_null(unused);
	assert_string_equal(unused[0], "NOPE");
	assert_null(unused[1]);
	free(unused[0]);
	free(unused);
	keel_dockerfile_free(df);
}

static void test_base_env_workdir(void **state)
{
	keel_error_t err = { 0 };
	char *base_env[] = { "PATH=/usr/bin", "HOME=/root", NULL };
	struct keel_dockerfile *df =
	    parse("FROM a\nENV PATH=$PATH:/x\nWORKDIR sub\nWORKDIR $HOME/..\n", &err);
	struct keel_df_eval_opts o = { .base_env = base_env, .base_workdir = "/srv" };
	struct keel_df_stage_eval ev = { 0 };
	(void)state;
	assert_non_null(df);
	assert_int_equal(keel_df_eval_stage(df, 0, &o, &ev, &err), 0);
	assert_string_equal(ev.steps[1].kvs[0].value, "/usr/bin:/x");
	assert_string_equal(ev.steps[2].workdir, "/srv/sub");
	assert_string_equal(ev.steps[3].workdir, "/");
	keel_df_stage_eval_free(&ev);
	keel_dockerfile_free(df);
}

static void test_graph(void **state)
{
	keel_error_t err = { 0 };
	struct keel_df_graph g;
	bool needed[8];
	char *args[] = { "SRC=b", NULL };
	struct keel_dockerfile *df = parse("FROM x AS a\nFROM x AS b\nFROM a AS c\n"
					   "ARG SRC\nCOPY --from=$SRC / /\nFROM x AS x\n"
					   "COPY --from=alpine / /\nCOPY --from=0 / /\n",
					   &err);
	(void)state;
	assert_non_null(df);
	assert_int_equal(keel_df_graph_build(df, args, &g, &err), 0);
	assert_int_equal(g.deps[2].base_stage, 0);
	assert_int_equal(g.deps[2].nstages, 2);
	assert_int_equal(g.deps[2].stages[1], 1);
	assert_int_equal(g.deps[3].base_stage, -1); /* FROM x AS x: the image x */
	assert_int_equal(g.deps[3].nstages, 1);
	assert_int_equal(g.wave[0], 0);
	assert_int_equal(g.wave[1], 0);
	assert_int_equal(g.wave[2], 1);
	assert_int_equal(keel_df_graph_needed(df, &g, "c", needed, &err), 2);
	assert_true(needed[0] && needed[1] && needed[2] && !needed[3]);
	assert_int_equal(keel_df_graph_needed(df, &g, NULL, needed, &err), 3);
	assert_true(needed[0] && !needed[1] && !needed[2] && needed[3]);
	assert_int_equal(keel_df_graph_needed(df, &g, "nope", needed, &err), -1);
	assert_non_null(strstr(err.msg, "target stage \"nope\" could not be found"));
	keel_df_graph_free(&g);
	keel_dockerfile_free(df);

	df = parse("FROM x AS a\nCOPY --from=b / /\nFROM x AS b\nCOPY --from=a / /\n", &err);
	assert_non_null(df);
	assert_int_equal(keel_df_graph_build(df, NULL, &g, &err), -1);
	assert_non_null(strstr(err.msg, "circular dependency"));
	keel_dockerfile_free(df);
	df = parse("FROM x AS a\nCOPY --from=a / /\n", &err);
	assert_int_equal(keel_df_graph_build(df, NULL, &g, &err), -1);
	assert_non_null(strstr(err.msg, "Dockerfile:2: circular dependency"));
	keel_dockerfile_free(df);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),    cmocka_unit_test(test_directives),
		cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_forms),
		cmocka_unit_test(test_shellword),    cmocka_unit_test(test_eval_errors),
		cmocka_unit_test(test_arg_scoping),  cmocka_unit_test(test_history_args_sorted),
		cmocka_unit_test(test_base_env_workdir),
		cmocka_unit_test(test_graph),	     cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

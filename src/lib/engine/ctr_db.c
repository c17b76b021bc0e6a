/* Container records in the store's SQLite database, the engine handle, ids and names. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/ctr_internal.h"
#include "engine/logfile.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

/* One string a schema version (keel_store_migrate). */
static const char *const schema[] = {
	"CREATE TABLE containers ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" image_id TEXT NOT NULL,"
	" image_ref TEXT NOT NULL,"
	" created TEXT NOT NULL,"
	" doc TEXT NOT NULL);",
};

const char *keel_engine_default_run_root(void)
{
	const char *r = getenv("KEEL_RUN_ROOT");
	return r && *r ? r : "/run/keel";
}

void keel_engine_close(struct keel_engine *e)
{
	if (!e)
		return;
	keel_store_close(e->store);
	free(e->root);
	free(e->run_root);
	free(e->runtime_root);
	free(e);
}

static char *absolute(const char *p, keel_error_t *err)
{
	char cwd[PATH_MAX], *out;
	if (p[0] == '/')
		out = strdup(p);
	else if (!getcwd(cwd, sizeof(cwd)))
		return keel_err_sys(err, "getcwd"), NULL;
	else if (asprintf(&out, "%s/%s", cwd, p) < 0)
		out = NULL;
	if (!out)
		keel_err(err, ENOMEM, "out of memory");
	return out;
}

struct keel_engine *keel_engine_open(const char *root, const char *run_root, keel_error_t *err)
{
	struct keel_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		keel_err(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (!(e->store = keel_store_open(root ? root : keel_store_default_root(), err)))
		goto fail;
	keel_trace("engine: store open");
	e->root = strdup(keel_store_root(e->store));
	e->run_root = absolute(run_root ? run_root : keel_engine_default_run_root(), err);
	if (!e->root || !e->run_root || asprintf(&e->runtime_root, "%s/runtime", e->run_root) < 0) {
		e->runtime_root = NULL;
		keel_err(err, ENOMEM, "out of memory");
		goto fail;
	}
	/* Short-lived processes: without these every keel command would checkpoint the WAL
	 * and delete it on close (fsyncs of the database and of the directory), then create it
	 * again on the next open. SQLite still checkpoints every 1000 pages while writing. */
	{
		int on = 1;
		sqlite3 *db = keel_store_db(e->store);
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
	}
	if (keel_mkdir_p(e->runtime_root, 0700, err) < 0 ||
	    keel_store_migrate(e->store, "containers", schema, sizeof(schema) / sizeof(schema[0]),
			       err) < 0)
		goto fail;
	keel_trace("engine: open");
	return e;
fail:
	keel_engine_close(e);
	return NULL;
}

/* ---------- records ---------- */

void keel_ctr_free(struct keel_ctr *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->image_id);
	free(c->image_ref);
	free(c->created);
	json_decref(c->doc);
	free(c);
}

char *keel_ctr_dir(const struct keel_engine *e, const char *id)
{
	char *p;
	return asprintf(&p, "%s/containers/%s", e->root, id) < 0 ? NULL : p;
}

char *keel_ctr_log_path(const struct keel_engine *e, const struct keel_ctr *c)
{
	char *p;
	return asprintf(&p, "%s/containers/%s/%s-json.log", e->root, c->id, c->id) < 0 ? NULL : p;
}

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

static struct keel_ctr *row_to_ctr(sqlite3_stmt *st, keel_error_t *err)
{
	struct keel_ctr *c = calloc(1, sizeof(*c));
	const unsigned char *id = sqlite3_column_text(st, 0);
	const unsigned char *doc = sqlite3_column_text(st, 5);
	json_error_t jerr;
	if (!c)
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	snprintf(c->id, sizeof(c->id), "%s", id ? (const char *)id : "");
	c->name = col(st, 1);
	c->image_id = col(st, 2);
	c->image_ref = col(st, 3);
	c->created = col(st, 4);
	c->doc = doc ? json_loads((const char *)doc, 0, &jerr) : NULL;
	if (!c->name || !c->image_id || !c->image_ref || !c->created || !c->doc) {
		keel_err(err, EIO, "container %s: broken record", c->id);
		keel_ctr_free(c);
		return NULL;
	}
	return c;
}

#define CTR_COLS "SELECT id, name, image_id, image_ref, created, doc FROM containers "

static int db_fail(struct keel_engine *e, keel_error_t *err, const char *what)
{
	return keel_err(err, EIO, "%s: %s", what, sqlite3_errmsg(keel_store_db(e->store)));
}

/* Runs a lookup with one text parameter; returns 0 none, 1 one (*out), 2 several. */
static int lookup(struct keel_engine *e, const char *sql, const char *arg, struct keel_ctr **out,
		  keel_error_t *err)
{
	sqlite3_stmt *st = NULL;
	int n = 0, r;
	if (sqlite3_prepare_v2(keel_store_db(e->store), sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(e, err, "containers");
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(st)) == SQLITE_ROW && n < 2) {
		if (n++ == 0 && !(*out = row_to_ctr(st, err))) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		keel_ctr_free(*out);
		*out = NULL;
		return db_fail(e, err, "containers");
	}
	return n;
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

struct keel_ctr *keel_ctr_get(struct keel_engine *e, const char *ref, keel_error_t *err)
{
	struct keel_ctr *c = NULL;
	const char *name = ref[0] == '/' ? ref + 1 : ref;
	int n;
	char prefix[80];

	if (!*ref)
		return keel_ctr_msg(err, ENOENT, "No such container: %s", ref), NULL;
	if ((n = lookup(e, CTR_COLS "WHERE id = ?1", ref, &c, err)) != 0)
		return n < 0 ? NULL : c;
	if ((n = lookup(e, CTR_COLS "WHERE name = ?1", name, &c, err)) != 0)
		return n < 0 ? NULL : c;
	if (is_hex(ref) && strlen(ref) < sizeof(prefix) - 2) {
		snprintf(prefix, sizeof(prefix), "%s%%", ref);
		n = lookup(e, CTR_COLS "WHERE id LIKE ?1", prefix, &c, err);
		if (n == 1)
			return c;
		if (n == 2) {
			keel_ctr_free(c);
			keel_ctr_msg(err, EBUSY,
				     "multiple containers found with provided prefix: %s", ref);
			return NULL;
		}
		if (n < 0)
			return NULL;
	}
	keel_ctr_msg(err, ENOENT, "No such container: %s", ref);
	return NULL;
}

void keel_ctr_list_free(struct keel_ctr **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		keel_ctr_free(v[i]);
	free(v);
}

int keel_ctr_list(struct keel_engine *e, struct keel_ctr ***out, size_t *n, keel_error_t *err)
{
	sqlite3_stmt *st = NULL;
	struct keel_ctr **v = NULL, *c;
	size_t cnt = 0;
	int r;
	if (sqlite3_prepare_v2(keel_store_db(e->store), CTR_COLS "ORDER BY created DESC", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(e, err, "containers");
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct keel_ctr **nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv || !(c = row_to_ctr(st, err))) {
			if (!nv)
				keel_err(err, ENOMEM, "out of memory");
			else
				v = nv;
			sqlite3_finalize(st);
			keel_ctr_list_free(v, cnt);
			return -1;
		}
		v = nv;
		v[cnt++] = c;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		keel_ctr_list_free(v, cnt);
		return db_fail(e, err, "containers");
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int name_conflict(struct keel_engine *e, const char *name, keel_error_t *err)
{
	struct keel_ctr *o = NULL;
	int n = lookup(e, CTR_COLS "WHERE name = ?1", name, &o, err);
	if (n > 0)
		keel_ctr_msg(
		    err, EEXIST,
		    "Conflict. The container name \"/%s\" is already in use by container "
		    "\"%s\". You have to remove (or rename) that container to be able to reuse "
		    "that name.",
		    name, o->id);
	keel_ctr_free(o);
	return n == 0 ? 0 : -1;
}

int keel_ctr_db_insert(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err)
{
	sqlite3_stmt *st = NULL;
	cleanup_free char *doc = json_dumps(c->doc, JSON_COMPACT);
	int r;
	if (!doc)
		return keel_err(err, ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(
		keel_store_db(e->store),
		"INSERT INTO containers (id, name, image_id, image_ref, created, doc)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		-1, &st, NULL) != SQLITE_OK)
		return db_fail(e, err, "adding container");
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->image_ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->created, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, doc, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r == SQLITE_CONSTRAINT) {
		if (name_conflict(e, c->name, err) < 0)
			return -1;
		return keel_ctr_msg(err, EEXIST, "container %s already exists", c->id);
	}
	return r == SQLITE_DONE ? 0 : db_fail(e, err, "adding container");
}

static int exec_text2(struct keel_engine *e, const char *sql, const char *a, const char *b,
		      keel_error_t *err)
{
	sqlite3_stmt *st = NULL;
	int r;
	if (sqlite3_prepare_v2(keel_store_db(e->store), sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(e, err, "containers");
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : r;
}

int keel_ctr_db_delete(struct keel_engine *e, const char *id, keel_error_t *err)
{
	int r = exec_text2(e, "DELETE FROM containers WHERE id = ?1", id, NULL, err);
	return r == 0 ? 0 : db_fail(e, err, "removing container");
}

int keel_ctr_rename(struct keel_engine *e, struct keel_ctr *c, const char *name, keel_error_t *err)
{
	char *dup;
	int r;
	if (name[0] == '/')
		name++;
	if (!keel_ctr_name_valid(name))
		return keel_ctr_msg(
		    err, EINVAL,
		    "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
		    "allowed",
		    name);
	if (!strcmp(name, c->name))
		return keel_ctr_msg(err, EINVAL,
				    "Renaming a container with the same name as its current name");
	r = exec_text2(e, "UPDATE containers SET name = ?2 WHERE id = ?1", c->id, name, err);
	if (r == SQLITE_CONSTRAINT)
		return name_conflict(e, name, err);
	if (r != 0)
		return db_fail(e, err, "renaming container");
	if (!(dup = strdup(name)))
		return keel_err(err, ENOMEM, "out of memory");
	free(c->name);
	c->name = dup;
	return 0;
}

/* ---------- ids, names, time, messages ---------- */

int keel_ctr_msg(keel_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->errnum = errnum;
	return -1;
}

void keel_ctr_now(char *buf, size_t len)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	keel_logfile_format_time(&t, buf, len);
}

int keel_ctr_new_id(char id[KEEL_CTR_ID_LEN + 1], keel_error_t *err)
{
	unsigned char b[KEEL_CTR_ID_LEN / 2];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return keel_err_sys(err, "getrandom");
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

bool keel_ctr_name_valid(const char *name)
{
	if (!isalnum((unsigned char)name[0]) || !name[1])
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

/* docker's generator pairs an adjective with a notable scientist or hacker; these lists are
 * keel's own, in the same spirit. */
static const char *const adjectives[] = {
	"admiring",	 "adoring",   "affectionate", "amazing",  "awesome",   "beautiful",
	"blissful",	 "bold",      "brave",	      "busy",	  "charming",  "clever",
	"compassionate", "competent", "confident",    "cool",	  "dazzling",  "determined",
	"eager",	 "ecstatic",  "elastic",      "elated",	  "elegant",   "epic",
	"exciting",	 "fervent",   "festive",      "focused",  "friendly",  "funny",
	"gallant",	 "gifted",    "goofy",	      "gracious", "happy",     "hopeful",
	"jolly",	 "keen",      "kind",	      "laughing", "loving",    "lucid",
	"magical",	 "modest",    "nice",	      "nifty",	  "nostalgic", "optimistic",
	"peaceful",	 "pensive",   "practical",    "quirky",	  "relaxed",   "romantic",
	"serene",	 "sharp",     "silly",	      "sleepy",	  "stoic",     "sweet",
	"tender",	 "trusting",  "upbeat",	      "vibrant",  "vigilant",  "wizardly",
	"wonderful",	 "youthful",  "zealous",      "zen",
};
static const char *const surnames[] = {
	"agnesi",    "allen",	 "archimedes",	  "babbage",	"bardeen",    "bell",
	"bhabha",    "bohr",	 "boole",	  "borg",	"bose",	      "brattain",
	"carson",    "cerf",	 "chandrasekhar", "curie",	"darwin",     "diffie",
	"dijkstra",  "einstein", "euclid",	  "euler",	"faraday",    "fermat",
	"fermi",     "feynman",	 "franklin",	  "galileo",	"gauss",      "goldberg",
	"goodall",   "hamilton", "hawking",	  "heisenberg", "hodgkin",    "hopper",
	"hypatia",   "johnson",	 "kapitsa",	  "kepler",	"knuth",      "lamarr",
	"lamport",   "liskov",	 "lovelace",	  "maxwell",	"mcclintock", "meitner",
	"mendel",    "newton",	 "noether",	  "pascal",	"pasteur",    "planck",
	"ramanujan", "ritchie",	 "shannon",	  "sinoussi",	"thompson",   "torvalds",
	"turing",    "wilson",	 "wozniak",	  "yalow",
};

char *keel_ctr_random_name(struct keel_engine *e, keel_error_t *err)
{
	const size_t na = sizeof(adjectives) / sizeof(adjectives[0]);
	const size_t ns = sizeof(surnames) / sizeof(surnames[0]);
	for (int attempt = 0; attempt < 20; attempt++) {
		unsigned r[2];
		char *name;
		struct keel_ctr *o = NULL;
		int n;
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return keel_err_sys(err, "getrandom"), NULL;
		/* after a few collisions docker appends a digit; so do we */
		int len = attempt < 3
			      ? asprintf(&name, "%s_%s", adjectives[r[0] % na], surnames[r[1] % ns])
			      : asprintf(&name, "%s_%s%u", adjectives[r[0] % na],
					 surnames[r[1] % ns], r[0] % 10);
		if (len < 0)
			return keel_err(err, ENOMEM, "out of memory"), NULL;
		n = lookup(e, CTR_COLS "WHERE name = ?1", name, &o, err);
		keel_ctr_free(o);
		if (n == 0)
			return name;
		free(name);
		if (n < 0)
			return NULL;
	}
	keel_ctr_msg(err, EEXIST, "could not find a free container name");
	return NULL;
}

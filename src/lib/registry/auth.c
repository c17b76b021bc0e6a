/* Credentials in Docker's config.json ("auths": {"<server>": {"auth": base64(user:pass)}}),
 * and WWW-Authenticate challenges. The file keeps every other key it had; it is replaced by
 * rename and is mode 0600 since it holds passwords. */
#include "registry/regclient.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define HUB_KEY "https://index.docker.io/v1/"

char *keel_auth_config_path(void)
{
	const char *p = getenv("KEEL_AUTH_CONFIG"), *d = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	char *out = NULL;
	if (p && *p)
		return strdup(p);
	if (d && *d)
		return asprintf(&out, "%s/config.json", d) < 0 ? NULL : out;
	return asprintf(&out, "%s/.docker/config.json", home && *home ? home : "/root") < 0 ? NULL
											    : out;
}

static bool is_hub(const char *s)
{
	return !strcmp(s, "docker.io") || !strcmp(s, "index.docker.io") ||
	       !strcmp(s, "registry-1.docker.io") || !strcmp(s, HUB_KEY) ||
	       !strcmp(s, "https://index.docker.io/v1") || !strcmp(s, "https://index.docker.io");
}

char *keel_auth_server_key(const char *server)
{
	const char *s = server && *server ? server : "docker.io";
	size_t n;
	if (is_hub(s))
		return strdup(HUB_KEY);
	if (!strncmp(s, "https://", 8))
		s += 8;
	else if (!strncmp(s, "http://", 7))
		s += 7;
	n = strcspn(s, "/");
	return strndup(s, n);
}

static json_t *load_file(const char *path, keel_error_t *err)
{
	json_error_t jerr;
	json_t *j;
	if (access(path, F_OK) < 0)
		return json_object();
	j = json_load_file(path, 0, &jerr);
	if (!j || !json_is_object(j)) {
		keel_err(err, EINVAL, "%s: %s", path, j ? "not a JSON object" : jerr.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static int decode_auth(const char *b64, char **user, char **pass, keel_error_t *err)
{
	size_t len = strlen(b64);
	cleanup_free unsigned char *raw = malloc(len / 4 * 3 + 4);
	char *colon;
	int n;
	if (!raw)
		return keel_err(err, ENOMEM, "auth");
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0 || len % 4)
		return keel_err_user(err, EINVAL, "config.json: invalid auth value");
	/* EVP_DecodeBlock counts the '=' padding as zero bytes */
	while (len && b64[len - 1] == '=') {
		len--;
		n--;
	}
	raw[n] = '\0';
	colon = strchr((char *)raw, ':');
	if (!colon)
		return keel_err_user(err, EINVAL, "config.json: auth value is not user:password");
	*colon = '\0';
	*user = strdup((char *)raw);
	*pass = strdup(colon + 1);
	return *user && *pass ? 1 : keel_err(err, ENOMEM, "auth");
}

int keel_auth_lookup(const char *domain, char **user, char **pass, keel_error_t *err)
{
	cleanup_free char *path = keel_auth_config_path(), *key = keel_auth_server_key(domain);
	cleanup_json json_t *conf = NULL;
	json_t *auths, *v;
	const char *k;
	*user = *pass = NULL;
	if (!path || !key)
		return keel_err(err, ENOMEM, "auth");
	conf = load_file(path, err);
	if (!conf)
		return -1;
	auths = json_object_get(conf, "auths");
	/* exact key first, then keys written with a scheme or a path, as Docker also accepts */
	v = json_object_get(auths, key);
	if (!v) {
		json_t *each;
		json_object_foreach (auths, k, each) {
			cleanup_free char *norm = keel_auth_server_key(k);
			if (norm && !strcmp(norm, key)) {
				v = each;
				break;
			}
		}
	}
	if (!v || !json_is_string(json_object_get(v, "auth")))
		return 0;
	return decode_auth(json_string_value(json_object_get(v, "auth")), user, pass, err);
}

static int write_file(const char *path, json_t *conf, keel_error_t *err)
{
	cleanup_free char *tmp = NULL, *dir = strdup(path);
	cleanup_free char *text = json_dumps(conf, JSON_INDENT(1) | JSON_SORT_KEYS);
	cleanup_close int fd = -1;
	char *slash;
	size_t len;
	if (!dir || !text || asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return keel_err(err, ENOMEM, "auth");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (keel_mkdir_p(dir, 0700, err) < 0)
			return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return keel_err_sys(err, "creating %s", tmp);
	len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fchmod(fd, 0600) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		keel_err_sys(err, "writing %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int keel_auth_store(const char *server_key, const char *user, const char *pass, keel_error_t *err)
{
	cleanup_free char *path = keel_auth_config_path(), *plain = NULL;
	cleanup_free char *b64 = NULL;
	cleanup_json json_t *conf = NULL;
	json_t *auths;
	int found;
	if (!path)
		return keel_err(err, ENOMEM, "auth");
	conf = load_file(path, err);
	if (!conf)
		return -1;
	auths = json_object_get(conf, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		if (!auths || json_object_set_new(conf, "auths", auths) < 0)
			return keel_err(err, ENOMEM, "auth");
	}
	found = json_object_get(auths, server_key) != NULL;
	if (!user) {
		if (!found)
			return 0;
		json_object_del(auths, server_key);
		return write_file(path, conf, err) < 0 ? -1 : 1;
	}
	if (asprintf(&plain, "%s:%s", user, pass) < 0)
		return keel_err(err, ENOMEM, "auth");
	b64 = malloc(strlen(plain) / 3 * 4 + 8);
	if (!b64)
		return keel_err(err, ENOMEM, "auth");
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, (int)strlen(plain));
	if (json_object_set_new(auths, server_key, json_pack("{s:s}", "auth", b64)) < 0)
		return keel_err(err, ENOMEM, "auth");
	explicit_bzero(plain, strlen(plain));
	return write_file(path, conf, err) < 0 ? -1 : found;
}

void keel_challenge_clear(struct keel_challenge *c)
{
	free(c->realm);
	free(c->service);
	memset(c, 0, sizeof(*c));
}

/* key="value" or key=token pairs after the scheme, comma separated. */
static const char *param(const char *p, char *key, size_t klen, char **val)
{
	size_t n = 0;
	char buf[2048];
	size_t vn = 0;
	while (*p == ' ' || *p == ',')
		p++;
	while (*p && *p != '=' && *p != ' ' && *p != ',' && n < klen - 1)
		key[n++] = (char)tolower((unsigned char)*p++);
	key[n] = '\0';
	if (*p != '=')
		return NULL;
	p++;
	if (*p == '"') {
		for (p++; *p && *p != '"' && vn < sizeof(buf) - 1; p++) {
			if (*p == '\\' && p[1])
				p++;
			buf[vn++] = *p;
		}
		if (*p == '"')
			p++;
	} else {
		while (*p && *p != ',' && *p != ' ' && vn < sizeof(buf) - 1)
			buf[vn++] = *p++;
	}
	buf[vn] = '\0';
	*val = strdup(buf);
	return *val ? p : NULL;
}

int keel_challenge_parse(const char *hdr, struct keel_challenge *c)
{
	const char *p = hdr;
	size_t n = 0;
	keel_challenge_clear(c);
	while (*p == ' ')
		p++;
	while (*p && *p != ' ' && n < sizeof(c->scheme) - 1)
		c->scheme[n++] = (char)tolower((unsigned char)*p++);
	c->scheme[n] = '\0';
	while (*p) {
		char key[32], *val = NULL;
		p = param(p, key, sizeof(key), &val);
		if (!p)
			break;
		if (!strcmp(key, "realm") && !c->realm)
			c->realm = val;
		else if (!strcmp(key, "service") && !c->service)
			c->service = val;
		else
			free(val);
	}
	return strcmp(c->scheme, "bearer") == 0 && !c->realm ? -1 : 0;
}

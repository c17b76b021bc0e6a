/* `login` checks the credentials the way the registry will use them (a token for no scope,
 * or GET /v2/ with Basic) before writing them to config.json; `logout` removes them. */
#include "registry/regclient.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static int check(struct keel_reg_client *c, keel_error_t *err)
{
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .url = "/v2/", .body_fd = -1 };
	int ret;
	if (keel_reg_do(c, &req, &r, err) < 0)
		return -1;
	if (r.status == 200)
		ret = 0;
	else if (r.status == 401)
		ret = keel_err_user(err, EACCES, "unauthorized: incorrect username or password");
	else
		ret = keel_reg_status_err(&r, "login", err);
	keel_reg_resp_clear(&r);
	return ret;
}

int keel_registry_login(const char *server, const char *user, const char *pass, keel_error_t *err)
{
	cleanup_free char *key = keel_auth_server_key(server);
	struct keel_reg_client *c;
	int ret;
	if (!key)
		return keel_err(err, ENOMEM, "login");
	c = keel_reg_client_new(strchr(key, '/') ? "docker.io" : key, user, pass, false, err);
	if (!c)
		return -1;
	ret = check(c, err);
	keel_reg_client_free(c);
	if (ret < 0)
		return -1;
	return keel_auth_store(key, user, pass, err) < 0 ? -1 : 0;
}

int keel_registry_logout(const char *server, keel_error_t *err)
{
	cleanup_free char *key = keel_auth_server_key(server);
	int r;
	if (!key)
		return keel_err(err, ENOMEM, "logout");
	r = keel_auth_store(key, NULL, NULL, err);
	if (r == 0)
		return keel_err_user(err, ENOENT, "not logged in to %s", key);
	return r < 0 ? -1 : 0;
}

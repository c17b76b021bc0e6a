#!/usr/bin/env bats
# Command-line surface that does not need a running container: --version, spec, features,
# option parsing, unknown IDs for every command, --log/--log-format.

load ../lib/common

@test "--version and -v: '<name> version X', 'commit: ...', 'spec: 1.0.x'" {
	run rt --version
	assert_status 0
	assert_match "$(sed -n 1p <<<"$output")" '^[a-z][a-z0-9-]* version [0-9]+\.[0-9]+'
	assert_match "$(sed -n 2p <<<"$output")" '^commit: .+'
	assert_match "$(sed -n 3p <<<"$output")" '^spec: 1\.[0-9]+\.[0-9]+'
	local v=$output
	run rt -v
	assert_status 0
	assert_eq "$output" "$v"
	# without --root, as dockerd calls it
	run "$KEEL_RUNTIME" --version
	assert_status 0
	assert_eq "$output" "$v"
}

@test "keel runtime CMD is the same as keel-runtime CMD" {
	is_keel || skip "keel only"
	run "$KEEL" runtime --root "$ROOT" list -q
	assert_status 0
	run "$KEEL" runtime --version
	assert_status 0
	assert_match "$output" 'version'
}

@test "spec: writes a usable config.json and refuses to overwrite it" {
	cd "$BATS_TEST_TMPDIR"
	run rt spec
	assert_status 0
	assert_eq "$output" ""
	local c
	c=$(cat config.json)
	assert_jq "$c" '.ociVersion | test("^1\\.0\\.")'
	assert_jq "$c" '.process.args == ["sh"] and .process.terminal == true and .process.cwd == "/"'
	assert_jq "$c" '.root.path == "rootfs" and .root.readonly == true'
	assert_jq "$c" '[.linux.namespaces[].type] | sort == ["ipc","mount","network","pid","uts"]'
	assert_jq "$c" '[.mounts[].destination] | index("/proc") != null'
	assert_jq "$c" '.linux.maskedPaths | index("/proc/kcore") != null'
	assert_jq "$c" '.linux.readonlyPaths | index("/proc/sys") != null'
	assert_jq "$c" '.process.capabilities.bounding | sort == ["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]'
	assert_jq "$c" '.process.noNewPrivileges == true'
	echo '{"mine":1}' >config.json
	run rt spec
	assert_status 1
	assert_contains "$output" "config.json exists"
	assert_eq "$(cat config.json)" '{"mine":1}'
}

@test "spec --bundle DIR writes DIR/config.json" {
	mkdir "$BATS_TEST_TMPDIR/b"
	run rt spec --bundle "$BATS_TEST_TMPDIR/b"
	assert_status 0
	jq -e .process "$BATS_TEST_TMPDIR/b/config.json" >/dev/null
	mkdir "$BATS_TEST_TMPDIR/c"
	run rt spec -b "$BATS_TEST_TMPDIR/c"
	assert_status 0
	[[ -f $BATS_TEST_TMPDIR/c/config.json ]]
}

@test "features: JSON with the documented keys" {
	run rt features
	assert_status 0
	local f=$output
	assert_jq "$f" '.ociVersionMin | test("^1\\.")'
	assert_jq "$f" '.ociVersionMax | test("^1\\.")'
	assert_jq "$f" '.hooks | contains(["prestart","createRuntime","createContainer","startContainer","poststart","poststop"])'
	assert_jq "$f" '.mountOptions | contains(["bind","rbind","ro","nosuid","nodev","noexec","rprivate"])'
	assert_jq "$f" '.linux.namespaces | contains(["cgroup","ipc","mount","network","pid","user","uts"])'
	assert_jq "$f" '.linux.capabilities | contains(["CAP_CHOWN","CAP_SYS_ADMIN","CAP_NET_ADMIN","CAP_KILL"])'
	assert_jq "$f" '.linux.cgroup.v1 == true and (.linux.cgroup.v2 | type) == "boolean"'
	assert_jq "$f" '(.linux.cgroup.systemd | type) == "boolean" and (.linux.cgroup.systemdUser | type) == "boolean"'
	assert_jq "$f" '.linux.seccomp.enabled == true'
	assert_jq "$f" '.linux.seccomp.actions | contains(["SCMP_ACT_ALLOW","SCMP_ACT_ERRNO","SCMP_ACT_KILL"])'
	assert_jq "$f" '.linux.seccomp.operators | contains(["SCMP_CMP_EQ","SCMP_CMP_MASKED_EQ"])'
	assert_jq "$f" '.linux.seccomp.archs | contains(["SCMP_ARCH_X86_64"])'
	assert_jq "$f" '(.linux.apparmor.enabled | type) == "boolean" and (.linux.selinux.enabled | type) == "boolean"'
	assert_jq "$f" '(.annotations | type) == "object"'
}

@test "unknown global flag: exit 1, 'flag provided but not defined: -foo'" {
	run rt --foo list
	assert_status 1
	assert_contains "$output" "flag provided but not defined: -foo"
}

@test "unknown subcommand: exit 3" {
	run rt nosuchcmd
	assert_status 3
	assert_contains "$output" "nosuchcmd"
}

@test "unknown subcommand flag: exit 1" {
	run rt list --nosuchflag
	assert_status 1
	assert_contains "$output" "flag provided but not defined: -nosuchflag"
}

@test "option forms: --opt value, --opt=value, -opt value, -opt=value" {
	run "$KEEL_RUNTIME" --root="$ROOT" list -q
	assert_status 0
	run "$KEEL_RUNTIME" -root "$ROOT" list --format=json
	assert_status 0
	assert_jq "$output" '. == [] or . == null'
	run "$KEEL_RUNTIME" -root="$ROOT" list -format json
	assert_status 0
	assert_jq "$output" '. == [] or . == null'
}

@test "unknown ID: every command fails with 'container does not exist'" {
	local id=nosuch-$ID cmd
	for cmd in state start kill delete pause resume ps "ps --format json" "events --stats" \
		"update --pids-limit 5"; do
		# shellcheck disable=SC2086
		run rt $cmd "$id"
		[[ $status -eq 1 ]] || fail "$cmd: exit $status: $output"
		assert_contains "$output" "container does not exist"
	done
	# exec reports its own failures with 255
	run rt exec "$id" true
	assert_status 255
	assert_contains "$output" "container does not exist"
}

@test "--log FILE --log-format json: one JSON error record with level, msg, time" {
	local log=$BATS_TEST_TMPDIR/log.json
	run --separate-stderr rt --log "$log" --log-format json state "nosuch-$ID"
	assert_status 1
	assert_eq "$output" ""
	# runc also prints the bare message on stderr
	assert_contains "$stderr" "container does not exist"
	[[ -s $log ]] || fail "log file empty"
	local rec
	rec=$(grep '"level":"error"' "$log" | tail -1)
	assert_jq "$rec" '.level == "error" and (.msg | contains("container does not exist"))'
	assert_jq "$rec" '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$")'
	# every line of the log is a JSON object, and it ends in a newline
	while read -r line; do
		jq -e 'type == "object"' <<<"$line" >/dev/null || fail "not JSON: $line"
	done <"$log"
	assert_eq "$(tail -c 1 "$log" | od -An -c | tr -d ' ')" '\n'

	# records are appended
	run rt --log "$log" --log-format json kill "nosuch-$ID" 9
	assert_status 1
	assert_eq "$(grep -c '"level":"error"' "$log")" 2
}

@test "--log FILE (text format): logrus-style text record" {
	local log=$BATS_TEST_TMPDIR/log.txt
	run rt --log "$log" state "nosuch-$ID"
	assert_status 1
	assert_match "$(cat "$log")" 'level=error msg="container does not exist"'
}

@test "without --log errors go to stderr as logrus text" {
	run --separate-stderr rt state "nosuch-$ID"
	assert_status 1
	assert_eq "$output" ""
	assert_match "$stderr" '^time="[^"]+" level=error msg="container does not exist"$'
}

#!/usr/bin/env bats
# cgroup resources (v1): linux.resources at create, update --resources - (docker's JSON),
# update flags, events --stats.

load ../lib/common

cg() {
	cat "$(cgroup_dir "$1")/$2"
}

@test "resources from config.json are applied at create" {
	make_bundle "$BUNDLE" sleep 300
	json_set "$BUNDLE/config.json" '
c["linux"]["resources"].update({
  "memory": {"limit": 100663296, "reservation": 50331648},
  "cpu": {"shares": 256, "quota": 30000, "period": 100000},
  "pids": {"limit": 42}})'
	create_container "$ID" "$BUNDLE"
	assert_eq "$(cg memory memory.limit_in_bytes)" 100663296
	assert_eq "$(cg memory memory.soft_limit_in_bytes)" 50331648
	assert_eq "$(cg cpu cpu.shares)" 256
	assert_eq "$(cg cpu cpu.cfs_quota_us)" 30000
	assert_eq "$(cg cpu cpu.cfs_period_us)" 100000
	assert_eq "$(cg pids pids.max)" 42
}

@test "pids.limit is enforced inside" {
	make_bundle "$BUNDLE" sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; echo done'
	json_set "$BUNDLE/config.json" 'c["linux"]["resources"]["pids"] = {"limit": 4}'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_contains "$output" "Resource temporarily unavailable"
}

@test "update --resources - with docker's JSON" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	local before_weight
	before_weight=$(cg blkio blkio.weight 2>/dev/null || true)
	run rt update --resources - "$ID" <<-'EOF'
		{"memory":{"limit":67108864,"reservation":0,"swap":134217728,"kernel":0},
		 "cpu":{"shares":512,"quota":50000,"period":100000},"pids":{"limit":100},"blockIO":{"weight":0}}
	EOF
	assert_status 0
	assert_eq "$output" ""
	assert_eq "$(cg memory memory.limit_in_bytes)" 67108864
	[[ ! -e $(cgroup_dir memory)/memory.memsw.limit_in_bytes ]] ||
		assert_eq "$(cg memory memory.memsw.limit_in_bytes)" 134217728
	assert_eq "$(cg cpu cpu.shares)" 512
	assert_eq "$(cg cpu cpu.cfs_quota_us)" 50000
	assert_eq "$(cg cpu cpu.cfs_period_us)" 100000
	assert_eq "$(cg pids pids.max)" 100
	# zero means "leave unset"
	assert_eq "$(cg blkio blkio.weight 2>/dev/null || true)" "$before_weight"
	assert_eq "$(container_status "$ID")" running
}

@test "update --resources FILE" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	echo '{"pids":{"limit":77}}' >"$BATS_TEST_TMPDIR/r.json"
	run rt update --resources "$BATS_TEST_TMPDIR/r.json" "$ID"
	assert_status 0
	assert_eq "$(cg pids pids.max)" 77
}

@test "update flags: --memory, --memory-swap, --pids-limit, --cpu-quota, --cpu-period, --cpu-share" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	run rt update --memory 33554432 --memory-swap 67108864 --pids-limit 50 --cpu-quota 20000 \
		--cpu-period 50000 --cpu-share 128 "$ID"
	assert_status 0
	assert_eq "$(cg memory memory.limit_in_bytes)" 33554432
	[[ ! -e $(cgroup_dir memory)/memory.memsw.limit_in_bytes ]] ||
		assert_eq "$(cg memory memory.memsw.limit_in_bytes)" 67108864
	assert_eq "$(cg pids pids.max)" 50
	assert_eq "$(cg cpu cpu.cfs_quota_us)" 20000
	assert_eq "$(cg cpu cpu.cfs_period_us)" 50000
	assert_eq "$(cg cpu cpu.shares)" 128
	# a later update of one value keeps the others
	run rt update --pids-limit 60 "$ID"
	assert_status 0
	assert_eq "$(cg pids pids.max)" 60
	assert_eq "$(cg memory memory.limit_in_bytes)" 33554432
}

@test "update: invalid JSON fails with exit 1" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	run rt update --resources - "$ID" <<<'{"memory":'
	assert_status 1
}

@test "events --stats: one JSON line with data.pids.current" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	run --separate-stderr rt events --stats "$ID"
	assert_status 0
	assert_eq "$(wc -l <<<"$output")" 1
	assert_jq "$output" '.type == "stats" and .id == $id' --arg id "$ID"
	assert_jq "$output" '.data.pids.current == 1'
	assert_jq "$output" '.data.memory.usage.usage > 0'
	assert_jq "$output" '.data.cpu.usage.total > 0'
	assert_jq "$output" '.data | has("blkio") and has("hugetlb")'
	# one more process in the container
	rt_capture exec -d --pid-file "$BATS_TEST_TMPDIR/e.pid" "$ID" sleep 100
	assert_status 0
	run --separate-stderr rt events --stats "$ID"
	assert_jq "$output" '.data.pids.current == 2'
}

@test "events --interval streams stats lines until the container is gone" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	local out=$BATS_TEST_TMPDIR/events
	rt events --interval 200ms "$ID" >"$out" 2>&1 </dev/null &
	local evpid=$!
	poll 5 eval '[[ $(wc -l < "$out") -ge 2 ]]'
	kill "$evpid" 2>/dev/null || true
	wait "$evpid" 2>/dev/null || true
	head -n 2 "$out" | while read -r line; do
		jq -e '.type == "stats" and .data.pids.current == 1' <<<"$line" >/dev/null || fail "bad event: $line"
	done
}

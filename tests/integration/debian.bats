#!/usr/bin/env bats
# A Docker user's daily work on a debootstrap'ed Debian bookworm image (tools/make-debian-image.sh:
# `debootstrap --variant=minbase`, imported with Env PATH and Cmd ["bash"] like the official
# image): bash as pid 1 through a real pty, exec, users from the image's /etc/passwd, commit,
# read-only rootfs, volumes, cp, diff, logs, stop, top, stats, export/import, save/load,
# history, rmi. Expectations are what Docker does with the same image.
# Private data and run roots; the rootfs tarball is cached (see debian_lib.bash); without the
# Debian mirror and without a cached tarball every test is skipped, with the reason.

load debian_lib

@test "debian: the image looks like the official one; run --rm cat /etc/os-release" {
	run k image inspect debian
	assert_status 0
	assert_jq "$output" '.[0].Id == "'"$DEBIAN_ID"'"'
	assert_jq "$output" '.[0].Config.Env == ["PATH='"$DEB_PATH"'"]'
	assert_jq "$output" '.[0].Config.Cmd == ["bash"]'
	assert_jq "$output" '.[0].RootFS.Layers | length == 1'
	assert_jq "$output" '.[0].Architecture == "amd64" and .[0].Os == "linux"'
	kq run --rm debian cat /etc/os-release
	assert_status 0
	assert_contains "$output" 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"'
	assert_contains "$output" "VERSION_CODENAME=bookworm"
	# the default command is bash: with an empty stdin it reads EOF and exits 0
	kq run --rm debian
	assert_status 0
	run k run --rm debian bash -c 'echo $BASH_VERSION; exit 3'
	assert_status 3
	assert_match "$output" '^5\.2\.'
}

@test "debian: /etc/hosts, /etc/resolv.conf, /etc/hostname as docker sets them; hostname" {
	id=$(k run -d --name names debian sleep 1000)
	run k exec names hostname
	assert_eq "$output" "${id:0:12}"
	run k exec names cat /etc/hostname
	assert_eq "$output" "${id:0:12}"
	run k exec names bash -c 'echo $HOSTNAME'
	assert_eq "$output" "${id:0:12}"
	run k exec names grep -E '^127\.0\.0\.1[[:space:]]+localhost' /etc/hosts
	assert_status 0
	run k exec names grep -c '^::1' /etc/hosts
	assert_status 0
	run k exec names test -s /etc/resolv.conf
	assert_status 0
	# all three are bind mounts over the image's files (the image has them empty)
	run k exec names grep -cE ' /etc/(hosts|hostname|resolv\.conf) ' /proc/self/mountinfo
	assert_eq "$output" "3"
	run k run --rm --hostname web1 debian bash -c 'hostname; cat /etc/hostname; echo $HOSTNAME'
	assert_status 0
	assert_eq "$output" $'web1\nweb1\nweb1'
}

@test "debian: the environment is docker's: PATH, HOSTNAME, HOME from /etc/passwd" {
	# runc (and so docker) sets HOME from the user's /etc/passwd entry in the container
	# when the config has none: / when the uid has no entry
	run k run --rm --hostname envh debian env
	assert_status 0
	assert_eq "$(sort <<<"$output")" "$(printf '%s\n' HOME=/root HOSTNAME=envh "PATH=$DEB_PATH")"
	run k run --rm -u daemon debian sh -c 'echo $HOME'
	assert_eq "$output" "/usr/sbin"
	run k run --rm -u nobody debian sh -c 'echo $HOME'
	assert_eq "$output" "/nonexistent"
	run k run --rm -u 4242 debian sh -c 'echo $HOME'
	assert_eq "$output" "/"
	# -e HOME wins
	run k run --rm -e HOME=/srv debian sh -c 'echo $HOME'
	assert_eq "$output" "/srv"
	id=$(k run -d debian sleep 1000)
	run k exec -u daemon "$id" sh -c 'echo $HOME'
	assert_eq "$output" "/usr/sbin"
}

@test "debian: -u by name from the image's /etc/passwd and /etc/group" {
	run k run --rm -u daemon debian id
	assert_status 0
	assert_eq "$output" "uid=1(daemon) gid=1(daemon) groups=1(daemon)"
	run k run --rm -u nobody:nogroup debian id
	assert_eq "$output" "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
	run k run --rm -u www-data:tty debian id
	assert_eq "$output" "uid=33(www-data) gid=5(tty) groups=5(tty)"
	# a uid without an entry runs with gid 0
	run k run --rm -u 1000 debian id
	assert_eq "$output" "uid=1000 gid=0(root) groups=0(root)"
	run k run --rm -u daemon debian touch /root/x
	assert_status 1
	assert_contains "$output" "Permission denied"
	kq run --rm -u nosuchuser debian id
	assert_status 125
	assert_contains "$stderr" "unable to find user nosuchuser: no matching entries in passwd file"
}

@test "debian: run -it bash as pid 1 in a terminal: prompt, Ctrl-C, resize, exit 3" {
	in_tmux it "'$KEEL' run -it --name itb debian"
	tmux_wait 10 '^root@[0-9a-f]{12}:/# *$'
	id=$(k inspect -f '{{.Id}}' itb)
	tmux_wait 1 "^root@${id:0:12}:/#"
	tmux_keys 'echo "pid=$$ tty=$(tty) term=$TERM"' Enter
	tmux_wait 5 'pid=1 tty=/dev/pts/0 term=xterm'
	# Ctrl-C reaches the foreground sleep through the pty; bash (pid 1) survives it
	# (bash drops the rest of a line interrupted by SIGINT: the status is asked for apart)
	tmux_keys 'sleep 30' Enter
	sleep 0.5
	tmux_keys C-c
	tmux_keys 'echo sleep-status=$?' Enter
	tmux_wait 5 'sleep-status=130'
	tmux_keys 'echo still-$((20 + 22))' Enter
	tmux_wait 5 'still-42'
	# the window size, and a resize, reach the container's terminal
	tmux_keys 'echo size=$(stty size)' Enter
	tmux_wait 5 'size=30 100'
	tmux -L "$TMUX_SOCK" resize-window -x 120 -y 40
	sleep 0.3
	tmux_keys 'echo lines=$(tput lines) cols=$(tput cols)' Enter
	tmux_wait 5 'lines=40 cols=120'
	tmux_keys 'ls --color=auto /usr' Enter
	tmux_wait 5 'bin.*lib.*share'
	tmux_keys 'exit 3' Enter
	tmux_wait 10 '\[exit 3\]'
	assert_eq "$(k inspect -f '{{.State.Status}} {{.State.ExitCode}}' itb)" "exited 3"
	tmux_kill
}

@test "debian: a -t container's terminal turns \\n into \\r\\n (onlcr), as with docker" {
	# docker run -t prints "a\r\n": the container's pty has the default termios (runc hands
	# the engine a pty with onlcr on). Without it every line after the first starts where
	# the last ended: bash's output staircases across an interactive screen.
	run bash -c "'$KEEL' run --rm -t debian sh -c 'echo a; echo b' </dev/null | od -An -c | tr -s ' '"
	assert_status 0
	assert_eq "$output" ' a \r \n b \r \n'
	run bash -c "'$KEEL' run --rm -t debian stty -a </dev/null"
	assert_match "$output" '(^|[[:space:]])onlcr([[:space:]]|$)'
	k run -d --name ot debian sleep 1000 >/dev/null
	run bash -c "'$KEEL' exec -t ot sh -c 'echo a; echo b' </dev/null | od -An -c | tr -s ' '"
	assert_eq "$output" ' a \r \n b \r \n'
	# what the user sees: each output line starts at the left edge
	in_tmux onlcr "'$KEEL' exec -it ot bash"
	tmux_wait 10 ':/# *$'
	tmux_keys 'echo one; echo two' Enter
	tmux_wait 5 '^two$'
	tmux_kill
}

@test "debian: run -d, exec -it bash, exec -u nobody id, exec -w /tmp pwd" {
	command -v script >/dev/null || skip "script(1) not installed"
	id=$(k run -d --name ex debian sleep 1000)
	run k exec -u nobody ex id
	assert_eq "$output" "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
	run k exec -w /tmp ex pwd
	assert_eq "$output" "/tmp"
	run k exec -u daemon -w /var ex bash -c 'echo $(id -un) $PWD'
	assert_eq "$output" "daemon /var"
	# exec -it: a pty of its own, bash reads commands typed into it
	run bash -c "(sleep 1; printf 'echo in-exec pid1=\$(cat /proc/1/comm) tty=\$(tty)\n'; sleep 0.5; printf 'exit 5\n'; sleep 1) |
		script -qec \"stty rows 21 cols 77; '$KEEL' exec -it ex bash\" /dev/null"
	assert_status 5
	assert_contains "$output" "in-exec pid1=sleep tty=/dev/pts/"
	run bash -c "(sleep 2) | script -qec \"'$KEEL' exec -it ex bash -c 'tty; exit 4'\" /dev/null"
	assert_status 4
	assert_contains "$output" "/dev/pts/"
	# the exec'd bash is gone; the container runs on
	assert_eq "$(k inspect -f '{{.State.Status}}' ex)" "running"
	run k top ex
	assert_not_contains "$output" "bash"
}

@test "debian: run -it and exec -it: the terminal has the caller's size from the start" {
	command -v script >/dev/null || skip "script(1) not installed"
	# docker sends the size with the create (ConsoleSize): a program that asks at once (bash's
	# first prompt, stty, tput) never sees 0x0. Five tries each: a race shows.
	k run -d --name sz debian sleep 1000 >/dev/null
	local i bad=()
	for i in 1 2 3 4 5; do
		out=$( (sleep 0.5) | script -qec "stty rows 21 cols 77; '$KEEL' run --rm -it debian stty size" /dev/null | tr -d '\r')
		[[ $out == *"21 77"* ]] || bad+=("run: $out")
		out=$( (sleep 0.5) | script -qec "stty rows 21 cols 77; '$KEEL' exec -it sz stty size" /dev/null | tr -d '\r')
		[[ $out == *"21 77"* ]] || bad+=("exec: $out")
	done
	((${#bad[@]} == 0)) || fail "$(printf '%s; ' "${bad[@]}")"
}

@test "debian: useradd in a container, commit, run as that user from the committed image" {
	k run -d --name build debian sleep 1000 >/dev/null
	run k exec build useradd -m -s /bin/bash -u 1234 alice
	assert_status 0
	run k exec build bash -c 'echo "hello from alice" > /home/alice/note && chown alice: /home/alice/note'
	assert_status 0
	run k commit build deb-alice:1
	assert_status 0
	assert_match "$output" '^sha256:[0-9a-f]{64}$'
	run k run --rm -u alice deb-alice:1 id
	assert_eq "$output" "uid=1234(alice) gid=1234(alice) groups=1234(alice)"
	run k run --rm -u alice -w /home/alice deb-alice:1 bash -c 'cat note; touch mine && stat -c "%U:%G %a" mine'
	assert_status 0
	assert_eq "$output" $'hello from alice\nalice:alice 644'
	run k run --rm -u alice deb-alice:1 bash -c 'cd ~ && pwd'
	assert_eq "$output" "/home/alice"
	run k run --rm deb-alice:1 getent passwd alice
	assert_eq "$output" "alice:x:1234:1234::/home/alice:/bin/bash"
	# the committed image names its parent and keeps the Cmd the container ran
	run k image inspect deb-alice:1
	assert_jq "$output" '.[0].Parent == "'"$DEBIAN_ID"'"'
	assert_jq "$output" '.[0].Config.Cmd == ["sleep","1000"]'
}

@test "debian: commit does not bake the container's HOSTNAME or TERM into the image" {
	# docker: Config.Env is the image's Env plus -e; HOSTNAME and TERM are added when the
	# process starts, so a committed image has Env [PATH] and its containers their own name
	id=$(k run -d -t --name host1 debian sleep 1000)
	run k inspect -f '{{json .Config.Env}}' host1
	assert_eq "$output" '["PATH='"$DEB_PATH"'"]'
	k commit host1 deb-host:1 >/dev/null
	run k image inspect -f '{{json .Config.Env}}' deb-host:1
	assert_eq "$output" '["PATH='"$DEB_PATH"'"]'
	run k run --rm --hostname fresh deb-host:1 env
	assert_eq "$(sort <<<"$output" | grep -v ^HOME=)" "$(printf '%s\n' HOSTNAME=fresh "PATH=$DEB_PATH")"
}

@test "debian: dpkg and the file tools work; locale and ls --color do not crash" {
	run k run --rm debian bash -c 'dpkg -l | grep -c "^ii "'
	assert_status 0
	((output > 50)) || fail "only $output packages installed"
	run k run --rm debian dpkg -l bash coreutils
	assert_status 0
	assert_match "$output" $'\nii  bash '
	# every installed file is where dpkg put it, with the right contents (md5sums)
	kq run --rm debian dpkg --verify
	assert_status 0
	assert_eq "$output" ""
	run k run --rm debian bash -c 'ls -l /usr/bin | head -n 3; ls -ln /usr/bin/passwd'
	assert_status 0
	assert_match "${lines[0]}" '^total [0-9]+'
	# setuid survives import and overlay
	assert_match "${lines[3]}" '^-rwsr-xr-x 1 0 0 '
	# (ls colors only for a known TERM; docker sets one with -t)
	run k run --rm -e TERM=xterm debian bash -c 'ls --color=always /; LANG=C.UTF-8 ls --color=always /etc >/dev/null; locale'
	assert_status 0
	assert_contains "$output" $'\e[01;36mbin' # usrmerge: /bin is a link
	assert_contains "$output" $'\e[01;34metc'
	assert_contains "$output" 'LC_ALL='
	run k run --rm -e LANG=C.UTF-8 debian bash -c 'printf "%s\n" "héllo" | wc -m; perl -e "print qq(perl ok\n)"'
	assert_status 0
	assert_eq "$output" $'6\nperl ok'
}

@test "debian: --read-only with --tmpfs /tmp" {
	run k run --rm --read-only --tmpfs /tmp debian bash -c 'touch /x 2>&1; echo touch=$?'
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" "touch=1"
	run k run --rm --read-only --tmpfs /tmp debian bash -c 'echo ok > /tmp/f && cat /tmp/f; cat <<<here-string; stat -c %a /tmp'
	assert_status 0
	assert_eq "$output" $'ok\nhere-string\n1777'
	run k run --rm --read-only --tmpfs /tmp debian grep ' /tmp ' /proc/mounts
	assert_match "$output" '^tmpfs /tmp tmpfs rw,nosuid,nodev,noexec'
	run k run --rm --read-only --tmpfs /tmp debian bash -c 'useradd bob 2>&1; echo rc=$?'
	assert_contains "$output" "rc=1"
	run k run --rm --read-only debian grep ' / ' /proc/mounts
	assert_match "$output" '^overlay / overlay ro,'
}

@test "debian: -v bind mount; a file written by the container's root" {
	vol=$BATS_TEST_TMPDIR/vol
	mkdir -p "$vol"
	echo from-host >"$vol/in"
	run k run --rm -v "$vol:/data" debian bash -c 'cat /data/in; echo from-container > /data/out; mkdir /data/d; ls -ln /data/out'
	assert_status 0
	assert_contains "$output" "from-host"
	assert_eq "$(cat "$vol/out")" "from-container"
	assert_eq "$(stat -c '%u:%g %a' "$vol/out")" "0:0 644"
	assert_eq "$(stat -c '%u:%g' "$vol/d")" "0:0"
	run k run --rm -v "$vol:/data:ro" debian bash -c 'echo x > /data/nope'
	assert_status 1
	assert_contains "$output" "Read-only file system"
	[[ ! -e $vol/nope ]]
	# a user of the image writes with its uid
	chmod 777 "$vol"
	run k run --rm -u daemon -v "$vol:/data" debian touch /data/by-daemon
	assert_status 0
	assert_eq "$(stat -c '%u:%g' "$vol/by-daemon")" "1:1"
}

@test "debian: cp in and out, through symlinked paths" {
	host=$BATS_TEST_TMPDIR/h
	mkdir -p "$host"
	k run -d --name cpc debian sleep 1000 >/dev/null
	k exec cpc bash -c 'mkdir -p /opt/app/real && echo content > /opt/app/real/file &&
		ln -s real /opt/app/link && ln -s /opt/app/real/file /opt/app/abs' >/dev/null
	# out, through a symlinked directory (/opt/app/link/file: the link is followed)
	run k cp cpc:/opt/app/link/file "$host/out1"
	assert_status 0
	assert_eq "$(cat "$host/out1")" "content"
	# a symlink as SRC is copied as a link
	run k cp cpc:/opt/app/abs "$host/out2"
	assert_status 0
	assert_eq "$(readlink "$host/out2")" "/opt/app/real/file"
	run k cp -L cpc:/opt/app/abs "$host/out3"
	assert_eq "$(cat "$host/out3")" "content"
	# a whole tree with its links
	run k cp cpc:/opt/app "$host/tree"
	assert_status 0
	assert_eq "$(readlink "$host/tree/link")" "real"
	assert_eq "$(cat "$host/tree/real/file")" "content"
	# /bin is a symlink to usr/bin in Debian (usrmerge): copying out of it follows it
	run k cp cpc:/bin/bash "$host/bash"
	assert_status 0
	cmp "$host/bash" <(k exec cpc cat /usr/bin/bash)
	# in, through the symlinked directory, owned by the container's root
	echo hostdata >"$host/in"
	chown 4321:4321 "$host/in"
	run k cp "$host/in" cpc:/opt/app/link/
	assert_status 0
	run k exec cpc stat -c '%u:%g %n' /opt/app/real/in
	assert_eq "$output" "0:0 /opt/app/real/in"
	run k cp -a "$host/in" cpc:/root/in-a
	run k exec cpc stat -c '%u:%g' /root/in-a
	assert_eq "$output" "4321:4321"
	# a stopped container too
	k stop -t 0 cpc >/dev/null
	run k cp "$host/in" cpc:/etc/in-stopped
	assert_status 0
	run k cp cpc:/etc/in-stopped "$host/back"
	assert_eq "$(cat "$host/back")" "hostdata"
}

@test "debian: diff after changes" {
	k run -d --name dif debian sleep 1000 >/dev/null
	run k diff dif
	assert_status 0
	assert_eq "$output" ""
	k exec dif bash -c 'rm /etc/issue.net; echo extra >> /etc/motd; mkdir -p /srv/app; echo x > /srv/app/f;
		useradd carol; apt-get --version > /dev/null' >/dev/null
	run k diff dif
	assert_status 0
	assert_contains "$output" "D /etc/issue.net"
	assert_contains "$output" "C /etc/motd"
	assert_contains "$output" "C /etc/passwd"
	assert_contains "$output" "A /srv/app"
	assert_contains "$output" "A /srv/app/f"
	assert_contains "$output" "C /srv"$'\n'
	# the /etc files the engine bind-mounts are not changes of the container
	assert_not_contains "$output" "/etc/hosts"
	assert_not_contains "$output" "/etc/hostname"
	assert_not_contains "$output" "/etc/resolv.conf"
}

@test "debian: logs -f of a bash loop" {
	id=$(k run -d --name lg debian bash -c 'for ((i = 0; ; i++)); do echo "tick $i"; sleep 0.1; done')
	run bash -c "timeout 10 '$KEEL' logs -f lg | head -n 5"
	assert_eq "$output" $'tick 0\ntick 1\ntick 2\ntick 3\ntick 4'
	# -f ends when the container does
	k run -d --name lg2 debian bash -c 'for i in 1 2 3; do echo "n $i"; echo "e $i" >&2; sleep 0.3; done; exit 2' >/dev/null
	start=$SECONDS
	run timeout 10 "$KEEL" logs -f lg2
	assert_status 0
	((SECONDS - start < 5)) || fail "logs -f took $((SECONDS - start)) s"
	assert_eq "$(grep -c '^n ' <<<"$output")" 3
	assert_eq "$(grep -c '^e ' <<<"$output")" 3
	run k logs --tail 1 lg2
	assert_eq "$output" "e 3"
}

@test "debian: stop of a bash pid 1 (SIGTERM ignored): SIGKILL after -t 1, exit 137" {
	k run -d --name loop debian bash -c 'while :; do sleep 0.1; done' >/dev/null
	k run -d -t --name inter debian >/dev/null
	k run -d --name trapper debian bash -c 'trap "echo got-term; exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
	sleep 0.5
	for c in loop inter; do
		start=$(date +%s%N)
		run k stop -t 1 "$c"
		assert_status 0
		assert_eq "$output" "$c"
		ms=$((($(date +%s%N) - start) / 1000000))
		((ms >= 900 && ms < 4000)) || fail "stop -t 1 of $c took $ms ms"
		assert_eq "$(k inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$c")" "exited 137"
	done
	# with a handler, SIGTERM is enough
	start=$(date +%s%N)
	run k stop -t 5 trapper
	ms=$((($(date +%s%N) - start) / 1000000))
	((ms < 3000)) || fail "stop of a trapping bash took $ms ms"
	assert_eq "$(k inspect -f '{{.State.ExitCode}}' trapper)" "0"
	assert_eq "$(k logs trapper)" "got-term"
}

@test "debian: run -dit and exec -dit from a script (stdin not a terminal)" {
	# docker checks for a terminal only when it attaches: `docker run -dit debian` is the
	# usual way to keep a shell container up in CI
	kq run -dit --name dit debian
	assert_status 0
	assert_match "$output" '^[0-9a-f]{64}$'
	assert_eq "$(k inspect -f '{{.State.Status}} {{.Config.Tty}} {{.Config.OpenStdin}}' dit)" "running true true"
	kq exec -dit dit bash -c 'echo detached > /tmp/dx'
	assert_status 0
	poll 5 k exec dit test -s /tmp/dx
	# attached, it is an error, as in docker
	kq run --rm -it debian true
	assert_status 1
	assert_contains "$stderr" "the input device is not a TTY"
}

@test "debian: top and stats --no-stream" {
	id=$(k run -d --name tp debian bash -c 'sleep 1000 & wait')
	sleep 0.3
	run k top tp
	assert_status 0
	assert_match "${lines[0]}" '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$'
	assert_contains "$output" "bash -c sleep 1000 & wait"
	assert_match "$output" $'\nroot +[0-9]+ +[0-9]+ .* sleep 1000'
	run k top tp -o pid,comm
	assert_status 0
	assert_match "${lines[0]}" '^ *PID +COMMAND$'
	run k stats --no-stream tp
	assert_status 0
	assert_match "${lines[0]}" '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
	assert_match "${lines[1]}" "^${id:0:12} +tp +[0-9.]+% +[0-9.]+[KMG]i?B / [0-9.]+[KMG]iB +[0-9.]+% .* 2$"
	assert_eq "${#lines[@]}" 2
	run k stats --no-stream --format '{{.Name}} {{.PIDs}}' tp
	assert_eq "$output" "tp 2"
}

@test "debian: export of a stopped container and import back" {
	k run --name exs debian bash -c 'echo exported > /root/mark; useradd dave' >/dev/null
	run bash -c "'$KEEL' export exs > '$BATS_TEST_TMPDIR/exs.tar'"
	assert_status 0
	tar -tf "$BATS_TEST_TMPDIR/exs.tar" >"$BATS_TEST_TMPDIR/list"
	grep -qx 'usr/bin/bash' "$BATS_TEST_TMPDIR/list" || grep -qx './usr/bin/bash' "$BATS_TEST_TMPDIR/list" ||
		fail "no usr/bin/bash in the export"
	grep -q 'root/mark$' "$BATS_TEST_TMPDIR/list"
	# /proc and /sys are empty mount points, as in docker's export
	assert_eq "$(grep -cE '^(\./)?(proc|sys)/.' "$BATS_TEST_TMPDIR/list")" "0"
	run k import -c 'CMD ["bash"]' - deb-exported:1 <"$BATS_TEST_TMPDIR/exs.tar"
	assert_status 0
	run k run --rm deb-exported:1 bash -c 'cat /root/mark; id dave >/dev/null && echo dave; dpkg -l bash | tail -n 1'
	assert_status 0
	assert_eq "${lines[0]}" "exported"
	assert_eq "${lines[1]}" "dave"
	assert_match "${lines[2]}" '^ii  bash '
	run k image inspect -f '{{json .Config.Cmd}}' deb-exported:1
	assert_eq "$output" '["bash"]'
}

@test "debian: export of a running container: the rootfs only, not its /proc, /sys or volumes" {
	vol=$BATS_TEST_TMPDIR/vol
	mkdir -p "$vol"
	echo secret >"$vol/volfile"
	k run -d --name exr -v "$vol:/data" --tmpfs /run/t debian bash -c 'echo live > /root/live; echo t > /run/t/x; sleep 1000' >/dev/null
	poll 5 k exec exr test -f /run/t/x
	# docker exports the container's filesystem (its layers), not what is mounted in it
	kq export exr -o "$BATS_TEST_TMPDIR/exr.tar"
	assert_status 0
	assert_eq "$stderr" ""
	tar -tf "$BATS_TEST_TMPDIR/exr.tar" >"$BATS_TEST_TMPDIR/list"
	grep -q 'usr/bin/bash$' "$BATS_TEST_TMPDIR/list" || fail "no usr/bin/bash in the export"
	grep -q 'root/live$' "$BATS_TEST_TMPDIR/list" || fail "no root/live in the export"
	assert_eq "$(grep -cE '^(\./)?(proc|sys)/.' "$BATS_TEST_TMPDIR/list")" "0"
	assert_eq "$(grep -cE 'data/volfile|run/t/x' "$BATS_TEST_TMPDIR/list")" "0"
}

@test "debian: save and load round trip" {
	tar=$BATS_TEST_TMPDIR/debian.tar
	run k save -o "$tar" debian:bookworm
	assert_status 0
	other=$BATS_TEST_TMPDIR/other
	run "$KEEL" --root "$other/root" --run-root "$other/run" load -i "$tar"
	assert_status 0
	assert_eq "$output" "Loaded image: debian:bookworm"
	run "$KEEL" --root "$other/root" --run-root "$other/run" image inspect -f '{{.Id}} {{json .Config.Cmd}}' debian:bookworm
	assert_eq "$output" "$DEBIAN_ID [\"bash\"]"
	run "$KEEL" --root "$other/root" --run-root "$other/run" run --rm debian:bookworm bash -c 'dpkg --verify && echo verified'
	assert_status 0
	assert_eq "$output" "verified"
	# through a pipe, into the same store: nothing new
	run bash -c "'$KEEL' save debian:bookworm | '$KEEL' load"
	assert_status 0
	assert_eq "$output" "Loaded image: debian:bookworm"
	assert_eq "$(k images -q --no-trunc debian:bookworm)" "$DEBIAN_ID"
	rm -rf "$other"
}

@test "debian: history of the image and of a commit on it" {
	run k history debian
	assert_status 0
	assert_eq "${#lines[@]}" 2
	assert_match "${lines[0]}" '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$'
	assert_match "${lines[1]}" "^${DEBIAN_ID:7:12} .* 1[0-9]{2}MB +debootstrap --variant=minbase bookworm [0-9]{8}$"
	k run --name hc debian bash -c 'echo x > /x' >/dev/null
	cid=$(k commit -m "added x" hc deb-hist:1)
	run k history -q --no-trunc deb-hist:1
	# docker names each row by the image that made it, walking the parents it has locally
	assert_eq "$output" "$cid"$'\n'"$DEBIAN_ID"
	run k history --format '{{.Comment}}' deb-hist:1
	assert_eq "$output" $'added x\n'"$(k history --format '{{.Comment}}' debian)"
}

@test "debian: rmi is refused while a container uses the image" {
	k run --name user1 debian bash -c 'echo > /y' >/dev/null
	img=$(k commit user1 deb-rmi:1)
	cid=$(k create --name user2 deb-rmi:1 true)
	kq rmi deb-rmi:1
	assert_status 1
	assert_eq "$stderr" "Error response from daemon: conflict: unable to remove repository reference \"deb-rmi:1\" (must force) - container ${cid:0:12} is using its referenced image ${img:7:12}"
	assert_eq "$(k images -q deb-rmi:1)" "${img:7:12}"
	# one name of several: untagging it is allowed while the image is used
	k tag debian deb-alias
	run k rmi deb-alias
	assert_status 0
	assert_eq "$output" "Untagged: deb-alias:latest"
	k rm user2 >/dev/null
	run k rmi deb-rmi:1
	assert_status 0
	assert_contains "$output" "Untagged: deb-rmi:1"
	assert_contains "$output" "Deleted: $img"
	assert_eq "$(k images -q deb-rmi)" ""
}

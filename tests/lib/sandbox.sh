# The sandbox (README "Sandbox"): each thread's seccomp list installed while a VM runs, a
# forbidden call killing the process, --seccomp off and log, and the jail (--jail DIR --uid
# --gid: root, user, descriptors, namespaces).  Each case fails if its defence is taken out.
# Skipped in sanitized builds (their default is --seccomp off: a sanitizer's runtime makes
# calls no list names).
# shellcheck shell=bash

# The user and group the jail tests run as: nobody and nogroup on Debian.
JAIL_ID=65534

sanitized_build() {
	ldd "$MPVMM" 2>/dev/null | grep -qE 'lib(a|t|ub)san'
}

sandbox_or_skip() {
	if sanitized_build; then
		skip "$1" "sanitized build: seccomp is off by default there"
		return 1
	fi
	kvm_or_skip "$1"
}

# status_field PID TID FIELD: a field of /proc/PID/task/TID/status ("Seccomp: 2" -> 2).
status_field() {
	awk -v f="$3:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' \
		"/proc/$1/task/$2/status" 2>/dev/null
}

# threads_report PID: one line per thread, "comm seccomp filters".
threads_report() {
	local tid comm mode filters
	for tid in $(ls "/proc/$1/task"); do
		comm=$(cat "/proc/$1/task/$tid/comm" 2>/dev/null)
		mode=$(status_field "$1" "$tid" Seccomp)
		filters=$(status_field "$1" "$tid" Seccomp_filters)
		# A thread that ended while it was looked at (a connection's) is not reported.
		[ -n "$comm" ] && [ -n "$mode" ] && [ -n "$filters" ] || continue
		echo "$comm $mode $filters"
	done
}

# Every thread of a running VM is in seccomp filter mode (2); each vCPU thread, the signal
# thread and libmicrohttpd's threads added a list of their own to the main thread's (two
# filters), and there is one vCPU thread per vCPU.
check_sandbox_threads() {
	local accel=$1 irqchip=${2:-} name tag
	tag=sandbox/threads-$accel${irqchip:+-$irqchip}
	name=${tag//\//-}
	if [ "$accel" = soft ]; then
		sanitized_build && { skip "$tag" "sanitized build"; return 0; }
	else
		sandbox_or_skip "$tag" || return 0
	fi
	if ! start_held "$name" --accel "$accel" ${irqchip:+--irqchip "$irqchip"} --cpus 3; then
		fail "$tag" "VM did not come up"; show_output "$name"; return
	fi
	# The API's threads exist while a request is served: ask for one, then look.
	ctl vcpus >/dev/null
	local report bad="" vcpus
	report=$(threads_report "$VM_PID")
	echo "$report" >"$TMP/$name.threads"
	echo "$report" | awk '$2 != 2' | grep -q . && bad="$bad not-all-in-mode-2"
	vcpus=$(echo "$report" | grep -c '^mpvmm-vcpu[0-9]* 2 2$')
	[ "$vcpus" -eq 3 ] || bad="$bad vcpu-threads-with-own-list=$vcpus"
	echo "$report" | grep -q '^mpvmm-signals 2 2$' || bad="$bad signal-thread"
	echo "$report" | grep -q '^mpvmm-conout 2 2$' || bad="$bad console-output-thread"
	echo "$report" | grep -q '^MHD-listen 2 2$' || bad="$bad api-thread"
	echo "$report" | grep -q '^mpvmm 2 1$' || bad="$bad main-thread"
	if [ "$accel" = kvm ] && [ "$irqchip" = split ]; then
		echo "$report" | grep -q '^mpvmm-timer 2 2$' || bad="$bad timer-thread"
	fi
	stop_held_vm || bad="$bad exit-status"
	if [ -z "$bad" ]; then
		pass "$tag"
	else
		fail "$tag" "$bad"; show_output "$name"; cat "$TMP/$name.threads"
	fi
}

# --seccomp off installs nothing, and the VM runs as before.
check_sandbox_off() {
	local tag=sandbox/off name=sandbox-off
	sandbox_or_skip "$tag" || return 0
	if ! start_held "$name" --cpus 2 --seccomp off; then
		fail "$tag" "VM did not come up"; show_output "$name"; return
	fi
	local report bad=""
	report=$(threads_report "$VM_PID")
	echo "$report" | awk '$2 != 0' | grep -q . && bad="$bad filters-installed"
	stop_held_vm || bad="$bad exit-status"
	if [ -z "$bad" ]; then pass "$tag"; else fail "$tag" "$bad"; show_output "$name"; fi
}

# The preloaded library opens a file on the thread that writes the verdict (the console's
# output thread): killed by SIGSYS under the default (kill), allowed and logged under log,
# allowed under off.
check_sandbox_forbidden_call() {
	local accel=$1 tag=sandbox/forbidden-call-$1 name so=$TMP/forbidden_call.so
	name=${tag//\//-}
	if [ "$accel" = soft ]; then
		sanitized_build && { skip "$tag" "sanitized build"; return 0; }
	else
		sandbox_or_skip "$tag" || return 0
	fi
	if [ ! -f "$so" ] && ! cc -shared -fPIC -o "$so" "$HERE/tools/forbidden_call.c" \
		-ldl 2>"$TMP/$name.cc"; then
		fail "$tag" "cannot build the preload library: $(cat "$TMP/$name.cc")"; return
	fi
	local bad="" status pid
	# A process killed by SIGSYS dumps core: not here.
	(ulimit -c 0; LD_PRELOAD=$so exec "$MPVMM" --accel "$accel" --cpus 2) \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	pid=$!
	{ wait "$pid"; } 2>/dev/null # bash's "Bad system call" line: expected here
	status=$?
	# 128 + SIGSYS (31): the shell's status of a process a signal ended.
	[ "$status" -eq 159 ] || bad="$bad kill:exit=$status"
	grep -q '^selftest: PASS' "$TMP/$name.out" && bad="$bad kill:output-written"
	# Where the kernel log can be read, it names the process, the thread and the call
	# (openat: 257).
	if dmesg >/dev/null 2>&1; then
		dmesg | grep 'type=1326' | grep -q "pid=$pid comm=\"mpvmm-conout\".*syscall=257 " ||
			bad="$bad no-audit-line"
	fi
	LD_PRELOAD=$so "$MPVMM" --accel "$accel" --cpus 2 --seccomp log >"$TMP/$name.out" \
		2>"$TMP/$name.err" </dev/null || bad="$bad log:exit=$?"
	grep -q '^selftest: PASS' "$TMP/$name.out" || bad="$bad log:no-pass"
	LD_PRELOAD=$so "$MPVMM" --accel "$accel" --cpus 2 --seccomp off >"$TMP/$name.out" \
		2>"$TMP/$name.err" </dev/null || bad="$bad off:exit=$?"
	grep -q '^selftest: PASS' "$TMP/$name.out" || bad="$bad off:no-pass"
	if [ -z "$bad" ]; then pass "$tag"; else fail "$tag" "$bad"; show_output "$name"; fi
}

# The same on a vCPU thread: the preloaded library opens a file where the sending vCPU
# warns about a SIPI sent in vain (--selftest-mistakes, software CPU): SIGSYS, and the
# audit line names that vCPU's thread.
check_sandbox_forbidden_call_vcpu() {
	local tag=sandbox/forbidden-call-vcpu name=sandbox-forbidden-call-vcpu
	local so=$TMP/forbidden_call.so bad="" status pid
	sanitized_build && { skip "$tag" "sanitized build"; return 0; }
	if [ ! -f "$so" ] && ! cc -shared -fPIC -o "$so" "$HERE/tools/forbidden_call.c" \
		-ldl 2>"$TMP/$name.cc"; then
		fail "$tag" "cannot build the preload library: $(cat "$TMP/$name.cc")"; return
	fi
	(ulimit -c 0; FORBIDDEN_ON_WARNING=1 LD_PRELOAD=$so exec "$MPVMM" --accel soft --cpus 2 \
		--selftest-mistakes) >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	pid=$!
	{ wait "$pid"; } 2>/dev/null
	status=$?
	[ "$status" -eq 159 ] || bad="$bad kill:exit=$status"
	if dmesg >/dev/null 2>&1; then
		dmesg | grep 'type=1326' | grep -q "pid=$pid comm=\"mpvmm-vcpu[0-9]*\".*syscall=257 " ||
			bad="$bad no-audit-line"
	fi
	FORBIDDEN_ON_WARNING=1 LD_PRELOAD=$so "$MPVMM" --accel soft --cpus 2 --selftest-mistakes \
		--seccomp off >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null || bad="$bad off:exit=$?"
	if [ -z "$bad" ]; then pass "$tag"; else fail "$tag" "$bad"; show_output "$name"; fi
}

jail_or_skip() {
	sandbox_or_skip "$1" || return 1
	if [ "$(id -u)" != 0 ]; then
		skip "$1" "--jail needs root"
		return 1
	fi
	# In a chroot (the fresh-root test's) pivot_root(2) cannot work: mpvmm refuses the jail
	# with one line saying so, which sandbox/jail-chroot checks.
	if ! mountpoint -q /; then
		skip "$1" "/ is not a mount point here (a chroot): a jail needs pivot_root(2)"
		return 1
	fi
	return 0
}

# Where / is no mount point (a chroot), --jail is refused with one line that says why.
check_sandbox_jail_chroot() {
	local tag=sandbox/jail-chroot name=sandbox-jail-chroot
	mountpoint -q / && { skip "$tag" "/ is a mount point here: not a chroot"; return 0; }
	sandbox_or_skip "$tag" || return 0
	mkdir -p "$TMP/jail-chroot" && chown $JAIL_ID:$JAIL_ID "$TMP/jail-chroot"
	"$MPVMM" --cpus 1 --jail "$TMP/jail-chroot" --uid $JAIL_ID --gid $JAIL_ID \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local status=$?
	if [ "$status" -eq 5 ] && [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] &&
		grep -q 'not a mount point here, as in a chroot' "$TMP/$name.err"; then
		pass "$tag"
	else
		fail "$tag" "status $status: $(head -c 300 "$TMP/$name.err")"
	fi
}

# start_jailed NAME DIR ARGS...: mpvmm ARGS --selftest-hold, jailed in DIR with its API on
# DIR/api.sock (/api.sock inside), held after PASS; an extra descriptor (63, on
# /etc/hostname) is inherited, which the jail must close.  Sets VM_PID and SOCK.
start_jailed() {
	local name=$1 dir=$2 i
	shift 2
	SOCK=$dir/api.sock
	"$MPVMM" "$@" --selftest-hold --jail "$dir" --uid $JAIL_ID --gid $JAIL_ID \
		--api /api.sock >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null 63</etc/hostname &
	VM_PID=$!
	for i in $(seq 1 300); do
		grep -q '^selftest: PASS' "$TMP/$name.out" 2>/dev/null && [ -S "$SOCK" ] && return 0
		kill -0 "$VM_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# What a descriptor of a jailed VM may be (README "Sandbox"): the kept /dev/kvm, KVM's VM
# and vCPUs, the API's socket and libmicrohttpd's eventfd; 0-2 are left as they were.
jail_fds_bad() {
	local pid=$1 fd target bad=""
	for fd in $(ls "/proc/$pid/fd"); do
		[ "$fd" -le 2 ] && continue
		target=$(readlink "/proc/$pid/fd/$fd")
		case $target in
		/dev/kvm | anon_inode:kvm-vm | anon_inode:kvm-vcpu:* | socket:\[*\] | \
		anon_inode:\[eventfd\]) ;;
		*) bad="$bad fd$fd=$target" ;;
		esac
	done
	echo "$bad"
}

# The jail: root is DIR, the user and group are nobody's with no capability, new mount and
# network namespaces, only the documented descriptors; the self-test passes, the API answers
# inside DIR, a snapshot and the trace are written inside DIR.
check_sandbox_jail() {
	local tag=sandbox/jail name=sandbox-jail dir=$TMP/jail
	jail_or_skip "$tag" || return 0
	rm -rf "$dir"
	mkdir -p "$dir" && chown $JAIL_ID:$JAIL_ID "$dir"
	if ! start_jailed "$name" "$dir" --cpus 2 --trace /trace.json; then
		fail "$tag" "VM did not come up"; show_output "$name"; return
	fi
	local bad="" st
	[ "$(stat -L -c %d:%i "/proc/$VM_PID/root")" = "$(stat -c %d:%i "$dir")" ] ||
		bad="$bad root-not-DIR"
	st=/proc/$VM_PID/status
	grep -qE "^Uid:\s+$JAIL_ID\s+$JAIL_ID\s+$JAIL_ID\s+$JAIL_ID$" "$st" || bad="$bad uid"
	grep -qE "^Gid:\s+$JAIL_ID\s+$JAIL_ID\s+$JAIL_ID\s+$JAIL_ID$" "$st" || bad="$bad gid"
	grep -qE '^Groups:\s*$' "$st" || bad="$bad groups"
	grep -qE '^CapEff:\s+0+$' "$st" || bad="$bad capabilities"
	grep -qE '^NoNewPrivs:\s+1$' "$st" || bad="$bad no-new-privs"
	grep -qE '^Seccomp:\s+2$' "$st" || bad="$bad seccomp"
	[ "$(readlink "/proc/$VM_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
		bad="$bad same-mount-ns"
	[ "$(readlink "/proc/$VM_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
		bad="$bad same-net-ns"
	local fds
	fds=$(jail_fds_bad "$VM_PID")
	[ -z "$fds" ] || bad="$bad$fds"
	# (jail_fds_bad names any other descriptor: the inherited one on /etc/hostname too.)
	ctl vcpus >"$TMP/$name.vcpus" 2>&1 || bad="$bad api"
	grep -qE '^ +1 +1 +no +(HALTED|RUNNABLE)' "$TMP/$name.vcpus" || bad="$bad api-vcpus"
	curl -sf -X POST --unix-socket "$SOCK" -d '{"path":"/snap.bin"}' \
		http://localhost/vm/snapshot >/dev/null || bad="$bad snapshot"
	[ -s "$dir/snap.bin" ] || bad="$bad no-snapshot-in-DIR"
	stop_held_vm || bad="$bad exit-status"
	[ -s "$dir/trace.json" ] || bad="$bad no-trace-in-DIR"
	[ -e "$SOCK" ] && bad="$bad socket-left-behind"
	if [ -z "$bad" ]; then pass "$tag"; else fail "$tag" "$bad"; show_output "$name"; fi
	check_sandbox_jail_restore "$dir"
}

# A snapshot restored in a jail: opened before, its VM run on inside DIR.
check_sandbox_jail_restore() {
	local tag=sandbox/jail-restore name=sandbox-jail-restore dir=$1 i bad=""
	if [ ! -s "$dir/snap.bin" ]; then
		fail "$tag" "no snapshot from sandbox/jail"; return
	fi
	cp "$dir/snap.bin" "$TMP/jail-snap.bin"
	rm -f "$dir/snap.bin"
	SOCK=$dir/api.sock
	"$MPVMM" restore "$TMP/jail-snap.bin" --jail "$dir" --uid $JAIL_ID --gid $JAIL_ID \
		--api /api.sock >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null 63</etc/hostname &
	VM_PID=$!
	for i in $(seq 1 300); do
		[ -S "$SOCK" ] && break
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ "$(stat -L -c %d:%i "/proc/$VM_PID/root" 2>/dev/null)" = "$(stat -c %d:%i "$dir")" ] ||
		bad="$bad root-not-DIR"
	local fds
	fds=$(jail_fds_bad "$VM_PID")
	[ -z "$fds" ] || bad="$bad$fds"
	ctl vcpus >"$TMP/$name.vcpus" 2>&1 || bad="$bad api"
	grep -qE '^ +1 +1 +no +(HALTED|RUNNABLE)' "$TMP/$name.vcpus" || bad="$bad api-vcpus"
	stop_held_vm || bad="$bad exit-status"
	if [ -z "$bad" ]; then pass "$tag"; else fail "$tag" "$bad"; show_output "$name"; fi
}

# What the jail refuses: a DIR that is not there is a one-line error, status 5.
check_sandbox_jail_refused() {
	local tag=sandbox/jail-refused name=sandbox-jail-refused
	jail_or_skip "$tag" || return 0
	"$MPVMM" --cpus 1 --jail "$TMP/no-such-dir" --uid $JAIL_ID --gid $JAIL_ID \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local status=$?
	if [ "$status" -eq 5 ] && [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] &&
		grep -q "^mpvmm: error: --jail $TMP/no-such-dir: .*No such file" "$TMP/$name.err"; then
		pass "$tag"
	else
		fail "$tag" "exit $status"; show_output "$name"
	fi
}

# A flat multiboot kernel that resets the machine at once through the 8042 (out 0x64, 0xfe):
# header with address fields (flags bit 16), loaded at 1 MiB, entered at 0x100020.
make_reset_kernel() {
	{
		printf '\002\260\255\033\000\000\001\000\376\117\121\344' # magic, flags, checksum
		printf '\000\000\020\000\000\000\020\000'     # header_addr, load_addr
		printf '\000\000\000\000\000\000\000\000'     # load_end_addr, bss_end_addr: the file
		printf '\040\000\020\000'                 # entry_addr
		printf '\260\376\346\144\364\353\375'          # mov al,0xfe; out 0x64,al; hlt; jmp .-1
	} >"$TMP/reset.mb"
}

# --on-reboot restart builds a new VM in the same process at each guest reset: under the
# main thread's list, with new vCPU (and console, timer) threads installing theirs; in a
# jail, from the kernel and /dev/kvm kept open.  Three restarts, then SIGTERM: status 130.
check_sandbox_restart() {
	local irqchip=$1 jail=${2:-} tag name i restarts status bad="" dir=$TMP/jail-restart
	tag=sandbox/restart-$irqchip${jail:+-jail}
	name=${tag//\//-}
	if [ -n "$jail" ]; then
		jail_or_skip "$tag" || return 0
		rm -rf "$dir" && mkdir -p "$dir" && chown $JAIL_ID:$JAIL_ID "$dir"
		set -- --jail "$dir" --uid $JAIL_ID --gid $JAIL_ID
	else
		sandbox_or_skip "$tag" || return 0
		set --
	fi
	make_reset_kernel
	"$MPVMM" --kernel "$TMP/reset.mb" --cpus 2 --irqchip "$irqchip" --on-reboot restart "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	local pid=$!
	for i in $(seq 1 600); do
		restarts=$(grep -c 'restarting the VM' "$TMP/$name.err")
		[ "$restarts" -ge 3 ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 1200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		bad="$bad still-running-120s-after-SIGTERM"
	fi
	{ wait "$pid"; } 2>/dev/null
	status=$?
	[ "$restarts" -ge 3 ] || bad="$bad restarts=$restarts"
	[ "$status" -eq 130 ] || bad="$bad exit=$status"
	if [ -z "$bad" ]; then pass "$tag"; else fail "$tag" "$bad"; show_output "$name"; fi
}

# A flat multiboot kernel that halts for good (interrupts are off at a multiboot entry).
make_halt_kernel() {
	{
		printf '\002\260\255\033\000\000\001\000\376\117\121\344'
		printf '\000\000\020\000\000\000\020\000\000\000\000\000\000\000\000\000'
		printf '\040\000\020\000'
		printf '\364\353\375'                      # hlt; jmp .-1
	} >"$TMP/halt.mb"
}

# The console on a terminal (--kernel): raw mode set and restored by the main thread, the
# reader thread under its own list while the guest runs, and Ctrl-A x read by that thread
# ends the VM (status 0).
check_sandbox_console() {
	local tag=sandbox/console name=sandbox-console
	sandbox_or_skip "$tag" || return 0
	make_halt_kernel
	if python3 - "$MPVMM" "$TMP/halt.mb" >"$TMP/$name.out" 2>&1 <<'PY'; then
import os, pty, select, sys, time
mpvmm, kernel = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(mpvmm, [mpvmm, "--kernel", kernel, "--cpus", "1"])
out, deadline = b"", time.time() + 120
def read(until):
    global out
    while time.time() < deadline and until not in out:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
read(b"Ctrl-A x quits")
def confined():
    lists = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            status = open(f"/proc/{pid}/task/{tid}/status").read()
        except OSError:
            continue
        lists[comm] = [l.split()[1] for l in status.splitlines()
                       if l.startswith(("Seccomp:", "Seccomp_filters:"))]
    return lists
# The threads start right after that line; each installs its list first thing.
while time.time() < deadline:
    lists = confined()
    if lists.get("mpvmm-console") == ["2", "2"] and lists.get("mpvmm-vcpu0") == ["2", "2"]:
        break
    time.sleep(0.1)
os.write(fd, b"\x01x")
read(b"quit from the console")
_, st = os.waitpid(pid, 0)
print(out.decode(errors="replace"))
print("threads:", lists)
ok = (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 and b"quit from the console" in out
      and lists.get("mpvmm-console") == ["2", "2"] and lists.get("mpvmm-vcpu0") == ["2", "2"])
sys.exit(0 if ok else 1)
PY
		pass "$tag"
	else
		fail "$tag" "no clean quit through Ctrl-A x, or the console not confined"
		tail -n 20 "$TMP/$name.out"
	fi
}

run_sandbox_tests() {
	check_sandbox_threads kvm
	check_sandbox_threads kvm split
	check_sandbox_threads kvm user
	check_sandbox_threads soft
	check_sandbox_off
	check_sandbox_forbidden_call kvm
	check_sandbox_forbidden_call soft
	check_sandbox_forbidden_call_vcpu
	check_sandbox_restart kernel
	check_sandbox_restart split
	check_sandbox_restart user
	check_sandbox_console
	check_sandbox_jail
	check_sandbox_restart kernel jail
	check_sandbox_jail_refused
	check_sandbox_jail_chroot
}

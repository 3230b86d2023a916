#!/usr/bin/env bash
# make test-kernels: podtop's integration tests on the kernels that nodes run.
#
# For each kernel series (Debian 12's 6.1, and 6.12), the newest Debian cloud
# kernel package is downloaded (cached under target/kernels) and booted under
# qemu with software emulation (nested KVM does not work on these machines).
# The guest sees this machine's root read-only over virtiofs, under a tmpfs
# overlay, with pure cgroup v2 at /sys/fs/cgroup as on those nodes, and runs
# the integration tests named in tests/kernels/guest.sh against the podtop
# binary built here. One line per kernel at the end; non-zero exit if any
# kernel failed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${PODTOP_KERNEL_CACHE:-$REPO/target/kernels}
SERIES=${KERNELS:-6.1 6.12}
# Whole boot-test-poweroff, per kernel.
GUEST_TIMEOUT=${GUEST_TIMEOUT:-1200}
# Modules the tests need where a kernel builds them as modules.
MODULES="virtio_pci virtiofs overlay veth"

mkdir -p "$CACHE"
cd "$REPO"

die() { echo "test-kernels: $*" >&2; exit 1; }

# The newest package of a series, e.g. linux-image-6.1.0-53-cloud-amd64.
package_of() {
	local pattern
	case "$1" in
	6.1) pattern='^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' ;;
	6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' ;;
	*) die "unknown kernel series $1 (known: 6.1 6.12)" ;;
	esac
	apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -n 1
}

# Unpacks the kernel package into $CACHE/<package>/ once; prints that directory.
fetch_kernel() {
	local package=$1 dir=$CACHE/$1
	if [ ! -f "$dir/.unpacked" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		# A stale package index can name a version the mirror no longer has.
		(cd "$dir" && { apt-get download "$package" >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null && apt-get download "$package" >/dev/null; }; }) ||
			die "apt-get download $package failed"
		dpkg-deb -x "$dir"/*.deb "$dir/root"
		rm -f "$dir"/*.deb
		touch "$dir/.unpacked"
	fi
	echo "$dir"
}

# Prints the file of module $1 under modules dir $2, if it is not built in.
module_file() {
	find "$2" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" | head -n 1
}

module_depends() {
	local file=$1
	case "$file" in
	*.xz) xz -dc "$file" ;;
	*.zst) zstd -dc "$file" ;;
	*) cat "$file" ;;
	esac | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

# Adds module $1 and what it depends on to $initrd/modules, in load order.
add_module() {
	local name=$1 modules=$2 initrd=$3 file dep
	grep -qx "$name" "$initrd/modules/order" 2>/dev/null && return 0
	file=$(module_file "$name" "$modules")
	[ -n "$file" ] || return 0 # built in
	for dep in $(module_depends "$file"); do
		add_module "$dep" "$modules" "$initrd"
	done
	case "$file" in
	*.xz) xz -dc "$file" >"$initrd/modules/$name.ko" ;;
	*.zst) zstd -dc "$file" >"$initrd/modules/$name.ko" ;;
	*) cp "$file" "$initrd/modules/$name.ko" ;;
	esac
	echo "$name" >>"$initrd/modules/order"
}

build_initrd() {
	local kdir=$1 initrd=$1/initrd modules
	modules=$(ls -d "$kdir"/root/lib/modules/*)
	rm -rf "$initrd" && mkdir -p "$initrd"/{bin,modules,proc,sys,dev}
	: >"$initrd/modules/order"
	cp /bin/busybox "$initrd/bin/busybox"
	cp "$REPO/tests/kernels/init" "$initrd/init"
	chmod +x "$initrd/init"
	for m in $MODULES; do
		add_module "$m" "$modules" "$initrd"
	done
	(cd "$initrd" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$kdir/initrd.gz"
}

# Boots kernel dir $1; the console goes to $2.
boot() {
	local kdir=$1 log=$2 sock vmlinuz fsd rc=0
	vmlinuz=$(ls "$kdir"/root/boot/vmlinuz-*)
	sock=$(mktemp -u /tmp/podtop-virtiofs-XXXXXX.sock)
	/usr/lib/qemu/virtiofsd --socket-path="$sock" -o source=/ -o cache=auto -o sandbox=chroot \
		-o log_level=err </dev/null >"$log.virtiofsd" 2>&1 &
	fsd=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	# One emulator thread for both vCPUs: with a thread per vCPU (thread=multi)
	# the guest's live code patching (text_poke's int3 when podtop attaches a
	# program that flips a static key) raced the other vCPU and the 6.12
	# guest died now and then with "Oops: int3" in syscall_exit_to_user_mode.
	timeout "$GUEST_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=single -cpu max -m 2048 -smp 2 \
		-object memory-backend-memfd,id=mem,size=2048M,share=on -numa node,memdev=mem \
		-chardev socket,id=fs,path="$sock" -device vhost-user-fs-pci,chardev=fs,tag=host \
		-kernel "$vmlinuz" -initrd "$kdir/initrd.gz" -nic none -nographic -no-reboot \
		-append "console=ttyS0 panic=-1 quiet PODTOP_REPO=$REPO PODTOP_GUEST_SCRIPT=${PODTOP_GUEST_SCRIPT:-}" </dev/null >"$log" 2>&1 || rc=$?
	kill "$fsd" 2>/dev/null || true
	wait "$fsd" 2>/dev/null || true
	rm -f "$sock"
	return $rc
}

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (make test-kernels installs it)"
[ -x /usr/lib/qemu/virtiofsd ] || die "/usr/lib/qemu/virtiofsd is missing (make test-kernels installs it)"
[ -x "$REPO/target/release/podtop" ] || die "build podtop first (make build)"

# The tests that matter on every kernel, by test binary.
TESTS=(
	"pods: pod_to_pod_tcp_has_exact_bytes_names_both_ends_and_sidecar_scope short_lived_processes_files_and_host_are_attributed pod_filter_keeps_only_that_pod_in_the_kernel ipv6_between_pods_is_exact_and_named pid_filter_keeps_only_that_process"
	"runc: runc_container_is_named_from_its_annotations_and_filtered_in_the_kernel"
	"fallbacks: tcp_totals_from_sequence_numbers_are_exact exit_without_group_dead_reports_each_process_once fexit_counts_socket_bytes_where_the_kernel_allows_it"
	"lifecycle: every_signal_and_the_duration_end_it_cleanly_with_nothing_attached probes_lists_every_probe_and_detaches a_full_ring_buffer_is_counted_never_silent"
	"sidecars: the_relaying_container_is_the_sidecar_and_its_bill_is_exact"
	"http: every_request_once_on_each_end_with_status_latency_and_exact_bytes through_haproxy_every_request_once_on_each_end_as_its_log_counts the_tls_server_name_on_the_close_at_both_ends"
	"dns: every_lookup_once_on_each_end_and_its_name_on_the_connection_after"
	"live_connections: connections_older_than_podtop_are_adopted_with_their_requests"
	"http2: grpc_calls_once_at_each_end_with_method_status_and_exact_bytes concurrent_streams_on_one_connection_against_hypercorn_every_stream_exact odd_http2_bytes_never_become_another_streams_request grpc_through_an_haproxy_sidecar_a_record_of_each_call_on_each_hop"
)
# TESTS_ONLY=name,name runs only those tests (for debugging).

# The test binaries, built here; the guest runs them from the shared root.
executables=$(cargo test --release --locked --no-run --message-format=json 2>/dev/null |
	jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .target.kind == ["test"]) | "\(.target.name) \(.executable)"')
: >"$CACHE/plan"
for entry in "${TESTS[@]}"; do
	name=${entry%%:*}
	executable=$(echo "$executables" | awk -v n="$name" '$1 == n {print $2}')
	[ -n "$executable" ] || die "no test binary named $name"
	tests=${entry#*: }
	if [ -n "${TESTS_ONLY:-}" ]; then
		tests=$(for t in $tests; do case ",$TESTS_ONLY," in *",$t,"*) echo "$t" ;; esac; done | paste -sd' ' -)
	fi
	[ -n "$tests" ] && echo "$executable $tests" >>"$CACHE/plan"
done

failed=0
summary=()
for series in $SERIES; do
	package=$(package_of "$series")
	[ -n "$package" ] || die "no package of the $series series in the package index (apt-get update?)"
	kdir=$(fetch_kernel "$package")
	build_initrd "$kdir"
	log=$CACHE/$package.console.log
	start=$(date +%s)
	boot "$kdir" "$log" || true
	# Should the guest kernel still fault under the emulator, which then
	# fails whatever test ran beside it, the boot says nothing about podtop:
	# it is booted once more, and the summary says so. A test that fails
	# without a kernel fault is never retried.
	oops=$(tr -d '\r' <"$log" | grep -m1 -E '^\[ *[0-9.]+\] (Oops|BUG:|general protection fault|Kernel panic)' || true)
	rebooted=""
	if [ -n "$oops" ]; then
		cp "$log" "$log.first"
		echo "test-kernels: $package faulted under emulation ($oops); booting it again (first console: $log.first)" >&2
		boot "$kdir" "$log" || true
		rebooted=" [booted twice: the first boot's kernel faulted under emulation: $oops]"
	fi
	took=$(($(date +%s) - start))
	# The guest prints its own summary line: podtop-kernel: ...
	line=$(sed -n 's/\r$//; s/^podtop-kernel: //p' "$log" | tail -n 1)
	if ! grep -q '^podtop-guest: exit 0' <(tr -d '\r' <"$log"); then
		failed=1
		summary+=("$package: FAILED after ${took}s ${line:-(no summary; console: $log)}$rebooted")
		tr -d '\r' <"$log" | tail -n 60 >&2
	else
		summary+=("$package: ${line} (${took}s)$rebooted")
	fi
done
printf '%s\n' "${summary[@]}"
exit $failed

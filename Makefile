# podtop: build, test and run on a fresh Debian 12 machine (as root).
#   make run    build and start podtop's TUI on this node; with no pods here, on the demo pods
#   make test   install what is missing, build, run every test (root: real eBPF),
#               also on Debian's 6.1 and 6.12 kernels under qemu
#   make bench / make soak / make fuzz   figures, memory under churn, fuzzing

CARGO      ?= cargo
BINARY     := target/release/podtop
# What the build (clang for the BPF object, libelf/zlib for libbpf) and the
# tests and the demo (bpftool, runc with a busybox rootfs, iproute2, setpriv,
# python3, haproxy as the sidecar, iptables to redirect to it as a mesh does,
# prometheus to scrape podtop's metrics, tmux as the terminal; a FUSE server
# that stalls, 32-bit programs) need.
APT_PACKAGES := clang llvm libelf-dev zlib1g-dev pkg-config bpftool runc busybox-static \
                iproute2 util-linux python3 jq haproxy tmux fuse3 libfuse3-dev gcc-multilib iptables prometheus
# bpftrace is the peer `make bench` measures podtop against.
BENCH_PACKAGES := bpftrace
# Other kernels under qemu (virtiofsd comes with qemu-system-common).
KERNEL_TEST_PACKAGES := qemu-system-x86 xz-utils

.PHONY: all deps install-packages build test unit-test integration-test test-kernels run demo json probes bench soak fuzz clean

all: build

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(APT_PACKAGES)"

install-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	$(CARGO) build --release --locked

# Unit tests need no root: decoders, parsers, JSON encoding.
unit-test: deps
	$(CARGO) test --release --locked --lib --bins

# Integration tests load the real eBPF programs and make real cgroups,
# network namespaces and runc containers: root, and one at a time, since they
# share the kubepods cgroup tree.
integration-test: build
	$(CARGO) test --release --locked --test '*' -- --test-threads=1

# The integration tests that matter, on Debian's 6.1 and 6.12 cloud kernels
# booted under qemu (a few minutes; KERNELS="6.1" for one).
test-kernels: build
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(KERNEL_TEST_PACKAGES)"
	bash tests/kernels/run.sh

test: unit-test integration-test test-kernels

# Kubelet's pods live under a kubepods cgroup; without any, the demo makes three.
run: build
	@# Any one of them (ls would fail on the first pattern that matches nothing).
	@found=; for d in /sys/fs/cgroup/kubepods* /sys/fs/cgroup/unified/kubepods* \
		/sys/fs/cgroup/kubelet.slice/kubelet-kubepods* /sys/fs/cgroup/unified/kubelet.slice/kubelet-kubepods*; do \
		[ -d "$$d" ] && found=1; \
	done; \
	if [ -n "$$found" ]; then \
		$(BINARY); \
	else \
		echo "no pods on this machine: podtop demo starts three (frontend -> backend -> db)"; \
		$(BINARY) demo; \
	fi

demo: build
	$(BINARY) demo

json: build
	$(BINARY) --json

probes: build
	$(BINARY) probes

# What watching costs, beside bpftrace and an haproxy sidecar: figures printed
# as tables (root; a few minutes). ROUNDS=N interleaved rounds (default 5).
bench: build
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(BENCH_PACKAGES)"
	$(CARGO) bench --locked --bench pipeline -- --warm-up-time 1 --measurement-time 3
	$(CARGO) bench --locked --bench overhead

# podtop's resident memory under container churn, printed every 30 s, and
# its slope after warm-up (root; SOAK_SECONDS, default 360).
soak: build
	$(CARGO) bench --locked --bench soak

# Coverage-guided fuzzing of every parser of outside input (ring-buffer
# records, cgroup paths, runtime metadata, recordings, terminal input,
# command lines), FUZZ_SECONDS each (default 60), with the nightly toolchain.
FUZZ_TARGETS := decode cgroup_path metadata recording keys redact
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for target in $(FUZZ_TARGETS); do \
		$(CARGO) +nightly fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

clean:
	$(CARGO) clean

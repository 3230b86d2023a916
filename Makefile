# podtop: build, test and run on a fresh Debian 12 machine (as root).
#   make run    build and start podtop's TUI on this node; with no pods here, on the demo pods
#   make test   install what is missing, build, run every test (root: real eBPF),
#               also on Debian's 6.1 and 6.12 kernels under qemu

CARGO      ?= cargo
BINARY     := target/release/podtop
# What the build (clang for the BPF object, libelf/zlib for libbpf) and the
# tests and the demo (bpftool, runc with a busybox rootfs, iproute2, setpriv,
# python3, haproxy as the sidecar, tmux as the terminal; a FUSE server that
# stalls, 32-bit programs) need.
APT_PACKAGES := clang llvm libelf-dev zlib1g-dev pkg-config bpftool runc busybox-static \
                iproute2 util-linux python3 jq haproxy tmux fuse3 libfuse3-dev gcc-multilib
# bpftrace is the peer `make bench` measures podtop against.
BENCH_PACKAGES := bpftrace
# Other kernels under qemu (virtiofsd comes with qemu-system-common).
KERNEL_TEST_PACKAGES := qemu-system-x86 xz-utils

.PHONY: all deps install-packages build test unit-test integration-test test-kernels run demo json probes bench clean

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
	@if ls -d /sys/fs/cgroup/kubepods* /sys/fs/cgroup/unified/kubepods* >/dev/null 2>&1; then \
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
	$(CARGO) build --release --locked --example bench
	target/release/examples/bench

clean:
	$(CARGO) clean

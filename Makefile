# podtop: build, test and run on a fresh Debian 12 machine (as root).
#   make run    build and start podtop, streaming JSON events (Ctrl-C to stop)
#   make test   install what is missing, build, run every test (root: real eBPF)

CARGO      ?= cargo
BINARY     := target/release/podtop
# What the build (clang for the BPF object, libelf/zlib for libbpf) and the
# tests (bpftool, runc with a busybox rootfs, iproute2, setpriv, python3) need.
APT_PACKAGES := clang llvm libelf-dev zlib1g-dev pkg-config bpftool runc busybox-static \
                iproute2 util-linux python3 jq haproxy tmux

.PHONY: all deps build test unit-test integration-test run probes clean

all: build

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	$(CARGO) build --release --locked

# Unit tests need no root: decoders, parsers, JSON encoding.
unit-test: deps
	$(CARGO) test --release --locked --bins

# Integration tests load the real eBPF programs and make real cgroups,
# network namespaces and runc containers: root, and one at a time, since they
# share the kubepods cgroup tree.
integration-test: build
	$(CARGO) test --release --locked --test '*' -- --test-threads=1

test: unit-test integration-test

run: build
	$(BINARY) --json

probes: build
	$(BINARY) probes

clean:
	$(CARGO) clean

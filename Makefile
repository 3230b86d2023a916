# podtop: build, test and run on a fresh Debian 12 machine (as root).
#   make run    build and start podtop's TUI on this node; with no pods here, on the demo pods
#   make test   install what is missing, build, run every test (root: real eBPF),
#               also on Debian's 6.1 and 6.12 kernels under qemu
#   make dist / make install / make image   a static binary to copy, installed with
#               its man page and completions, or as an OCI image (deploy/ for a DaemonSet)
#   make bench / make soak / make fuzz   figures, memory under churn, fuzzing

CARGO      ?= cargo
BINARY     := target/release/podtop
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)
# Building needs Rust at the crate's rust-version or later.
RUST_VERSION := $(shell sed -n 's/^rust-version = "\([0-9.]*\)".*/\1/p' Cargo.toml)
# make install: where, and into which staging root (packagers).
PREFIX     ?= /usr/local
DESTDIR    ?=
# make dist: one file with libbpf, libelf, zlib and the C library linked in,
# the one make install and make image ship.
DIST_TARGET := x86_64-unknown-linux-gnu
DIST_BINARY := dist/podtop
# make image: built with podman (or docker where podman is absent).
IMAGE      ?= localhost/podtop:$(VERSION)
ENGINE     ?= $(shell command -v podman || command -v docker)
ENGINE_FLAGS ?=
# What the build (clang for the BPF object, libelf/zlib for libbpf) and the
# tests and the demo (bpftool, runc with a busybox rootfs, iproute2, setpriv,
# python3, haproxy as the sidecar, iptables to redirect to it as a mesh does,
# prometheus to scrape podtop's metrics, curl and openssl as HTTP and TLS
# clients, dnsmasq as a pod's resolver, tmux as the terminal; a FUSE server
# that stalls, 32-bit programs) need.
APT_PACKAGES := clang llvm libelf-dev zlib1g-dev pkg-config bpftool runc busybox-static \
                iproute2 util-linux python3 jq haproxy tmux fuse3 libfuse3-dev gcc-multilib iptables prometheus \
                curl openssl dnsmasq-base
# bpftrace is the peer `make bench` measures podtop against.
BENCH_PACKAGES := bpftrace
# Other kernels under qemu (virtiofsd comes with qemu-system-common).
KERNEL_TEST_PACKAGES := qemu-system-x86 xz-utils
# The image and its test (podman), the man page's reader, and a Python
# environment for kubernetes-validate, which checks deploy/ against the
# Kubernetes API schemas offline.
SHIP_PACKAGES := podman man-db
# The tests' Python packages, in a virtual environment of their own:
# kubernetes-validate checks deploy/ against the Kubernetes API schemas
# offline; grpcio and hypercorn are the gRPC and HTTP/2 servers and clients
# tests/http2.rs runs.
PYTHON_PACKAGES := kubernetes-validate==1.37.0 grpcio==1.85.3 hypercorn==0.18.0
VENV := target/venv

.PHONY: all deps toolchain install-packages build test unit-test test-readme integration-test test-kernels test-ship \
	dist install image run demo json probes bench soak fuzz clean venv

all: build

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(APT_PACKAGES)"

# Only the packages that are missing, and nothing installed upgraded
# (--no-upgrade; apt-get still takes a newer dependency where a missing
# package requires it, and says so).
install-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade $$missing; \
	fi

# One line naming what is missing, rather than cargo's errors about a crate's
# edition (make's own $(error): one line, and only when a build is asked for).
CARGO_VERSION = $(shell $(CARGO) --version 2>/dev/null | cut -d' ' -f2 | cut -d- -f1)
NO_CARGO = podtop: building needs Rust $(RUST_VERSION) or later and $(CARGO) is not on PATH: get it from https://rustup.rs
OLD_CARGO = podtop: building needs Rust $(RUST_VERSION) or later and $(CARGO) is $(or $(CARGO_VERSION),unknown): rustup update stable
toolchain:
	$(if $(shell command -v $(CARGO) 2>/dev/null),,$(error $(NO_CARGO)))
	$(if $(shell printf '%s\n%s\n' "$(RUST_VERSION)" "$(CARGO_VERSION)" | sort -V -C && echo new),,$(error $(OLD_CARGO)))

build: deps toolchain
	$(CARGO) build --release --locked

# Unit tests need no root: decoders, parsers, JSON encoding.
unit-test: deps toolchain
	$(CARGO) test --release --locked --lib --bins

# The README's figures against the program and this Makefile (tests/readme.py,
# no root, seconds): the quoted messages, the packages, the tests per kernel,
# the usage block and the flags, and a date on what was measured.
test-readme: build
	python3 tests/readme.py

# Integration tests load the real eBPF programs and make real cgroups,
# network namespaces and runc containers: root, and one at a time, since they
# share the kubepods cgroup tree.
integration-test: build venv
	$(CARGO) build --release --locked --examples
	$(CARGO) test --release --locked --test '*' -- --test-threads=1

# The integration tests that matter, on Debian's 6.1 and 6.12 cloud kernels
# booted under qemu (a few minutes; KERNELS="6.1" for one).
test-kernels: build venv
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(KERNEL_TEST_PACKAGES)"
	bash tests/kernels/run.sh

# make dist, make install and make image, and deploy/ checked against the
# Kubernetes API schemas (tests/ship.sh).
# (the image is built there in the test's own podman storage, removed after).
test-ship: build dist venv
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(SHIP_PACKAGES)"
	VENV=$(VENV) bash tests/ship.sh

# The tests' Python packages (PYTHON_PACKAGES), installed once.
venv:
	@$(MAKE) --no-print-directory install-packages PACKAGES=python3-venv
	@[ -x $(VENV)/bin/python3 ] || python3 -m venv $(VENV)
	@$(VENV)/bin/python3 -c 'import grpc, hypercorn, kubernetes_validate' 2>/dev/null || $(VENV)/bin/pip install -q $(PYTHON_PACKAGES)

test: unit-test test-readme integration-test test-ship test-kernels

# A file to copy to any x86_64 Linux node: statically linked (libbpf, libelf,
# zlib and glibc; podtop resolves no names, so glibc's static NSS caveat does
# not apply), the BPF object embedded.
dist: deps toolchain
	LIBBPF_SYS_LIBRARY_PATH=$$(pkg-config --variable=libdir libelf) RUSTFLAGS="-C target-feature=+crt-static" \
		$(CARGO) build --release --locked --features static --target $(DIST_TARGET) --target-dir target/dist
	@mkdir -p dist
	strip -o $(DIST_BINARY) target/dist/$(DIST_TARGET)/release/podtop
	@file $(DIST_BINARY)

# The static dist/podtop (what runs on any node, as the image holds it),
# podtop(8) and bash, zsh and fish completions, all drawn from the program itself.
install: dist
	install -D -m 0755 $(DIST_BINARY) $(DESTDIR)$(PREFIX)/sbin/podtop
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(DIST_BINARY) manpage > $(DESTDIR)$(PREFIX)/share/man/man8/podtop.8
	$(DIST_BINARY) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/podtop
	$(DIST_BINARY) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_podtop
	$(DIST_BINARY) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/podtop.fish

# The OCI image: dist/podtop alone (deploy/Containerfile); deploy/ runs it as a DaemonSet.
image: dist
	@[ -n "$(ENGINE)" ] || $(MAKE) --no-print-directory install-packages PACKAGES=podman
	$(or $(ENGINE),podman) $(ENGINE_FLAGS) build --quiet --build-arg VERSION=$(VERSION) -t $(IMAGE) -f deploy/Containerfile dist/

# Kubelet's pods live under a kubepods cgroup. A pod runs where its cgroup
# holds processes (cgroup.events: populated 1); one left behind empty is no
# pod. Where none runs, the demo makes three. Two lines on stderr say what
# was found (pods, empty pod cgroups, the runtimes' state) and which starts.
CGROUP_ROOT ?= /sys/fs/cgroup
RUNTIME_STATE := containerd:/run/containerd/io.containerd.runtime.v2.task docker:/var/lib/docker/containers \
                 cri-o/podman:/run/containers/storage cri-o/podman:/var/lib/containers/storage runc:/run/runc
run: build
	@n() { case "$$1" in 0) echo "no $$2";; 1) echo "1 $$2";; *) echo "$$1 $$3";; esac; }; \
	pods=0; empty=0; trees=0; runtimes=; \
	for tree in $(CGROUP_ROOT)/kubepods* $(CGROUP_ROOT)/unified/kubepods* \
		$(CGROUP_ROOT)/kubelet.slice/kubelet-kubepods* $(CGROUP_ROOT)/unified/kubelet.slice/kubelet-kubepods*; do \
		[ -d "$$tree" ] || continue; trees=$$((trees + 1)); \
		for pod in $$(find "$$tree" -mindepth 1 -maxdepth 2 -type d \( -name 'pod*' -o -name '*-pod*.slice' \)); do \
			if grep -qx 'populated 1' "$$pod/cgroup.events" 2>/dev/null; then pods=$$((pods + 1)); else empty=$$((empty + 1)); fi; \
		done; \
	done; \
	for r in $(RUNTIME_STATE); do \
		[ -d "$${r#*:}" ] || continue; \
		case " $$runtimes " in *" $${r%%:*} "*) ;; *) runtimes="$$runtimes $${r%%:*}";; esac; \
	done; \
	runtimes=$$(echo $$runtimes | sed 's/ /, /g'); \
	if [ $$trees = 0 ]; then where="no kubepods cgroup"; \
	else where="$$(n $$empty 'pod cgroup' 'pod cgroups') under kubepods left empty"; fi; \
	echo "make run: $$(n $$pods 'pod runs' 'pods run') here ($$where); runtime state: $${runtimes:-none}." >&2; \
	if [ $$pods -gt 0 ]; then \
		echo "make run: starting podtop on this node (the demo starts only where no pod runs)." >&2; \
		$(BINARY); \
	else \
		echo "make run: starting podtop demo, which makes three pods of its own (frontend -> backend -> db) and removes them when it ends." >&2; \
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

#!/usr/bin/env bash
# What podtop ships, tested as a user gets it (root; `make test-ship`, after
# `make dist`):
#   1. dist/podtop is one static file: it runs in a root that holds nothing
#      else, and watches the node from there;
#   2. the Makefile names a missing or old Rust in one line;
#   3. make install puts the static binary, podtop(8) and completions where
#      man and bash find them (DESTDIR, PREFIX);
#   4. make image builds the image, which, run as deploy/podtop.yaml runs it
#      (its capabilities, seccomp, mounts, NODE_NAME), names a real podman
#      container beside it and counts its bytes exactly, serves /healthz and
#      /metrics, and ends on SIGTERM leaving no program loaded;
#   5. deploy/ passes kubernetes-validate's API schemas, strictly, and hangs
#      together (ports, labels);
#   6. the README gives dist/podtop's and the image's sizes as they are.
# Everything it makes (its own podman storage, containers, mounts, cgroups)
# is removed on the way out, also when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-target/venv}
PYTHON=$VENV/bin/python3
T=$(mktemp -d /tmp/podtop-ship.XXXXXX)
PODMAN_CONF=$T/containers.conf
STORAGE=(--root "$T/podman/root" --runroot "$T/podman/run" --storage-driver overlay)
IMAGE=localhost/podtop:ship-test
PODTOP=podtop-ship-$$
BESIDE=podtop-ship-beside-$$
PORT=19464

fail() { echo "ship: FAILED: $*" >&2; exit 1; }
# grep -q for pipes: reads all its input, so that under pipefail the writer
# is never killed by SIGPIPE (which would read as "not found").
has() { grep -c -- "$1" >/dev/null; }
pass() { echo "ship: ok: $*"; }
podman_() { CONTAINERS_CONF=$PODMAN_CONF podman "${STORAGE[@]}" "$@"; }

cleanup() {
	set +e
	if [ -d "$T/podman" ]; then
		podman_ rm -f -t 0 "$PODTOP" "$BESIDE" >/dev/null 2>&1
		podman_ rmi -af >/dev/null 2>&1
		podman_ system reset -f >/dev/null 2>&1
	fi
	# The mounts of our own root (chroot) and what podman left under $T.
	grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	# podman's cgroupfs manager leaves its parent cgroups behind.
	for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

# The BPF programs a process holds (its descriptors' fdinfo), and those of them still loaded.
programs_of() { cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -u; }
still_loaded() { for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && echo "$id"; done; true; }

# ---------------------------------------------------------------- 1. dist
bin=dist/podtop
[ -x $bin ] || fail "$bin missing: make dist first"
readelf -lW $bin | has 'INTERP' && fail "$bin asks for a dynamic loader"
needed=$(readelf -dW $bin | grep -c NEEDED || true)
[ "$needed" = 0 ] || fail "$bin needs $needed shared libraries: $(readelf -dW $bin | grep NEEDED)"
pass "$bin: static, no shared library needed, $(du -h $bin | cut -f1)"

# A root with nothing in it but podtop (and the kernel's /proc and /sys): it
# loads, attaches and sees an exec made outside it.
root=$T/root
mkdir -p "$root/proc" "$root/sys"
cp $bin "$root/podtop"
unshare --mount --propagation private sh -c "
	mount -t proc proc '$root/proc' && mount --rbind /sys '$root/sys' &&
	exec chroot '$root' /podtop --json --events exec --duration 3" >"$T/chroot.json" 2>"$T/chroot.err" &
chrooted=$!
for _ in $(seq 50); do grep -q '"type":"start"' "$T/chroot.json" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
/bin/sh -c 'exec /bin/true podtop-ship-marker'
wait $chrooted || fail "podtop in an empty root: $(tail -2 "$T/chroot.err")"
grep '"type":"exec"' "$T/chroot.json" | has 'podtop-ship-marker' ||
	fail "podtop in an empty root did not see the exec: $(head -c 400 "$T/chroot.json")"
pass "dist/podtop in a root holding nothing else attached and saw an exec on the node"

# ---------------------------------------------------------------- 2. toolchain
out=$(make -s toolchain CARGO=/nonexistent/cargo 2>&1) && fail "make accepted a missing cargo"
[ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] || fail "a missing cargo: not one line: $out"
echo "$out" | has 'needs Rust' || fail "a missing cargo: $out"
printf '#!/bin/sh\necho "cargo 1.70.0 (ec8a8a0ca 2023-04-25)"\n' >"$T/old-cargo" && chmod +x "$T/old-cargo"
out=$(make -s toolchain CARGO="$T/old-cargo" 2>&1) && fail "make accepted cargo 1.70"
[ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && echo "$out" | has '1.70.0' || fail "an old cargo: $out"
make -s toolchain || fail "make refused this machine's cargo ($(cargo --version))"
pass "a missing or old cargo is one line: $out"

# ---------------------------------------------------------------- 3. install
stage=$T/stage
make -s install DESTDIR="$stage" PREFIX=/usr >/dev/null
"$stage/usr/sbin/podtop" --version | has '^podtop ' || fail "the installed binary"
# The static binary the README describes, not target/release/podtop, which needs libelf and zlib.
cmp -s $bin "$stage/usr/sbin/podtop" || fail "make install installed another binary than $bin"
page=$stage/usr/share/man/man8/podtop.8
[ "$(MANPATH=$stage/usr/share/man man -w podtop)" = "$page" ] || fail "man does not find podtop(8) under $stage"
text=$(MANWIDTH=120 MANPAGER=cat man -l "$page" 2>&1)
for word in NAME SYNOPSIS serve replay completions --metrics --pod; do
	grep -q -- "$word" <<<"$text" || fail "podtop(8) has no $word"
done
# The synopsis names what each option takes.
synopsis=$(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' <<<"$text" | tr -s ' \n' ' ')
for usage in '[--duration SECS]' '[--pod NAME|UID]' '[--metrics ADDR]' '[--json]'; do
	grep -qF -- "$usage" <<<"$synopsis" || fail "podtop(8)'s synopsis has no $usage: $synopsis"
done
completion=$stage/usr/share/bash-completion/completions/podtop
words=$(bash -c "source '$completion'; COMP_WORDS=(podtop se); COMP_CWORD=1; COMP_LINE='podtop se'; COMP_POINT=9; _podtop podtop se podtop; echo \${COMPREPLY[*]}")
[ "$words" = serve ] || fail "bash completes 'podtop se' to '$words'"
words=$(bash -c "source '$completion'; COMP_WORDS=(podtop --events ''); COMP_CWORD=2; _podtop podtop '' --events; echo \${COMPREPLY[*]}")
[ "$words" = "exec file net http dns" ] || fail "bash completes --events to '$words'"
head -1 "$stage/usr/share/zsh/site-functions/_podtop" | has '^#compdef podtop' || fail "zsh completion"
grep -q '^complete -c podtop' "$stage/usr/share/fish/vendor_completions.d/podtop.fish" || fail "fish completion"
pass "make install: the static podtop, podtop(8) found by man, bash completes 'podtop se' and --events, zsh and fish scripts"

# ---------------------------------------------------------------- 5. deploy (before the image: the image runs as it says)
for k in 1.29.0 1.37.0; do
	for f in deploy/podtop.yaml deploy/networkpolicy.yaml; do
		"$VENV/bin/kubernetes-validate" --strict --quiet -k $k $f || fail "$f against Kubernetes $k"
	done
done
# The check can fail: a misspelt field is refused.
sed 's/hostPID: true/hostPid: true/' deploy/podtop.yaml >"$T/typo.yaml"
"$VENV/bin/kubernetes-validate" --strict --quiet "$T/typo.yaml" >/dev/null 2>&1 && fail "kubernetes-validate accepted a misspelt field"
# What the image test below runs with: read from the DaemonSet itself.
"$PYTHON" - deploy/podtop.yaml deploy/podmonitor.yaml deploy/Containerfile deploy/networkpolicy.yaml deploy/podmonitor-tls.yaml >"$T/ds.env" <<'EOF'
import json, sys, shlex, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ds = next(d for d in docs if d["kind"] == "DaemonSet")
monitor = yaml.safe_load(open(sys.argv[2]))
policy = yaml.safe_load(open(sys.argv[4]))
monitor_tls = yaml.safe_load(open(sys.argv[5]))
pod = ds["spec"]["template"]
c = pod["spec"]["containers"][0]
sc = c["securityContext"]
port = c["ports"][0]
assert port["name"] == c["livenessProbe"]["httpGet"]["port"] == monitor["spec"]["podMetricsEndpoints"][0]["port"]
assert str(port["containerPort"]) == pod["metadata"]["annotations"]["prometheus.io/port"]
assert c["args"][-1].endswith(f':{port["containerPort"]}'), c["args"]
# The image's default command serves on the port the DaemonSet declares and
# the PodMonitor scrapes (by name), whoever runs the image without args.
cmd = [json.loads(l[len("CMD"):]) for l in open(sys.argv[3]) if l.startswith("CMD ")]
assert len(cmd) == 1, cmd
named = {p["name"]: p["containerPort"] for p in c["ports"]}
scraped = named[monitor["spec"]["podMetricsEndpoints"][0]["port"]]
assert cmd[0][-1].rsplit(":", 1)[-1] == str(port["containerPort"]) == str(scraped), (cmd[0], port, scraped)
assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
# The NetworkPolicy selects podtop's pods in their namespace and admits the
# metrics port alone; the TLS PodMonitor scrapes the same pods and port.
assert policy["metadata"]["namespace"] == ds["metadata"]["namespace"]
assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
assert [p["port"] for r in policy["spec"]["ingress"] for p in r["ports"]] == [port["containerPort"]], policy["spec"]["ingress"]
assert policy["spec"]["egress"] == [] and "Egress" in policy["spec"]["policyTypes"]
assert monitor_tls["spec"]["selector"] == monitor["spec"]["selector"]
assert monitor_tls["spec"]["podMetricsEndpoints"][0]["port"] == port["name"] and monitor_tls["spec"]["podMetricsEndpoints"][0]["scheme"] == "https"
assert ds["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
assert pod["spec"]["hostPID"] and not sc["privileged"] and sc["readOnlyRootFilesystem"]
assert sc["capabilities"]["drop"] == ["ALL"]
assert any(e["name"] == "NODE_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName" for e in c["env"])
paths = {v["name"]: v["hostPath"]["path"] for v in pod["spec"]["volumes"]}
mounts = [(paths[m["name"]], m["mountPath"]) for m in c["volumeMounts"] if m.get("readOnly")]
assert len(mounts) == len(c["volumeMounts"]), "every mount read-only"
print("CAPS=" + ",".join(cap.lower() for cap in sc["capabilities"]["add"]))
print("SECCOMP=" + sc["seccompProfile"]["type"].lower())
print("MOUNTS=(" + " ".join(shlex.quote(f"{h}:{m}") for h, m in mounts) + ")")
EOF
# shellcheck disable=SC1091
. "$T/ds.env"
pass "deploy/: valid for Kubernetes 1.29 and 1.37 (strict; a misspelt field is refused), ports (the image's CMD too) and labels agree; caps $CAPS"

# ---------------------------------------------------------------- 4. image
printf '[containers]\ndefault_ulimits=["nofile=20000:20000","nproc=32768:32768"]\n[engine]\nruntime="runc"\ncgroup_manager="cgroupfs"\n' >"$PODMAN_CONF"
mkdir -p "$T/podman"
CONTAINERS_CONF=$PODMAN_CONF make -s image ENGINE=podman ENGINE_FLAGS="${STORAGE[*]}" IMAGE=$IMAGE >/dev/null
files=$(podman_ image inspect --format '{{len .RootFS.Layers}} {{.Config.Entrypoint}}' $IMAGE)
[ "$files" = "1 [/usr/sbin/podtop]" ] || fail "the image: $files"
image_bytes=$(podman_ image inspect --format '{{.Size}}' $IMAGE)
pass "make image: one layer, entrypoint /usr/sbin/podtop, $image_bytes bytes"
# The sizes the README gives are these.
python3 tests/readme.py --sizes-only --binary $bin --image-bytes "$image_bytes" || fail "the README's sizes of dist/podtop and the image"

# The container beside it: a busybox root with a 100,000-byte file it reads
# five times, once podtop watches.
bb=$T/bb
mkdir -p "$bb/bin" && cp "$(command -v busybox)" "$bb/bin/" && for a in sh sleep dd; do ln -s busybox "$bb/bin/$a"; done
head -c 100000 /dev/zero >"$bb/data"
tar -C "$bb" -cf "$T/bb.tar" . && podman_ import -q "$T/bb.tar" localhost/podtop-ship-bb >/dev/null

# The DaemonSet's mounts, with the runtime state of this test's own podman.
volumes=()
for m in "${MOUNTS[@]}"; do
	host=${m%%:*} in=${m#*:}
	case $in in
	/run/containers/storage) host=$T/podman/run ;;
	/var/lib/containers/storage/overlay-containers) host=$T/podman/root/overlay-containers ;;
	/sys/*) ;;
	*) [ -d "$host" ] || continue ;; # a runtime this machine lacks
	esac
	volumes+=(-v "$host:$in:ro,rbind")
done
# JSON (exact bytes per file) and metrics at once, from the same process.
podman_ run -d --name "$PODTOP" --pid=host --network=host --read-only --cap-drop=all --cap-add="$CAPS" \
	--security-opt seccomp="$SECCOMP" -e NODE_NAME=ship-node "${volumes[@]}" \
	$IMAGE --json --events exec,file --metrics 127.0.0.1:$PORT --interval 0.5 >/dev/null
# GET http://127.0.0.1:$PORT$1: the status on the first line, then the body.
get() { "$PYTHON" -c "
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen('http://127.0.0.1:$PORT$1', timeout=2); print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e: print(e.code)
except OSError: print(0)"; }
status() { get "$1" | awk 'NR == 1 {print} END {}'; }
for _ in $(seq 100); do [ "$(status /healthz)" = 200 ] && break; sleep 0.1; done
[ "$(status /healthz)" = 200 ] || fail "the image's /healthz: $(get /healthz) $(podman_ logs "$PODTOP" 2>&1 | tail -3)"
[ "$(status /nothing)" = 404 ] || fail "/nothing is not 404"
for _ in $(seq 50); do podman_ logs "$PODTOP" 2>/dev/null | has '"type":"start"' && break; sleep 0.1; done

podman_ run -d --name "$BESIDE" --network none localhost/podtop-ship-bb \
	sh -c 'for i in 1 2 3 4 5; do dd if=/data of=/dev/null bs=65536 2>/dev/null; done; sleep 600' >/dev/null
id=$(podman_ inspect --format '{{.Id}}' "$BESIDE")
# The bytes of /data read in the container named $BESIDE, from the JSON;
# the metrics series of that container.
read_in_json() { podman_ logs "$PODTOP" 2>/dev/null | "$PYTHON" -c "
import sys, json
total = 0
for line in sys.stdin:
    r = json.loads(line)
    if r['type'] == 'file_io' and r['file']['path'] == '/data' and (r.get('container') or {}).get('name') == '$BESIDE' \\
            and r['container'].get('runtime') == 'podman' and r['node'] == 'ship-node':
        total += r['file']['read_bytes']
print(total)"; }
series="podtop_file_read_bytes_total{container=\"$BESIDE\",container_id=\"$id\",namespace=\"\",node=\"ship-node\",pod=\"\",pod_uid=\"\",runtime=\"podman\"}"
bytes= value=
for _ in $(seq 50); do
	bytes=$(read_in_json)
	value=$(get /metrics | grep -F "$series " | cut -d' ' -f2) || true
	[ "$bytes" = 500000 ] && [ "${value:-0}" -ge 500000 ] && break
	sleep 0.2
done
[ "$bytes" = 500000 ] || fail "the image named or counted the container beside it wrong: /data read in $BESIDE (podman, node ship-node): $bytes bytes, want 500000"
[ "${value:-0}" -ge 500000 ] || fail "no metrics series $series >= 500000: $(get /metrics | grep -F "$id" | head -3)"
pass "podtop in its image (caps $CAPS, seccomp $SECCOMP, the DaemonSet's read-only mounts) named podman's $BESIDE: /data read exactly 500000 bytes (JSON), its series reads $value (with the runtime's own reads)"

pid=$(podman_ inspect --format '{{.State.Pid}}' "$PODTOP")
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
held=$(programs_of "$pid")
[ -n "$held" ] || fail "podtop in its image holds no BPF program"
start=$(date +%s%N)
podman_ stop -t 10 "$PODTOP" >/dev/null
took=$((($(date +%s%N) - start) / 1000000))
code=$(podman_ inspect --format '{{.State.ExitCode}}' "$PODTOP")
[ "$code" = 0 ] || fail "podtop in its image exited $code on SIGTERM: $(podman_ logs "$PODTOP" 2>&1 | tail -2)"
podman_ logs "$PODTOP" 2>&1 | has 'probes detached' || fail "no exit summary: $(podman_ logs "$PODTOP" 2>&1 | tail -2)"
# The kernel frees a program shortly after its last descriptor closes.
for _ in $(seq 40); do
	# shellcheck disable=SC2086
	left=$(still_loaded $held)
	[ -z "$left" ] && break
	sleep 0.05
done
[ -z "$left" ] || fail "programs left loaded after podtop ended: $left"
pass "SIGTERM: exit 0 in $took ms (podman stop), summary printed, none of its $(echo $held | wc -w) programs left; RSS was $((rss / 1024)) MiB"
echo "ship: all passed"

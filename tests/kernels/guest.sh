#!/bin/bash
# Runs inside the guest (see init): the podtop binary and the integration
# tests built on the host, against the guest's kernel. The plan (test binary,
# then the tests to run from it) is written by run.sh.
set -u
cd "$PODTOP_REPO"
ip link set lo up
# The guest runs under TCG emulation, many times slower than the host: tests
# keep their lower time bounds and leave out the upper ones.
export PODTOP_EMULATED=1
kernel=$(uname -r)
echo "podtop-guest: kernel $kernel"
if [ -n "${PODTOP_GUEST_SCRIPT:-}" ]; then
	bash "$PODTOP_GUEST_SCRIPT"
	exit $?
fi

# What podtop attaches here, for the summary line.
probes=$(target/release/podtop probes 2>&1)
echo "$probes"
attached=$(echo "$probes" | awk '$4 == "attached" {print $1}' | paste -sd' ' -)
others=$(echo "$probes" | awk '$4 == "skipped" || $4 == "failed" {
	reason = $5; for (i = 6; i <= NF; i++) reason = reason " " $i
	printf "%s%s %s: %s", sep, $1, $4, reason; sep = "; " }')

passed=0
failed=0
failures=""
while read -r binary tests; do
	[ -n "$binary" ] || continue
	for t in $tests; do
		out=$(timeout 300 "$binary" --exact "$t" --test-threads=1 2>&1)
		if echo "$out" | grep -q "^test $t \.\.\. ok$"; then
			passed=$((passed + 1))
			echo "podtop-test: ok $t"
		else
			failed=$((failed + 1))
			failures="$failures $t"
			echo "podtop-test: FAILED $t"
			echo "$out" | tail -n 40
		fi
	done
done <"$PODTOP_REPO/target/kernels/plan"
echo "podtop-kernel: tests passed $passed/$((passed + failed))${failures:+ (failed:$failures)}; attached: $attached; ${others:-nothing skipped}"
[ "$failed" -eq 0 ]

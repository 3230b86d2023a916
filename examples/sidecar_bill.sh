#!/bin/sh
# The sidecar's bill over time: `podtop --json` turned into a CSV with one
# row per sidecar and interval, its CPU, memory and added latency beside
# what podtop itself cost over the same interval.
#
# What it shows: the `sidecar` records (one per sidecar proxy and interval)
# and the `sidecars` record that closes each interval with podtop's own cost
# (README, "JSON schema"), joined by a streaming jq program: rows come out as
# the intervals end.
#
# Run it (podtop as root, this script as anyone):
#
#   sudo podtop --json --events net --interval 10 | sh examples/sidecar_bill.sh > bill.csv
#   sudo podtop --json --events net --duration 600 > run.jsonl && sh examples/sidecar_bill.sh < run.jsonl
#
# Columns:
#   time                   the interval's end (RFC 3339, UTC)
#   pod, container         the sidecar's (namespace/name, container name)
#   hint                   a well-known proxy's name seen in it (haproxy, envoy, ...), or empty
#   cpu_millicores         its CPU over the interval, in thousandths of a core
#   memory_bytes           its cgroup's memory (empty where it has no figure of its own)
#   rss_bytes              the resident size of its processes
#   added_p50_us, added_p99_us
#                          the time a request spends in it (empty where not measured;
#                          p99 needs 100 requests in the interval)
#   exchanges              the requests those figures come from
#   relayed                connections it relayed that closed in the interval
#   podtop_cpu_millicores, podtop_rss_bytes
#                          podtop's own cost over the same interval
# An interval in which no sidecar is known gives no row.

set -u
me=sidecar_bill.sh

if ! command -v jq >/dev/null 2>&1; then
    echo "$me: needs jq (apt-get install jq)" >&2
    exit 2
fi
if [ $# -gt 0 ]; then
    echo "$me: reads podtop --json on stdin and takes no arguments (usage: podtop --json | sh $me)" >&2
    exit 2
fi

errors=$(mktemp) || exit 2
trap 'rm -f "$errors"' EXIT

jq -nrR --unbuffered '
  def fail($why): "\($why)" | error;
  # Each line is a JSON object, or the input is not a podtop stream. (The
  # parse is finished inside [...]: in jq 1.6 a try also catches the errors
  # raised downstream of it.)
  def record:
    ([try {json: fromjson} catch {bad: true}] | .[0]) as $parsed
    | if $parsed.bad then fail("line \(input_line_number) is not JSON")
      elif ($parsed.json | type) != "object" then fail("line \(input_line_number) is not a podtop record")
      else $parsed.json end;
  def blank_if_null(f): if . == null then "" else f end;
  def milli: blank_if_null(. * 1000 | round);
  def micro: blank_if_null(. / 1000 | floor);
  def plain: blank_if_null(.);
  def pod_name:
    if .pod == null then "-"
    elif .pod.namespace != null and .pod.name != null then "\(.pod.namespace)/\(.pod.name)"
    else .pod.uid end;
  def container_name: if .container == null then "-" else (.container.name // .container.id) end;

  ["time", "pod", "container", "hint", "cpu_millicores", "memory_bytes", "rss_bytes",
   "added_p50_us", "added_p99_us", "exchanges", "relayed", "podtop_cpu_millicores", "podtop_rss_bytes"],
  (foreach (inputs | select(test("\\S")) | record) as $r ({lines: 0, bills: [], rows: []};
      .lines += 1
      | if .lines == 1 and $r.type != "start" then fail("stdin is not podtop --json output: its first line is not a start record") else . end
      | if $r.type == "sidecar" then .bills += [$r] | .rows = []
        elif $r.type == "sidecars" then
          .rows = [.bills[] | [$r.time, pod_name, container_name, (.sidecar.hint // ""),
                               (.sidecar.cpu_cores | milli), (.sidecar.memory_bytes | plain), (.sidecar.rss_bytes | plain),
                               (.sidecar.added_latency_p50_ns | micro), (.sidecar.added_latency_p99_ns | micro),
                               .sidecar.exchanges, .sidecar.relayed_connections,
                               ($r.podtop.cpu_cores | milli), ($r.podtop.rss_bytes | plain)]]
          | .bills = []
        else .rows = [] end;
      .rows[])),
  (if input_line_number == 0 then fail("no records on stdin") else empty end)
  | @csv
' 2>"$errors"
status=$?

if [ "$status" -ne 0 ]; then
    # jq says "jq: error (at <stdin>:N): WHY": WHY alone, on one line.
    why=$(sed -n 's/^jq: error (at [^)]*): //p' "$errors" | head -n 1)
    [ -n "$why" ] || why=$(head -n 1 "$errors")
    echo "$me: ${why:-jq failed (status $status)}" >&2
    exit 1
fi

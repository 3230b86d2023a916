#!/usr/bin/env python3
"""The README's figures against what the program and the Makefile say.

make test-readme (part of make test; no root, a second or two) checks what
comes from the source and the build:
  - the Makefile's one-line message about an old cargo, as the README quotes
    it (its line number and the Rust version), by running `make toolchain`
    with a cargo that says it is 1.70.0;
  - the packages the README says `make deps`, `make test` and `make bench`
    install: the Makefile's APT_PACKAGES, KERNEL_TEST_PACKAGES and
    SHIP_PACKAGES (and python3-venv and PYTHON_PACKAGES), BENCH_PACKAGES;
  - the integration tests make test-kernels runs on each kernel: the count
    of tests/kernels/run.sh's TESTS, in the README's sentence and table;
  - the usage block: each option with the name of the value the program's
    --help gives it, and the flag table: every option the program has;
  - that a measured figure carries the date it was measured
    ("measured 2026-12-04").
tests/ship.sh, which builds dist/podtop and the image, calls it with
--binary dist/podtop --image-bytes N to check their sizes as the README
gives them (7.7 MiB, 8.0 MB). A failure names the README's text and what it
should say.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
DATE = r"measured \d{4}-\d{2}-\d{2}"

failures = []


def fail(what):
    failures.append(what)


def make_env():
    # Not the variables of a make that runs this one (make test).
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}


def make_variable(name):
    """A Makefile variable as make expands it."""
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", f"print-variable: ; @echo $({name})", "print-variable"],
        cwd=REPO, env=make_env(), capture_output=True, text=True, check=True,
    )
    return out.stdout.split()


def squeeze(text):
    return " ".join(text.split())


def check_toolchain_message(readme):
    """The quoted `Makefile:NN: *** ...  Stop.` against make's own."""
    quoted = re.search(r"`(Makefile:\d+: \*\*\* .*?Stop\.)`", readme, re.S)
    if not quoted:
        fail("the README quotes no `Makefile:NN: *** ... Stop.` message")
        return
    with tempfile.TemporaryDirectory() as bin_dir:
        cargo = os.path.join(bin_dir, "cargo")
        with open(cargo, "w") as f:
            f.write('#!/bin/sh\necho "cargo 1.70.0 (ec8a8a0ca 2023-04-25)"\n')
        os.chmod(cargo, 0o755)
        env = make_env()
        env["PATH"] = bin_dir + os.pathsep + env["PATH"]
        out = subprocess.run(["make", "-s", "--no-print-directory", "toolchain"], cwd=REPO, env=env, capture_output=True, text=True)
    said = squeeze(out.stderr)
    if out.returncode == 0 or squeeze(quoted.group(1)) != said:
        fail(f"the README quotes `{squeeze(quoted.group(1))}`; make says `{said}` (exit {out.returncode})")


def backticked(text):
    """Package names written in backticks (not commands, flags or paths)."""
    return [w for w in re.findall(r"`([^`]+)`", text) if not re.search(r"[ /]", w) and not w.startswith("-")]


def check_packages(readme):
    readme = squeeze(readme)  # markdown wraps lines anywhere, within backticks too
    start = readme.find("`make deps` installs")
    end = readme.find("The binary is", start)
    if start < 0 or end < 0:
        fail("the README's Set-up has no paragraph from \"`make deps` installs\" to \"The binary is\"")
        return
    text = readme[start:end]
    test_at, bench_at = text.find("`make test` adds"), text.find("`make bench` adds")
    if not 0 < test_at < bench_at:
        fail("the README's package paragraph has no \"`make test` adds ...\" then \"`make bench` adds ...\"")
        return
    pip = ["python3-venv"] + [p.split("==")[0] for p in make_variable("PYTHON_PACKAGES")]
    groups = [
        ("make deps", text[:test_at], make_variable("APT_PACKAGES")),
        ("make test", text[test_at:bench_at], make_variable("KERNEL_TEST_PACKAGES") + make_variable("SHIP_PACKAGES") + pip),
        ("make bench", text[bench_at:], make_variable("BENCH_PACKAGES")),
    ]
    for target, words, installed in groups:
        said = set(backticked(words)) - {"make"}
        if said != set(installed):
            missing, extra = sorted(set(installed) - said), sorted(said - set(installed))
            fail(f"{target}: the README lists {sorted(said)}; the Makefile installs {installed} "
                 f"(not in the README: {missing}; not in the Makefile: {extra})")
    makefile = open(os.path.join(REPO, "Makefile")).read()
    if "--no-upgrade" not in text or "--no-upgrade" not in makefile:
        fail("the README's package paragraph and the Makefile's apt-get both say --no-upgrade")


def kernel_tests():
    """How many tests tests/kernels/run.sh runs on each kernel."""
    run_sh = open(os.path.join(REPO, "tests/kernels/run.sh")).read()
    block = re.search(r"^TESTS=\((.*?)^\)", run_sh, re.S | re.M).group(1)
    entries = re.findall(r'"([^"]*)"', block)
    return sum(len(entry.split(":", 1)[1].split()) for entry in entries)


def check_kernel_tests(readme):
    count = kernel_tests()
    row = re.search(r"^\| tests \|(.*)\|\s*$", readme, re.M)
    if not row:
        fail("the kernel table has no `| tests |` row")
    else:
        cells = [c.strip() for c in row.group(1).split("|")]
        for cell in cells[:2]:  # the qemu kernels; the last column is this machine's
            ran = re.fullmatch(r"(\d+) of (\d+) \(" + DATE + r"\)", cell)
            not_yet = re.fullmatch(r"not yet run with all (\d+)\b.*", cell)
            total = int(ran.group(2)) if ran else int(not_yet.group(1)) if not_yet else None
            if total != count:
                fail(f"kernel table: `{cell}`; tests/kernels/run.sh runs {count} tests per kernel "
                     f"(`N of {count} (measured DATE)`, or `not yet run with all {count} ...`)")
    said = re.search(r"runs the (\d+)\s+integration tests", readme)
    if not said or int(said.group(1)) != count:
        fail(f"the README says make test-kernels runs {said.group(1) if said else 'no number of'} "
             f"integration tests (\"runs the N integration tests\"); tests/kernels/run.sh runs {count}")


def help_of(podtop, *subcommand):
    out = subprocess.run([podtop, *subcommand, "--help"], capture_output=True, text=True, check=True).stdout
    values = dict(re.findall(r"^\s+(?:-\w, )?(--[\w-]+)(?: <([^>]+)>)?\s*$", out, re.M))
    choices = re.findall(r"^\s+- (\w+):", out, re.M)
    possible = re.search(r"\[possible values: ([^\]]+)\]", out)
    return values, choices, possible.group(1).split(", ") if possible else []


def check_usage(readme, podtop):
    block = re.search(r"## Usage\s*\n+```\n(.*?)```", readme, re.S)
    if not block:
        fail("the README has no usage block under ## Usage")
        return
    main, events, _ = help_of(podtop)
    for line in block.group(1).splitlines():
        words = line.split()
        subcommand = words[1] if len(words) > 1 and words[0] == "podtop" and not words[1].startswith("[") else None
        options = main
        if subcommand in ("replay", "serve", "demo", "probes", "completions"):
            options, _, possible = help_of(podtop, subcommand)
            if subcommand == "completions" and set(words[2].split("|")) != set(possible):
                fail(f"usage: `{line.strip()}`; podtop completions takes {'|'.join(possible)}")
        for flag, value in re.findall(r"(--[\w-]+)(?: ([^\s\[\]]+))?", line):
            if flag not in options:
                fail(f"usage: {flag} is not an option of podtop{' ' + subcommand if subcommand else ''}")
                continue
            wanted = options[flag]
            if "," in value:  # the choices themselves
                if flag != "--events" or value.split(",") != events:
                    fail(f"usage: {flag} {value}; the program's choices are {','.join(events)}")
            elif value[:1].isupper():
                if value != wanted:
                    fail(f"usage: {flag} {value}; the program names its value {wanted or '(none: a switch)'}")
            elif wanted:
                fail(f"usage: {flag} without its value; the program names it {wanted}")
    table = re.search(r"^\| flag \| meaning \|\n\|---\|---\|\n((?:\|.*\n)+)", readme, re.M)
    if not table:
        fail("the README has no `| flag | meaning |` table")
        return
    listed = set(re.findall(r"`(--[\w-]+)`", "".join(line.split("|")[1] for line in table.group(1).splitlines())))
    hidden = {"--keys"}  # a test's knob, hidden from --help too
    for flag in sorted(set(main) - {"--help", "--version"} - hidden - listed):
        fail(f"the flag table has no {flag}")
    for flag in sorted(listed - set(main)):
        fail(f"the flag table lists {flag}, which podtop does not have")


MEASURED = [
    # (what, a pattern of the figure): each is followed by its date within its sentence.
    ("make test-kernels' time per kernel", r"minutes per kernel"),
    ("the kernel tests' results", r"\| tests \|"),
]


def check_dates(readme):
    for what, pattern in MEASURED:
        for found in re.finditer(pattern, readme):
            sentence = readme[found.start():found.start() + 300].split(". ")[0]
            if not re.search(DATE, sentence):
                fail(f"{what}: `{squeeze(readme[found.start():found.start() + 80])}...` carries no date (measured YYYY-MM-DD) in its sentence")


def check_sizes(readme, binary, image_bytes):
    if binary:
        mib = os.path.getsize(binary) / (1 << 20)
        said = re.search(r"([\d.]+) MiB stripped", readme)
        if not said or said.group(1) != f"{mib:.1f}":
            fail(f"the README says the static binary is {said.group(1) if said else '?'} MiB stripped; {binary} is {mib:.1f} MiB")
    if image_bytes is not None:
        mb = image_bytes / 1e6
        said = re.search(r"`serve --metrics 0\.0\.0\.0:\d+`: ([\d.]+) MB\.", readme)
        if not said or said.group(1) != f"{mb:.1f}":
            fail(f"the README says the image is {said.group(1) if said else '?'} MB; it is {mb:.1f} MB")


def check_make_run():
    """`make run` says what it found and starts the demo only where no pod runs:
    run against fixture cgroup trees, with `echo` for the binary."""
    def run(tree):
        out = subprocess.run(["make", "-s", "-o", "build", "run", "BINARY=echo", f"CGROUP_ROOT={tree}", "RUNTIME_STATE=fixture:" + tree],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
        return out.stderr.strip().splitlines(), out.stdout.strip()

    def pod(tree, name, populated):
        path = os.path.join(tree, "kubepods.slice", "kubepods-besteffort.slice", name)
        os.makedirs(path)
        with open(os.path.join(path, "cgroup.events"), "w") as f:
            f.write(f"populated {int(populated)}\nfrozen 0\n")

    cases = [
        ([], "no pod runs here (no kubepods cgroup)", "demo"),
        ([("kubepods-besteffort-poda.slice", False), ("kubepods-besteffort-podb.slice", False)], "no pod runs here (2 pod cgroups under kubepods left empty)", "demo"),
        ([("kubepods-besteffort-poda.slice", True), ("kubepods-besteffort-podb.slice", False)], "1 pod runs here (1 pod cgroup under kubepods left empty)", ""),
    ]
    for pods, said, ran in cases:
        with tempfile.TemporaryDirectory() as tree:
            for name, populated in pods:
                pod(tree, name, populated)
            stderr, stdout = run(tree)
            first = stderr[0] if stderr else ""
            if first != f"make run: {said}; runtime state: fixture.":
                fail(f"make run with {len(pods)} pod cgroups says {first!r}, not that {said}")
            if stdout != ran:
                fail(f"make run with {len(pods)} pod cgroups ran `podtop {stdout}`, not `podtop {ran}`")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--podtop", default=os.path.join(REPO, "target/release/podtop"), help="the binary whose --help is read")
    parser.add_argument("--binary", help="the static binary whose size the README gives")
    parser.add_argument("--image-bytes", type=int, help="the image's size, as podman gives it")
    parser.add_argument("--sizes-only", action="store_true", help="only --binary and --image-bytes")
    args = parser.parse_args()
    readme = open(README).read()
    if not args.sizes_only:
        check_toolchain_message(readme)
        check_packages(readme)
        check_kernel_tests(readme)
        check_usage(readme, args.podtop)
        check_dates(readme)
        check_make_run()
    check_sizes(readme, args.binary, args.image_bytes)
    for what in failures:
        print(f"readme: FAILED: {what}", file=sys.stderr)
    if failures:
        return 1
    checked = "sizes" if args.sizes_only else "the Makefile's message, packages, kernel tests, usage, flags, dates, make run's choice" + (", sizes" if args.binary or args.image_bytes else "")
    print(f"readme: ok: {checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

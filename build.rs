//! Compiles the CO-RE eBPF programs into skeletons in OUT_DIR: podtop's own,
//! and the benchmark's floor (the empty hook and a minimal byte counter that
//! `make bench` measures podtop against), one `SkeletonBuilder` each.
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

/// Each program and the skeleton it becomes.
const PROGRAMS: [(&str, &str); 2] = [
    ("src/bpf/podtop.bpf.c", "podtop.skel.rs"),
    ("benches/bpf/floor.bpf.c", "floor.skel.rs"),
];

/// The headers: podtop.bpf.c's hook families, lib/ and events.h, and the
/// vmlinux.h both programs include. Cargo watches the whole folder, so an
/// edited or added header rebuilds the skeletons without a line here.
const HEADERS: &str = "src/bpf";

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    if arch != "x86_64" {
        // The syscall numbers and pt_regs fields in the BPF programs are x86_64's.
        panic!("podtop's BPF program supports x86_64 only (target is {arch})");
    }
    println!("cargo:rerun-if-changed={HEADERS}");
    for (source, skeleton) in PROGRAMS {
        SkeletonBuilder::new()
            .source(source)
            .clang_args(["-I", "src/bpf", "-D__TARGET_ARCH_x86", "-Wall", "-Wno-unused-function"])
            .build_and_generate(out_dir.join(skeleton))
            .unwrap_or_else(|e| panic!("building {source}: {e:#}"));
        println!("cargo:rerun-if-changed={source}");
    }
}

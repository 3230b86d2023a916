//! Compiles the CO-RE eBPF program into a skeleton in OUT_DIR.
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SOURCE: &str = "src/bpf/podtop.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("podtop.skel.rs");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    if arch != "x86_64" {
        // The syscall numbers and pt_regs fields in the BPF program are x86_64's.
        panic!("podtop's BPF program supports x86_64 only (target is {arch})");
    }
    SkeletonBuilder::new()
        .source(SOURCE)
        .clang_args(["-I", "src/bpf", "-D__TARGET_ARCH_x86", "-Wall", "-Wno-unused-function"])
        .build_and_generate(&out)
        .unwrap_or_else(|e| panic!("building {SOURCE}: {e:#}"));
    for file in [SOURCE, "src/bpf/events.h", "src/bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={file}");
    }
}

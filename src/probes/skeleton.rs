//! The generated skeleton of `src/bpf/podtop.bpf.c`.
#![allow(clippy::all, dead_code, non_camel_case_types, non_snake_case, non_upper_case_globals, unused_imports)]
include!(concat!(env!("OUT_DIR"), "/podtop.skel.rs"));

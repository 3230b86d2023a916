//! The generated skeleton of `src/bpf/podtop.bpf.c`: the programs, the maps,
//! and the Rust twins of every type in `src/bpf/events.h`. The floor of the
//! house: `events` and `probes` build on it.
#![allow(clippy::all, dead_code, non_camel_case_types, non_snake_case, non_upper_case_globals, unused_imports)]
include!(concat!(env!("OUT_DIR"), "/podtop.skel.rs"));

//! Cgroup paths: whatever a path says, parsing returns, and nothing below a
//! user's delegated subtree is a pod or a container.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podtop::enrich::cgroup_path::{parse, PathInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let _ = parse(path);
    let delegated = format!("/user.slice/user-1000.slice/user@1000.service/{path}");
    assert_eq!(parse(&delegated), PathInfo::default(), "{delegated}");
});

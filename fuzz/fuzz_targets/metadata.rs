//! The container runtimes' files: any JSON in them is read without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podtop::enrich::metadata::{bundle_from_runc_state, from_docker_config, from_oci_config, name_in_containers_json};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = from_oci_config(&value);
    let _ = from_docker_config(&value);
    let _ = name_in_containers_json(&value, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    let _ = bundle_from_runc_state(&value);
});

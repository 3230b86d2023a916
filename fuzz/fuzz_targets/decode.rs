//! Ring-buffer records: whatever bytes arrive, decoding returns.
#![no_main]
use libfuzzer_sys::fuzz_target;

/// The ring buffer hands over 8-byte aligned records.
#[repr(C, align(8))]
struct Aligned([u8; 16384]);

fuzz_target!(|data: &[u8]| {
    let mut buf = Aligned([0; 16384]);
    let len = data.len().min(buf.0.len());
    buf.0[..len].copy_from_slice(&data[..len]);
    let _ = podtop::events::decode(&buf.0[..len]);
});

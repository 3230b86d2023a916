//! Terminal input: any bytes decode into keys, all of them consumed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (_, used) = podtop::ui::input::decode(data, true);
    assert_eq!(used, data.len());
    let (_, used) = podtop::ui::input::decode(data, false);
    assert!(used <= data.len());
});

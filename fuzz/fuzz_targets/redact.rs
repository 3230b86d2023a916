//! Command lines: masking any argv keeps its length and is stable.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podtop::enrich::redact::redact_args;

fuzz_target!(|data: &[u8]| {
    let args: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let (once, _) = redact_args(&args);
    assert_eq!(once.len(), args.len());
    let again: Vec<&[u8]> = once.iter().map(|a| a.as_ref()).collect();
    let (twice, _) = redact_args(&again);
    assert_eq!(twice, once);
});

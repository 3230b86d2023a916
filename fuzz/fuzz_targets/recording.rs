//! Recordings (replay runs as any user, on files from anywhere): any bytes
//! are read line by line, within the bound, without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podtop::aggregate::from_recording::{read_line_bounded, RecordingReader};

fuzz_target!(|data: &[u8]| {
    let mut reader = std::io::BufReader::with_capacity(64, data);
    let mut recording = RecordingReader::default();
    let mut line = Vec::new();
    while let Ok(true) = read_line_bounded(&mut reader, &mut line, 4096) {
        assert!(line.len() <= 4096);
        if let Ok(record) = serde_json::from_slice::<podtop::output::schema::Record>(&line) {
            let _ = recording.observation(&record);
        }
    }
});

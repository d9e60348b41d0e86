//! The scanner, the stop classification and the resync walk never panic on a file image, and
//! the scanner stops at or before the end of the image.
#![no_main]

use emdb_format::scan::{Scanner, next_valid_frame, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = scan(data);
    assert!(s.stop.offset <= data.len().max(4096) as u64);
    let mut sc = Scanner::new(data, 0);
    for f in sc.by_ref() {
        assert!(f.offset as usize + f.frame.len() <= data.len());
    }
    assert!(sc.stop().is_some());
    let _ = next_valid_frame(data, 1);
});

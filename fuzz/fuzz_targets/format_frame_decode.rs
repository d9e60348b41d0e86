//! Frame decoding never panics. A fix-up pass sets a plausible length and a correct CRC so the
//! fuzzer reaches the body checks (no checksum bypass in production code).
#![no_main]

use emdb_format::Frame;
use emdb_format::frame::set_lag;
use libfuzzer_sys::fuzz_target;

fn walk(buf: &[u8]) {
    if let Ok(f) = Frame::decode(buf) {
        assert!(f.len() <= buf.len());
        for item in f.items() {
            let _ = item;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data);
    let len = data.len() & !7;
    if len >= 24 {
        let mut fixed = data[..len].to_vec();
        fixed[..4].copy_from_slice(&(len as u32).to_le_bytes());
        let lag = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
        set_lag(&mut fixed, lag);
        walk(&fixed);
    }
});

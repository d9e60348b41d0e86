//! Header decoding never panics, and a decoded header re-encodes to a slot that decodes equal.
#![no_main]

use emdb_format::FileHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = FileHeader::decode_region(data) {
        assert_eq!(FileHeader::decode_slot(&h.encode_slot()), Ok(h));
    }
    let _ = FileHeader::decode_slot(data);
});

//! Entry decoding never panics, and the three decodes agree: whatever the checked decode
//! accepts the trusted one reads the same way, and wherever the trusted one reads a `Put` the
//! point-read decode reads the same entry.
#![no_main]

use emdb_format::{EntryRef, Op};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checked = EntryRef::decode(data);
    let trusted = EntryRef::decode_trusted(data);
    let point = EntryRef::decode_put_trusted(data);
    if let Ok(c) = checked {
        assert_eq!(trusted, Ok(c));
    }
    if let Ok((e, used)) = trusted {
        assert!(used <= data.len());
        if e.op == Op::Put {
            assert_eq!(point, Ok(e));
        }
    }
});

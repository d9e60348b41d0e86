//! Records of redb's benchmark shape (24-byte keys, 150-byte values), random-looking but a pure
//! function of their number, so every run and every program writes the same data. Shared by the
//! engine bench and the `measure` example through `#[path]`.

pub(crate) const KEY_LEN: usize = 24;
pub(crate) const VALUE_LEN: usize = 150;

/// Fills `out` from a splitmix64 stream started at `seed`.
fn fill(seed: u64, out: &mut [u8]) {
    let mut x = seed;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

/// The key of record `i`.
pub(crate) fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    fill(i, &mut k);
    k
}

/// The value of record `i`.
pub(crate) fn value(i: u64) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    fill(i ^ 0x5555, &mut v);
    v
}

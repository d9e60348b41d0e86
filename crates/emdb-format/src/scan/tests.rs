//! Unit tests of the `scan` layout.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "test arithmetic on small known values"
)]

use super::*;
use crate::entry::EntryRef;
use crate::frame::{FrameBuilder, FrameFlags, FrameKind, lag_for, set_lag};
use crate::header::FileHeader;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

/// Builds an image of `n` put frames; frame `i` is written when the synced end is `synced(i)`.
fn image(n: usize, synced: impl Fn(usize, &[u64]) -> u64) -> (Vec<u8>, Vec<u64>) {
    let mut img = FileHeader::new_plain([1; 16], 0).encode_region().to_vec();
    let mut offsets = vec![];
    for i in 0..n {
        let off = img.len() as u64;
        let key = alloc::format!("key{i}");
        let mut b = FrameBuilder::new(&mut img, FrameKind::Put, FrameFlags::default());
        b.push_entry(&EntryRef::put(0, key.as_bytes(), b"value", 0));
        b.finish(0).unwrap();
        let end = img.len();
        let s = synced(i, &offsets);
        set_lag(&mut img[off as usize..end], lag_for(off, s));
        offsets.push(off);
    }
    (img, offsets)
}

#[test]
fn clean_log_with_zero_padding_ends_cleanly() {
    let (mut img, offs) = image(5, |_, _| LOG_START);
    let end = img.len() as u64;
    img.resize(img.len() + 4096, 0);
    let s = scan(&img);
    assert_eq!(s.frames, 5);
    assert_eq!(
        s.stop,
        Stop {
            offset: end,
            reason: StopReason::EndOfLog
        }
    );
    assert_eq!(offs.len(), 5);
}

#[test]
fn truncated_last_frame_is_torn() {
    let (img, offs) = image(5, |_, _| LOG_START);
    let cut = &img[..img.len() - 3];
    let s = scan(cut);
    assert_eq!(s.frames, 4);
    assert_eq!(s.stop.offset, offs[4]);
    assert!(matches!(s.stop.reason, StopReason::TornTail { error: Some(e) } if e.is_incomplete()));
}

#[test]
fn bad_frame_followed_by_durable_frames_is_corrupt() {
    // Every frame is written after the previous ones were synced.
    let (mut img, offs) = image(
        6,
        |i, offs| if i == 0 { LOG_START } else { offs[i - 1] + 8 },
    );
    img[offs[2] as usize + 20] ^= 0x40;
    let s = scan(&img);
    assert_eq!(s.frames, 2);
    assert_eq!(s.stop.offset, offs[2]);
    assert!(matches!(s.stop.reason, StopReason::Corrupt { evidence, .. } if evidence == offs[3]));
}

#[test]
fn bad_frame_followed_only_by_unsynced_frames_is_torn() {
    // Nothing was synced past the start: a lost middle write is a crash artefact.
    let (mut img, offs) = image(6, |_, _| LOG_START);
    let at = offs[2] as usize;
    img[at..at + 24].fill(0);
    let s = scan(&img);
    assert_eq!(s.frames, 2);
    assert_eq!(s.stop.offset, offs[2]);
    assert!(matches!(s.stop.reason, StopReason::TornTail { .. }));
}

#[test]
fn zeroed_durable_region_is_corrupt() {
    let (mut img, offs) = image(
        6,
        |i, offs| if i == 0 { LOG_START } else { offs[i - 1] + 8 },
    );
    let (a, b) = (offs[1] as usize, offs[3] as usize);
    img[a..b].fill(0);
    let s = scan(&img);
    assert_eq!(s.stop.offset, offs[1]);
    assert!(matches!(
        s.stop.reason,
        StopReason::Corrupt { error: None, .. }
    ));
}

#[test]
fn unknown_kind_stops_with_unsupported() {
    let (mut img, offs) = image(3, |_, _| LOG_START);
    let (a, b) = (offs[1] as usize, offs[2] as usize);
    img[a + 8] = 0x7f;
    set_lag(&mut img[a..b], 0);
    let s = scan(&img);
    assert_eq!(s.stop.offset, offs[1]);
    assert!(matches!(s.stop.reason, StopReason::Unsupported { .. }));
}

#[test]
fn resync_finds_the_next_frame() {
    let (mut img, offs) = image(4, |_, _| LOG_START);
    img[offs[1] as usize + 30] ^= 1;
    assert_eq!(next_valid_frame(&img, offs[1] + 1), Some(offs[2]));
    assert_eq!(next_valid_frame(&img, offs[3] + 8), None);
}

proptest! {
    #[test]
    fn scanning_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048),
                                              start in 0u64..4200) {
        let mut img = vec![0u8; 4096];
        img.extend_from_slice(&bytes);
        let mut s = Scanner::new(&img, start & !7);
        for _ in s.by_ref() {}
        prop_assert!(s.stop().is_some());
        let _ = next_valid_frame(&img, start);
    }

    #[test]
    fn any_prefix_of_a_log_scans_to_a_prefix_of_its_frames(n in 1usize..8, cut_frac in 0.0f64..1.0) {
        let (img, offs) = image(n, |_, _| LOG_START);
        let cut = 4096 + ((img.len() - 4096) as f64 * cut_frac) as usize;
        let s = scan(&img[..cut]);
        let whole = offs.iter().enumerate().filter(|(i, _)| {
            let end = offs.get(i + 1).map_or(img.len() as u64, |e| *e);
            end as usize <= cut
        }).count();
        prop_assert_eq!(s.frames as usize, whole);
        let corrupt = matches!(s.stop.reason, StopReason::Corrupt { .. });
        prop_assert!(!corrupt);
    }
}

/// A bad spot, a megabyte of zeros, then a frame written after the bad spot was synced: the
/// frame still proves corruption, however far behind the zeros it lies; with nothing after the
/// zeros, the log simply ends there.
#[test]
fn a_frame_behind_a_long_zero_run_still_proves_corruption() {
    let (img, offs) = image(2, |i, offs| if i == 0 { LOG_START } else { offs[0] + 8 });
    let bad = offs[0];
    let mut long = img[..bad as usize].to_vec();
    long.resize(bad as usize + (1 << 20), 0);
    let evidence = long.len() as u64;
    let second = &img[offs[1] as usize..];
    long.extend_from_slice(second);
    // The copied frame's lag is counted from where it now lies: make it claim the bad spot synced.
    let end = long.len();
    set_lag(
        &mut long[evidence as usize..end],
        lag_for(evidence, bad + 8),
    );
    let reason = classify_stop(&long, bad, None);
    assert_eq!(
        reason,
        StopReason::Corrupt {
            error: None,
            evidence
        }
    );
    assert_eq!(next_valid_frame(&long, bad + 8), Some(evidence));
    long.truncate(evidence as usize);
    assert_eq!(classify_stop(&long, bad, None), StopReason::EndOfLog);
    assert_eq!(next_valid_frame(&long, bad + 8), None);
}

/// Past a bad spot with a zero length field, zeros with one other byte in a window's CRC field
/// are not a clean end: the tail is torn, whether the byte is in the bad spot's own window, in
/// the next one, or far behind a run of zeros.
#[test]
fn a_stray_byte_behind_a_zero_length_makes_the_tail_torn() {
    let (img, offs) = image(1, |_, _| LOG_START);
    let bad = img.len() as u64;
    assert_eq!(offs.len(), 1);
    for stray in [bad + 5, bad + 13, bad + 4096 + 6] {
        let mut tail = img.clone();
        tail.resize(bad as usize + 8192, 0);
        tail[stray as usize] = 0x5a;
        let reason = classify_stop(&tail, bad, None);
        assert_eq!(
            reason,
            StopReason::TornTail { error: None },
            "stray at {stray}"
        );
    }
}

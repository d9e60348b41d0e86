//! How keys and values are shown and read: UTF-8 text, hex, or base64.

use clap::ValueEnum;

use crate::Failure;

/// A byte encoding on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text when the bytes are UTF-8 without control characters, else hex (output only).
    Auto,
    /// UTF-8 text.
    Utf8,
    /// Lower-case hexadecimal.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Shows bytes in `format`.
pub(crate) fn show(bytes: &[u8], format: Format) -> String {
    match format {
        Format::Auto => match std::str::from_utf8(bytes) {
            Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
            _ => format!("0x{}", hex(bytes)),
        },
        Format::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Format::Hex => hex(bytes),
        Format::Base64 => base64(bytes),
    }
}

/// Reads a command-line argument in `format`.
pub(crate) fn parse(arg: &str, format: Format) -> Result<Vec<u8>, Failure> {
    match format {
        Format::Auto | Format::Utf8 => Ok(arg.as_bytes().to_vec()),
        Format::Hex => unhex(arg).ok_or_else(|| Failure::new(format!("`{arg}` is not valid hex"))),
        Format::Base64 => {
            unbase64(arg).ok_or_else(|| Failure::new(format!("`{arg}` is not valid base64")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\x00\xff\x10"] {
            for f in [Format::Hex, Format::Base64] {
                assert_eq!(parse(&show(bytes, f), f).ok().unwrap(), bytes);
            }
        }
        assert_eq!(show(b"foobar", Format::Base64), "Zm9vYmFy");
        assert_eq!(show(b"fo", Format::Base64), "Zm8=");
        assert_eq!(show(b"hi", Format::Auto), "hi");
        assert_eq!(show(b"\x01", Format::Auto), "0x01");
        assert!(parse("abc", Format::Hex).is_err());
        assert!(parse("!!", Format::Base64).is_err());
    }
}

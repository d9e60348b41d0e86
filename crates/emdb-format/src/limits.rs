//! Documented maximum lengths. Each is checked before anything is written.

use crate::error::LimitError;

/// Longest key, in bytes (1 MiB).
pub const MAX_KEY_LEN: usize = 1 << 20;
/// Longest value, in bytes (512 MiB).
pub const MAX_VALUE_LEN: usize = 512 << 20;
/// Longest namespace name, in bytes of UTF-8.
pub const MAX_NAMESPACE_LEN: usize = 1024;
/// Longest frame, in bytes (1 GiB). A batch must encode within it.
pub const MAX_FRAME_LEN: usize = 1 << 30;
/// Largest file offset an index slot can address (8 TiB): offsets are stored divided by 8 in 40
/// bits.
pub const MAX_FILE_LEN: u64 = 1 << 43;

/// Checks a key length.
pub fn check_key(len: usize) -> Result<(), LimitError> {
    if len > MAX_KEY_LEN {
        return Err(LimitError::KeyTooLong {
            len: len as u64,
            max: MAX_KEY_LEN as u64,
        });
    }
    Ok(())
}

/// Checks a value length.
pub fn check_value(len: usize) -> Result<(), LimitError> {
    if len > MAX_VALUE_LEN {
        return Err(LimitError::ValueTooLong {
            len: len as u64,
            max: MAX_VALUE_LEN as u64,
        });
    }
    Ok(())
}

/// Checks a namespace name length.
pub fn check_namespace(len: usize) -> Result<(), LimitError> {
    if len > MAX_NAMESPACE_LEN {
        return Err(LimitError::NamespaceTooLong {
            len: len as u64,
            max: MAX_NAMESPACE_LEN as u64,
        });
    }
    Ok(())
}

/// Checks an encoded frame length.
pub fn check_frame(len: usize) -> Result<(), LimitError> {
    if len > MAX_FRAME_LEN {
        return Err(LimitError::FrameTooLong {
            len: len as u64,
            max: MAX_FRAME_LEN as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_accept_the_maximum_and_reject_one_more() {
        assert!(check_key(MAX_KEY_LEN).is_ok());
        assert!(matches!(
            check_key(MAX_KEY_LEN + 1),
            Err(LimitError::KeyTooLong { .. })
        ));
        assert!(check_value(MAX_VALUE_LEN).is_ok());
        assert!(matches!(
            check_value(MAX_VALUE_LEN + 1),
            Err(LimitError::ValueTooLong { .. })
        ));
        assert!(check_namespace(MAX_NAMESPACE_LEN).is_ok());
        assert!(check_namespace(MAX_NAMESPACE_LEN + 1).is_err());
        assert!(check_frame(MAX_FRAME_LEN + 1).is_err());
    }
}

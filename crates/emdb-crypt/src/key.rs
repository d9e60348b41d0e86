//! Secret holders: zeroized on drop, never printed.

use std::fmt;

use zeroize::Zeroizing;

/// A 256-bit key. `Debug` shows no key material.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl Key {
    /// Wraps key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Key(Zeroizing::new(bytes))
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// A passphrase. `Debug` shows no characters.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase.
    pub fn new(s: String) -> Self {
        Passphrase(Zeroizing::new(s))
    }

    /// The passphrase bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

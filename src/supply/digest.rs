//! Content digests (`sha256:<64 hex>`), as OCI registries and cosign name artifacts.

use std::fmt;

use sha2::{Digest as _, Sha256};

use super::reference::ReferenceError;

/// SHA-256 of `bytes` in lower-case hex, on the stack.
pub fn sha256_hex(bytes: &[u8]) -> [u8; 64] {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(bytes), &mut hex).expect("32 bytes are 64 hex digits");
    hex
}

/// A validated OCI content digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let bad = || ReferenceError::BadDigest {
            digest: s.to_owned(),
        };
        let (algorithm, hex) = s.split_once(':').ok_or_else(bad)?;
        let expected = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(bad()),
        };
        let lower_hex = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex.len() != expected || !lower_hex {
            return Err(bad());
        }
        Ok(Digest(s.to_owned()))
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        let hex = sha256_hex(bytes);
        let mut text = String::with_capacity(7 + hex.len());
        text.push_str("sha256:");
        text.push_str(std::str::from_utf8(&hex).expect("hex is ASCII"));
        Digest(text)
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        match self.0.split_once(':') {
            Some(("sha256", hex)) => hex.as_bytes() == sha256_hex(bytes),
            _ => false,
        }
    }

    /// `sha256` or `sha512`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map_or("", |(a, _)| a)
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// The tag under which cosign stores an artifact of this image: `sha256-<hex>.<suffix>`.
    pub fn cosign_tag(&self, suffix: &str) -> String {
        format!("{}-{}.{suffix}", self.algorithm(), self.hex())
    }

    /// The digest as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_algorithm_and_length() {
        let d = Digest::sha256_of(b"hello");
        assert_eq!(
            d.as_str(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(d.matches(b"hello") && !d.matches(b"hello!"));
        // Only `sha256:` and its lower-case hex, as written.
        let upper = Digest(
            d.as_str()
                .to_ascii_uppercase()
                .replacen("SHA256", "sha256", 1),
        );
        assert!(!upper.matches(b"hello"));
        let other = Digest(d.as_str().replacen("sha256", "sha512", 1));
        assert!(!other.matches(b"hello"));
        assert_eq!(d.cosign_tag("sig"), format!("sha256-{}.sig", d.hex()));
        for bad in [
            "sha256:abc",
            "md5:00",
            "sha256",
            &format!("sha256:{}", "G".repeat(64)),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}

//! The key a lab's policies trust (`cosign_public_key`) is written into a ClusterPolicy that
//! anyone who may read policies can read. A private key given there by mistake would be
//! published, so the file must hold one PEM public key (a SubjectPublicKeyInfo) and nothing
//! else; what it holds instead is named, never quoted.

use x509_cert::der::DecodePem;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// Why a file is not a PEM public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAPublicKey {
    /// It holds a private key block (`PRIVATE KEY`, `ENCRYPTED COSIGN PRIVATE KEY`, ...).
    PrivateKey,
    /// It holds no `PUBLIC KEY` block, or more than the one key, or one that does not parse.
    NotPublicKeyPem,
}

impl std::fmt::Display for NotAPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotAPublicKey::PrivateKey => {
                "it holds a PRIVATE key (not shown here), which a policy would publish on the cluster"
            }
            NotAPublicKey::NotPublicKeyPem => {
                "it is not one PEM public key (`-----BEGIN PUBLIC KEY-----`)"
            }
        })
    }
}

/// Checks that `text` is exactly one PEM `PUBLIC KEY` block holding a SubjectPublicKeyInfo.
/// A private key block anywhere in it is named as such, whatever else it holds.
pub fn check_pem(text: &str) -> Result<(), NotAPublicKey> {
    let private = text.lines().map(str::trim).any(|line| {
        (line.starts_with("-----BEGIN") || line.starts_with("-----END"))
            && line.contains("PRIVATE KEY")
    });
    if private {
        return Err(NotAPublicKey::PrivateKey);
    }
    SubjectPublicKeyInfoOwned::from_pem(text.trim())
        .map(drop)
        .map_err(|_| NotAPublicKey::NotPublicKeyPem)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7Ytf5kAvPGcs2PJ3pnfc1d4JMeyY\nKHKLUbwiEWtQ0vWnWUvQFaHXpz0P1HiCkCw7Of0nqnTHVcl1RtaVTMq6GA==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn a_public_key_is_accepted_with_surrounding_blank_lines() {
        assert_eq!(check_pem(PUBLIC), Ok(()));
        assert_eq!(check_pem(&format!("\n{PUBLIC}\n\n")), Ok(()));
    }

    #[test]
    fn every_kind_of_private_key_block_is_named_private() {
        for label in [
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "RSA PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "ENCRYPTED COSIGN PRIVATE KEY",
            "ENCRYPTED SIGSTORE PRIVATE KEY",
            "SIGSTORE PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
        ] {
            let pem = format!("-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n");
            assert_eq!(check_pem(&pem), Err(NotAPublicKey::PrivateKey), "{label}");
            // A public key beside it does not make it safe to publish.
            assert_eq!(
                check_pem(&format!("{PUBLIC}{pem}")),
                Err(NotAPublicKey::PrivateKey),
                "{label}"
            );
        }
    }

    #[test]
    fn anything_else_is_not_a_public_key() {
        let garbled = PUBLIC.replace("MFkw", "MFkX");
        for text in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE-----\nMFkw\n-----END CERTIFICATE-----\n",
            "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
            garbled.as_str(),
            &format!("{PUBLIC}{PUBLIC}"),
        ] {
            assert_eq!(
                check_pem(text),
                Err(NotAPublicKey::NotPublicKeyPem),
                "{text:?}"
            );
        }
    }
}

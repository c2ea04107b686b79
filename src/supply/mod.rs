//! Supply-chain primitives: image references and digests, the stores artifacts are read
//! from (a registry or an OCI layout), and cosign signature and attestation verification.

pub mod digest;
pub mod error;
pub mod evidence;
pub mod export;
pub mod fixture;
pub mod keyless;
pub mod layout;
pub mod layout_source;
pub mod public_key;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;

pub use digest::Digest;
pub use error::{NotVerified, SupplyError};
pub use reference::{ImageRef, ReferenceError};
pub mod attestation;
pub mod cosign;
pub mod signature;

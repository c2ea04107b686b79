//! Supply-chain primitives: image references and digests (signatures and attestations follow).

pub mod reference;

pub use reference::{ImageRef, ReferenceError};

//! The venue bundle: one archive holding what `lab start` would otherwise download, so that a
//! room of laptops starts a lab from a USB stick or one machine's file server. A bundle is a
//! plain tar (its images' layers are compressed already) whose first entry, `bundle.json`,
//! lists every other file with its SHA-256 and size; the files are an OCI image layout
//! (`oci/`) and charts (`charts/`). A bundle comes from whoever handed it over, so reading one
//! follows the submission archive's rules (`submission::archive::walk`: streamed, every name
//! and limit checked) and every byte is hashed against the manifest before anything uses it.
//!
//! This layer sits above `supply` and `submission` (it packs images and reads archives), and
//! below the commands.

pub mod create;
mod error;
pub mod holds;
pub mod kyverno;
pub mod layout;
#[cfg(feature = "live")]
pub mod load;
pub mod manifest;
pub mod pack;
pub mod serve;
pub mod signed;
#[cfg(feature = "live")]
pub mod source;
pub mod verify;

pub use error::BundleError;
pub use manifest::{FileDigest, MANIFEST_FILE, Manifest, SCHEMA_VERSION};
pub use verify::{Problem, Verified, verify};

//! Where each part of a submission lives in the archive, in one place: `lab submit` writes
//! these names and the grader reads them back.

/// What the cluster showed the checks, as a recorded world (`engine::world`).
pub const WORLD_FILE: &str = "cluster/world.json";
/// The folder of the promoted image's OCI layout.
pub const LAYOUT_PREFIX: &str = "layout";
/// The folder of the learner's evidence files: `work/<path the check names>`.
pub const WORK_PREFIX: &str = "work/";
/// The learner's public key.
pub const PUBLIC_KEY_FILE: &str = "cosign.pub";
/// The learner token the lab was started with, as the instructor issued it.
pub const TOKEN_FILE: &str = "token.json";
/// The learner's progress record.
pub const PROGRESS_FILE: &str = "progress.json";

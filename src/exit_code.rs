//! The documented exit codes of `lab`, in one place, so that scripts and graders can tell
//! "the learner's work fell short" from "the tool could not do its job".

/// Everything asked for was done and passed.
pub const SUCCESS: u8 = 0;
/// The learner's work (or a graded submission) fell short: a check failed, a quiz was not passed.
pub const WORK_FELL_SHORT: u8 = 1;
/// The course content or the command line is wrong: invalid YAML, a broken reference, a bad flag.
pub const BAD_CONTENT_OR_USAGE: u8 = 2;
/// A cluster or registry could not be reached, or this machine lacks what `lab` needs of it:
/// a tool that is missing or will not run (docker, kind, helm, cosign, bash), a working folder
/// that is gone, no threads or file descriptors left. `lab doctor` names the first kind.
pub const UNREACHABLE: u8 = 3;
/// A signature, attestation or digest did not verify.
pub const VERIFICATION_FAILED: u8 = 4;
/// `lab` could not write a file or its output (a full disk, a folder it may not write to).
/// Not the content's fault, nor the learner's.
pub const WRITE_FAILED: u8 = 5;
/// The learner's progress record (`.lab/<chapter>/progress.json`) was edited, or records were
/// deleted or reordered: `lab status` names where the chain breaks.
pub const PROGRESS_TAMPERED: u8 = 6;
/// The cluster or registry answered but refused what `lab` asked (401, 403) or failed in a way
/// that is not the learner's work (a server error, an object `lab` cannot read).
pub const REFUSED: u8 = 7;
/// `lab admit` could not decide offline what Kyverno would do with a document (a JMESPath it
/// does not support, `preconditions`, an attestor it cannot check offline...), and nothing was
/// denied: it says what could not be decided and why. Not a denial: check in a cluster.
pub const UNDECIDED: u8 = 8;
/// The user interrupted the command (Ctrl-C).
pub const INTERRUPTED: u8 = 130;

/// Every code with its meaning in a few words, for `lab --help`.
pub const ALL: [(u8, &str); 10] = [
    (SUCCESS, "success"),
    (WORK_FELL_SHORT, "the learner's work fell short"),
    (BAD_CONTENT_OR_USAGE, "bad content or usage"),
    (
        UNREACHABLE,
        "a cluster, registry or tool of this machine could not be reached or run",
    ),
    (
        VERIFICATION_FAILED,
        "a signature, attestation or digest did not verify",
    ),
    (WRITE_FAILED, "a file or the output could not be written"),
    (PROGRESS_TAMPERED, "the progress record is not intact"),
    (
        REFUSED,
        "the cluster or registry refused or failed (not the learner's work)",
    ),
    (
        UNDECIDED,
        "lab admit could not decide offline what Kyverno would do",
    ),
    (INTERRUPTED, "interrupted"),
];

/// The exit codes as `lab --help` lists them.
pub fn help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in ALL {
        text.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    text
}

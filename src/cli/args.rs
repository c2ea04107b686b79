//! The command line, as clap types only. [`Cli::into_command`] turns it into the validated
//! [`crate::Command`] that the rest of `lab` uses; nothing below this module imports clap.
//! Each `--format` spelling maps onto the one [`report::Format`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::report;

/// Run and grade the hands-on labs of the Kubernetes supply-chain-security course.
#[derive(Debug, Parser)]
#[command(
    name = "lab",
    version,
    propagate_version = true,
    after_help = crate::exit_code::help()
)]
pub struct Cli {
    /// Use the course in DIR (a working copy) instead of the one built into `lab`.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "LAB_COURSE",
        display_order = 900
    )]
    pub course: Option<PathBuf>,
    /// When to color output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, display_order = 901)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Check course content: YAML, schema, references, quizzes and Kyverno pitfalls.
    ///
    /// Collects every problem before exiting. Exit 0 when there are no errors (warnings are
    /// allowed), 2 when there are.
    Validate {
        /// A course root, a chapter folder, or a single lab, quiz or policy file [default: the
        /// course given by --course, else the current directory].
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Verify an image's cosign signatures and attestations, by key or keyless identity.
    ///
    /// Prints the verified claims as cosign does. Exit 0 verified, 4 not verified (no
    /// signatures found, no matching signatures, no matching attestations, or an artifact that
    /// is not what its digest or descriptor says), 3 registry unreachable, 2 bad input.
    ///
    /// Each registry request gets 4 attempts, with pauses of 0.2, 0.6 and 1.8 s between them;
    /// an attempt ends after 5 s without a byte or 10 s in all. A registry that does not
    /// answer is given up on within 43 s (within 23 s when it sends nothing at all).
    /// Manifests are read up to 4 MiB, layers up to their descriptor's size (at most 128 MiB).
    Verify(Box<VerifyArgs>),
    /// Run a chapter's policy cases (kyverno test format) offline, and the mutations they must
    /// notice.
    ///
    /// Reads labs/<CHAPTER>/tests/**/kyverno-test.yaml of the course given by --course (else
    /// the current directory). Images come from the chapter's fixture OCI layouts, or from
    /// --registry. Exit 0 when every case passes and every mutation is noticed, 1 when not,
    /// 2 for bad content, 3 when the registry cannot be reached, 4 when it serves an artifact
    /// that is not what its digest says. Each registry request gets 4 attempts of at most
    /// 10 s (5 s without a byte): a registry that does not answer is given up on within 43 s.
    Test(Box<TestArgs>),
    /// Show what Kyverno would do with a manifest: the verdict, the denial, the patches and the
    /// report results.
    ///
    /// Exit 0 when every document is admitted, 1 when one is denied, 2 for bad input, 3 when a
    /// registry cannot be reached, 4 when a registry serves an artifact that is not what its
    /// digest says. Each registry request gets 4 attempts of at most 10 s (5 s without a
    /// byte): a registry that does not answer is given up on within 43 s, and not asked again
    /// for the next image.
    Admit(Box<AdmitArgs>),
    /// Check that this machine can run a lab: Docker, kind and the lab's tools at their
    /// versions, the registry's port, memory and inotify limits; each problem with its fix.
    ///
    /// Exit 0 when nothing blocks `lab start`, 3 when something does.
    #[cfg(feature = "live")]
    Doctor {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// The lab will run on this existing cluster: Docker and kind are not needed.
        #[arg(long, value_name = "CTX")]
        context: Option<String>,
        /// Kyverno is already in the cluster: helm is not needed.
        #[arg(long, value_enum, default_value_t = KyvernoArg::Install)]
        kyverno: KyvernoArg,
        /// Also check that this venue bundle is whole and holds everything the lab downloads
        /// when it starts, at the digests the lab pins.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring a chapter's lab up: the registry's scenario images, Kyverno, the policy pack in
    /// Audit, and the incident's starting state; run again, it resumes and converges.
    ///
    /// Each wait is bounded by --timeout; every phase is recorded in .lab/<CHAPTER>/state.json
    /// of the working folder, so that an interrupted start is resumed by the next. What you
    /// changed since (an image set, a policy switched) is left as it is. Exit 0 ready, 2 bad
    /// content or usage, 3 the preflight found a problem (nothing is created then), the
    /// cluster or registry is unreachable or a wait ran out, 130 interrupted.
    #[cfg(feature = "live")]
    Start(Box<StartArgs>),
    /// Run a lab's checks against the live cluster, the registry and your evidence files.
    ///
    /// Exit 0 when every check passes, 1 when some fail, 3 when the cluster or registry could
    /// not be asked.
    #[cfg(feature = "live")]
    Check(Box<CheckArgs>),
    /// Switch the chapter's policies to Enforce, and prove the webhook denies the unsigned probe.
    #[cfg(feature = "live")]
    Enforce(ModeArgs),
    /// Switch the chapter's policies back to Audit, and prove the webhook admits the probe.
    #[cfg(feature = "live")]
    Audit(ModeArgs),
    /// Show where the lab stands: your steps and whether your progress record is intact, then
    /// the lab's context, mode and each of its objects in the cluster.
    ///
    /// Exit 0 all is well, 1 an object of the lab is missing, 3 the cluster is unreachable, 6
    /// the progress record was edited or has records deleted or reordered.
    #[cfg(feature = "live")]
    Status {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// Also score the chapter's done-when criteria from your record: points, partial
        /// credit, the evidence behind each point, and what to do for the missing ones.
        #[arg(long)]
        done_when: bool,
    },
    /// The guided walkthrough: each step's instructions with your values, its checks run again
    /// whenever your evidence files, the cluster or the registry change, hints, solutions and the runbook.
    ///
    /// Keys: c check now, h next hint, s solution, r runbook section, l steps, n next (once
    /// every check passes), t the quiz (on its step), q quit; it resumes where you stopped.
    /// Without a terminal (or with --yes, or CI=true) nothing waits for a key: from the
    /// current step on, each step is shown and checked, and it stops at the first that does
    /// not pass. Exit 0 finished or quit, 1 stopped at a step, 3 unreachable.
    #[cfg(feature = "live")]
    Walkthrough(WalkthroughArgs),
    /// Take the chapter quiz; your answers are recorded in .lab/<CHAPTER>/progress.json.
    ///
    /// A graded quiz is answered once and says nothing about your answers: `lab grade` judges
    /// them. A practice quiz follows each answer with its explanation, then the score; your
    /// first attempt is recorded and later ones are practice. Exit 0 recorded (graded) or
    /// passed, 1 not passed.
    #[cfg(feature = "live")]
    Quiz {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// Answers from a YAML file, one line per question: `q-promote-by-digest: a`, or
        /// `q-mutable-tags: [b, c]` for several.
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Take the lab's practice quiz instead: feedback after each answer, nothing
        /// recorded, never graded.
        #[arg(long)]
        practice: bool,
    },
    /// Show the next hint of the current step (or of --step); each hint shown is recorded.
    #[cfg(feature = "live")]
    Hint {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// The step [default: the current one].
        #[arg(long, value_name = "ID")]
        step: Option<String>,
    },
    /// Check the current step; if every check passes, record it and show the next step.
    ///
    /// Exit 0 moved on (or all done), 1 a check fails, 3 unreachable.
    #[cfg(feature = "live")]
    Next(NextArgs),
    /// Mark your steps from --step on (default: all) as to do again; asks first (--yes for
    /// scripts). Nothing is deleted: the record keeps what you did, your files and the
    /// cluster stay as they are.
    #[cfg(feature = "live")]
    Reset {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// The first step to do again.
        #[arg(long, value_name = "ID")]
        step: Option<String>,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Show the chapter's runbook, or one section of it (by heading or anchor, e.g. triage).
    #[cfg(feature = "live")]
    Runbook {
        /// Chapter id or alias.
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// A section: its anchor (`roll-back-by-digest`) or heading.
        #[arg(value_name = "SECTION")]
        section: Option<String>,
    },
    /// List the chapter's steps: done, current, ahead.
    #[cfg(feature = "live")]
    Steps {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
    },
    /// Stop the lab: a kind lab's containers are stopped, a lab on an existing cluster has its
    /// objects removed (newest first, and only the lab's); --delete removes everything it made.
    #[cfg(feature = "live")]
    Stop {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// Also forget the lab's state (.lab/<CHAPTER>/state.json); your other files stay.
        #[arg(long)]
        delete: bool,
    },
    /// Print one of a lab's files with the lab's values filled in, e.g. to `kubectl apply -f -`.
    #[cfg(feature = "live")]
    Render {
        /// Chapter id or alias.
        #[arg(value_name = "CHAPTER")]
        chapter: String,
        /// The file, relative to the lab's folder, e.g. manifests/workstation-hotfix-pod.yaml.
        #[arg(value_name = "FILE")]
        file: String,
        /// Set a lab variable (on top of those `lab start` was given).
        #[arg(long, value_name = "NAME=VALUE", value_parser = name_value)]
        set: Vec<(String, String)>,
    },
    /// Show a step's solution with your values filled in; --run runs it.
    ///
    /// Exit 0 shown (or run successfully), 1 when the step has none or it failed.
    #[cfg(feature = "live")]
    Solve {
        /// Chapter id or alias [default: the lab started in this folder].
        #[arg(value_name = "CHAPTER")]
        chapter: Option<String>,
        /// The step.
        #[arg(long, value_name = "ID")]
        step: String,
        /// Run it in this folder (bash, `set -euo pipefail`).
        #[arg(long)]
        run: bool,
        /// Set a lab variable (on top of those `lab start` was given).
        #[arg(long, value_name = "NAME=VALUE", value_parser = name_value)]
        set: Vec<(String, String)>,
        /// How long it may run, in seconds.
        #[arg(long, value_name = "SECONDS", value_parser = timeout_seconds, default_value_t = 300)]
        timeout: u64,
    },
    /// Content CI on a real cluster: start the lab in a scratch folder, then for every step its
    /// checks must fail, its solution runs, and its checks must pass.
    ///
    /// A check that passes before its solution is reported as broken (unless the lab marks it
    /// `invariant`). The lab's objects are removed at the end unless --keep. Exit 0 when every
    /// step rehearses cleanly, 1 when one does not, 2 bad content or usage, 3 the cluster or
    /// registry unreachable.
    #[cfg(feature = "live")]
    Rehearse(Box<RehearseArgs>),
    /// Pack your work into one signed file to hand in: every check is run once more, and the
    /// evidence, your progress record, your public key and what the cluster showed are sealed
    /// with your cosign key.
    ///
    /// Every file is scanned for secrets first (private keys, tokens, passwords); one found
    /// stops the command and names the file and line. The key is cosign's encrypted key, read
    /// with COSIGN_PASSWORD. Exit 0 when the file was written (whatever the checks said: your
    /// instructor's lab grade judges them again), 2 bad usage or a secret found, 3 the cluster
    /// or registry unreachable, 5 the file could not be written.
    #[cfg(feature = "live")]
    Submit(Box<SubmitArgs>),
    /// Grade a class's submission files offline: each file's seal, its files, its progress
    /// record and the course version are checked, the chapter's checks run again against the
    /// file alone, the done-when criteria scored, and copies across the class flagged.
    ///
    /// Evidence, the image's signature and SBOM attestation (from the file's image layout) and
    /// the quiz (with the answer key: --answer-key, else the course's) are re-verified; the
    /// cluster's checks are judged from what the learner's cluster showed at submission. A file
    /// that cannot be read is rejected with its reason; the others are graded all the same.
    /// The class's reports are written as --format asks: a table, JSON, CSV, Canvas's
    /// gradebook, Gradescope's results.json, JUnit or one HTML page. Exit 0 the class was
    /// graded (scores are data), 1 a score under --fail-under, 2 bad usage, roster or answer
    /// key, 5 a report could not be written.
    Grade(Box<GradeArgs>),
    /// Learner tokens, for instructors.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Venue bundles: what a lab downloads, in one archive checked file by file.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// List the chapters with their titles and aliases.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The options of `lab start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Chapter id or alias, e.g. ch14.
    #[arg(value_name = "CHAPTER")]
    pub chapter: String,
    /// Run the lab on this existing cluster (a kubeconfig context) instead of a kind cluster
    /// of its own; only the lab's objects are created there.
    #[arg(long, value_name = "CTX")]
    pub context: Option<String>,
    /// Where Kyverno comes from: `install` the lab's pinned version, or use the `existing` one
    /// (its version must match).
    #[arg(long, value_enum, default_value_t = KyvernoArg::Install)]
    pub kyverno: KyvernoArg,
    /// Set a lab variable, e.g. --set push_registry=127.0.0.1:5000/courselab.
    #[arg(long, value_name = "NAME=VALUE", value_parser = name_value)]
    pub set: Vec<(String, String)>,
    /// Derive the scenario's images from the image in this OCI layout instead of the lab's
    /// public base image (for rooms without internet).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["bundle", "mirror"])]
    pub base_image_layout: Option<PathBuf>,
    /// Start with no network: everything the lab downloads comes from this venue bundle
    /// (`lab bundle create`), verified file by file first: the node and registry images loaded
    /// into Docker, the lab registry filled with Kyverno's images and their signatures,
    /// Kyverno's chart installed from it, the scenario's base image taken from it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["context", "mirror"])]
    pub bundle: Option<PathBuf>,
    /// Take everything the lab downloads from the venue's `lab bundle serve` at HOST:PORT
    /// (plain HTTP on the room's network) instead of the internet, as --bundle takes it from a
    /// file.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "context")]
    pub mirror: Option<String>,
    /// How long each wait may take, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = timeout_seconds, default_value_t = 180)]
    pub timeout: u64,
    /// Never wait for a key (for scripts and CI): provision, then name the step to do and
    /// stop, instead of entering the walkthrough (as without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// With the walkthrough: do not watch files and the cluster; checks run when you press c.
    #[arg(long)]
    pub manual_run: bool,
    /// Your learner token from your instructor (`lab token issue`): its nonce is baked into
    /// the scenario's images, so the digest you promote is your own, and `lab submit` packs it.
    #[arg(long, value_name = "FILE")]
    pub token: Option<PathBuf>,
}

/// The options of `lab rehearse`.
#[derive(Debug, clap::Args)]
pub struct RehearseArgs {
    /// How to start the lab (as `lab start`).
    #[command(flatten)]
    pub start: StartArgs,
    /// How long one step's solution may run, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = timeout_seconds, default_value_t = 300)]
    pub step_timeout: u64,
    /// How long the checks after a solution may take to settle, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = wait_seconds, default_value_t = 90)]
    pub settle: u64,
    /// Keep the scratch folder and the lab's objects.
    #[arg(long)]
    pub keep: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormatArg::Human)]
    pub format: TestFormatArg,
}

/// Where Kyverno comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KyvernoArg {
    /// Install the lab's pinned version.
    Install,
    /// Use the Kyverno already in the cluster.
    Existing,
}

/// The options of `lab check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Chapter id or alias [default: the lab started in this folder].
    #[arg(value_name = "CHAPTER")]
    pub chapter: Option<String>,
    /// Only this step's checks.
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    pub step: Option<String>,
    /// Every step's checks (the default).
    #[arg(long)]
    pub all: bool,
    /// Ask this kubeconfig context instead of the lab's.
    #[arg(long, value_name = "CTX")]
    pub context: Option<String>,
    /// The longest a failing check is tried again while the cluster shows it settling (a
    /// rollout in progress, a Pod admitted before Kyverno reported it, a policy becoming
    /// Ready), in seconds; a check with nothing settling fails at once.
    #[arg(long, value_name = "SECONDS", value_parser = wait_seconds, default_value_t = 30)]
    pub wait: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The options of `lab grade`.
#[derive(Debug, clap::Args)]
pub struct GradeArgs {
    /// Submission files (.tar.gz from lab submit), or folders of them.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// The quiz's answer key [default: the course's, beside its quiz].
    #[arg(long, value_name = "FILE")]
    pub answer_key: Option<PathBuf>,
    /// When the work was due: YYYY-MM-DD (the end of that day, UTC) or an RFC 3339 time; a
    /// later submission is flagged late (by its claimed time).
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
    /// Your public key (the instructor's): each file's learner token must verify with it, be
    /// the learner's and the chapter's, and its nonce be in the promoted image.
    #[arg(long, value_name = "FILE")]
    pub instructor_key: Option<PathBuf>,
    /// Print JSON: every submission with every check and what it rests on (as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// The report's format; give it several times to write several reports (with -o DIR).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Vec<GradeFormatArg>,
    /// Write the report to this file instead of printing it; with several --format, the folder
    /// to write them into (grades.txt, grades.json, ...).
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// The score, in percent, at which a learner passes, for the class's pass rate.
    #[arg(long, value_name = "PERCENT", default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub pass_mark: u32,
    /// Exit 1 when a graded submission scores under this percentage (for CI).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub fail_under: Option<u32>,
    /// The class roster, CSV with a header row: id, name, email, section, public_key (a PEM
    /// key, a key file beside the roster, or its sha256 fingerprint), identity (keyless labs:
    /// the certificate subject the learner's image signatures must carry). A file signed by a
    /// key that is not its learner's is rejected; a learner not on it is flagged; one who
    /// handed nothing in is listed as missing.
    #[arg(long, value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// How many files are graded at once [default: the machine's cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// The assignment's title in gradebooks [default: the chapter's title].
    #[arg(long, value_name = "NAME")]
    pub assignment_name: Option<String>,
    /// The Canvas assignment's id (from its URL): the canvas report's column is then `NAME
    /// (ID)`, which Canvas's import matches to that assignment.
    #[arg(long, value_name = "ID")]
    pub canvas_assignment_id: Option<u64>,
    /// Replace every learner's id, name, email and file name with a stable pseudonym
    /// (learner-1a2b3c4d5e) in every report; who each is goes to --reveal-map only.
    #[arg(long, requires = "reveal_map")]
    pub anonymize: bool,
    /// With --anonymize: the file that says who each pseudonym is, and holds the key that
    /// draws them (reused when it exists, so reruns keep their pseudonyms). Not inside -o.
    #[arg(long, value_name = "FILE", requires = "anonymize")]
    pub reveal_map: Option<PathBuf>,
}

/// `lab bundle`'s subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Make a venue bundle of everything `lab start CHAPTER` downloads (on a machine with
    /// network): the kind node image, the registry image, the base image, Kyverno's chart and
    /// every image it deploys, each with all its platforms and the cosign signatures and
    /// attestations found beside it, pinned by digest in one OCI image layout.
    ///
    /// Kyverno's chart and images are verified against Kyverno's signing identity (its release
    /// workflows, keyless) with cosign 3 before anything is packed; one that does not verify
    /// stops the bundle. Exit 0 written, 2 bad usage or no cosign, 3 a registry could not be
    /// reached, 4 a signature did not verify or a registry's answer was not what it said, 5 the
    /// file could not be written.
    Create(Box<BundleCreateArgs>),
    /// Serve a bundle to the room as a read-only OCI registry, straight from the file (every
    /// file is verified first; nothing is unpacked).
    ///
    /// Images are served under their full names (`HOST:PORT/docker.io/kindest/node:v1.35.8`)
    /// and as a containerd mirror asks for them (`?ns=docker.io`). Only GET and HEAD are
    /// answered. Runs until Ctrl-C (exit 0); exit 4 the bundle is not what its manifest says,
    /// 2 it cannot be read or the address cannot be listened on.
    Serve {
        /// The bundle (a .tar).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where to listen (all interfaces by default, for the room's laptops).
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:5050")]
        listen: String,
        /// Connections served at once; more wait their turn.
        #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..=16384))]
        max_connections: u16,
    },
    /// Check every file of a bundle against its manifest (`bundle.json`) as the archive is
    /// read: nothing is unpacked, and the archive is held to the rules of untrusted input.
    ///
    /// Exit 0 every file is as listed, 4 a file is not (changed, cut short, added, missing)
    /// or the archive is not a bundle lab reads, 2 the file cannot be read.
    Verify {
        /// The bundle (a .tar).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The options of `lab bundle create`.
#[derive(Debug, clap::Args)]
pub struct BundleCreateArgs {
    /// Chapter id or alias, e.g. ch14.
    #[arg(value_name = "CHAPTER")]
    pub chapter: String,
    /// Where to write the bundle (default: `<lab>.bundle.tar` in this folder).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Reach a publisher's registry through another (a pull-through cache), e.g.
    /// --registry-mirror docker.io=mirror.example:5000; the bundle still names images as the
    /// publisher does. Repeatable.
    #[arg(long, value_name = "REGISTRY=MIRROR", value_parser = registry_mirror)]
    pub registry_mirror: Vec<(String, String)>,
    /// Verify Kyverno's signatures with this Sigstore trust root (`trusted_root.json`, as
    /// `cosign verify --trusted-root` reads it) instead of Sigstore's public-good instance.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Do not check the signatures' transparency-log entries (a private Sigstore without
    /// Rekor); recorded in the bundle.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Do not check the certificates' SCTs (a private CA without a CT log); recorded in the
    /// bundle.
    #[arg(long)]
    pub insecure_ignore_sct: bool,
}

fn registry_mirror(text: &str) -> Result<(String, String), String> {
    crate::bundle::create::parse_mirror(text)
}

/// `lab token`'s subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Issue a learner's token, signed with your (the instructor's) cosign key.
    ///
    /// The learner starts the lab with it (`lab start CHAPTER --token FILE`); `lab grade
    /// --instructor-key` checks its signature, learner, chapter and due date. It holds a random
    /// nonce that makes the learner's promoted digest their own. The key is read with
    /// COSIGN_PASSWORD. Exit 0 written, 2 bad usage or key, 5 the file could not be written.
    Issue(Box<TokenIssueArgs>),
}

/// The options of `lab token issue`.
#[derive(Debug, clap::Args)]
pub struct TokenIssueArgs {
    /// Your cosign private key (the instructor's).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The learner's id (letters, digits, `.`, `_`, `-`, `+`, `@`).
    #[arg(long, value_name = "ID")]
    pub learner: String,
    /// The chapter it is for [default: any].
    #[arg(long, value_name = "CHAPTER")]
    pub chapter: Option<String>,
    /// When the work is due: YYYY-MM-DD (the end of that day, UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
    /// Where to write it [default: <learner>.token.json here].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// The options of `lab submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// Chapter id or alias [default: the lab started in this folder].
    #[arg(value_name = "CHAPTER")]
    pub chapter: Option<String>,
    /// Your learner id, as your instructor knows you (letters, digits, `.`, `_`, `-`, `+`, `@`)
    /// [default: the one your token names, when the lab was started with --token].
    #[arg(long, value_name = "ID")]
    pub learner: Option<String>,
    /// Your cosign private key: the one that signed the image.
    #[arg(long, value_name = "FILE", default_value = "cosign.key")]
    pub key: PathBuf,
    /// Where to write the file [default: <chapter>-<learner>.submission.tar.gz here].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// List what would be packed, and any secret that would stop it; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Ask this kubeconfig context instead of the lab's.
    #[arg(long, value_name = "CTX")]
    pub context: Option<String>,
    /// The longest a failing check is tried again while the cluster shows it settling, in
    /// seconds.
    #[arg(long, value_name = "SECONDS", value_parser = wait_seconds, default_value_t = 30)]
    pub wait: u64,
}

/// The options of `lab walkthrough`.
#[derive(Debug, clap::Args)]
pub struct WalkthroughArgs {
    /// Chapter id or alias [default: the lab started in this folder].
    #[arg(value_name = "CHAPTER")]
    pub chapter: Option<String>,
    /// Do not watch files, the cluster and the registry; the checks run when you press c.
    #[arg(long)]
    pub manual_run: bool,
    /// Never wait for a key (as without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Without a terminal: the quiz's answers, as for `lab quiz --answers`.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// How long a failing check that settles by itself is tried again per run, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = wait_seconds, default_value_t = 5)]
    pub wait: u64,
    /// A recorded world (JSON: the cluster and the registry) instead of the lab's cluster, to
    /// preview a lab's walkthrough without one; see src/engine/world.rs.
    #[arg(long, value_name = "FILE", hide = true)]
    pub world: Option<PathBuf>,
}

/// The options of `lab next`.
#[derive(Debug, clap::Args)]
pub struct NextArgs {
    /// Chapter id or alias [default: the lab started in this folder].
    #[arg(value_name = "CHAPTER")]
    pub chapter: Option<String>,
    /// How long a failing check that settles by itself is tried again, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = wait_seconds, default_value_t = 30)]
    pub wait: u64,
    /// A recorded world instead of the lab's cluster (see `lab walkthrough --world`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub world: Option<PathBuf>,
}

/// The options of `lab enforce` and `lab audit`.
#[derive(Debug, clap::Args)]
pub struct ModeArgs {
    /// Chapter id or alias [default: the lab started in this folder].
    #[arg(value_name = "CHAPTER")]
    pub chapter: Option<String>,
    /// How long each wait may take, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = timeout_seconds, default_value_t = 120)]
    pub timeout: u64,
}

/// The options of `lab verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The image: registry/repository:tag or registry/repository@sha256:<digest>. A tag is
    /// resolved to its digest first, and the digest is what is verified.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The signer's public key (`cosign.pub`): ECDSA P-256/P-384, RSA or Ed25519, PEM.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["certificate_identity", "certificate_identity_regexp"])]
    pub key: Option<PathBuf>,
    /// Keyless: the signer identity, matched against every email or URI SAN of the
    /// certificate; `*` and `?` are wildcards, as in Kyverno's `subject`.
    #[arg(long, value_name = "ID", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    /// Keyless: the signer identity as an unanchored regular expression.
    #[arg(long, value_name = "REGEX", conflicts_with = "key")]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer, e.g. https://token.actions.githubusercontent.com (wildcards allowed).
    #[arg(long, value_name = "URL", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: the OIDC issuer as an unanchored regular expression.
    #[arg(long, value_name = "REGEX", conflicts_with = "key")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: PEM bundle of the root certificates the signing certificate must chain to
    /// (offline: `lab` does not fetch Sigstore's roots).
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    pub ca_roots: Option<PathBuf>,
    /// Keyless: the transparency log's public key; the Rekor bundle on each signature is
    /// verified with it, offline.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "insecure_ignore_tlog"])]
    pub rekor_public_key: Option<PathBuf>,
    /// Keyless: accept signatures without checking the transparency log.
    #[arg(long, conflicts_with = "key")]
    pub insecure_ignore_tlog: bool,
    /// Also verify an attestation of this predicate type: a URI, or cosign's shorthand
    /// (`spdxjson`, `cyclonedx`, `slsaprovenance`, ...). SPDX SBOMs are sanity-checked.
    #[arg(long, value_name = "TYPE")]
    pub attestation_type: Option<String>,
    /// Allow plain HTTP to the image's registry (loopback registries always may).
    #[arg(long)]
    pub insecure: bool,
    /// Read the image, signatures and attestations from an OCI image layout (as written
    /// by `cosign save --dir` or `skopeo copy ... oci:DIR`) instead of the registry.
    #[arg(long, value_name = "DIR", conflicts_with = "insecure")]
    pub layout: Option<PathBuf>,
    /// Print one JSON document instead of cosign's text.
    #[arg(long)]
    pub json: bool,
}

/// The longest wait or timeout `lab` takes, in seconds: a day, far beyond what a lab needs and
/// far from the overflow of a deadline computed from a larger number.
pub const MAX_SECONDS: u64 = 24 * 60 * 60;

/// A number of seconds from `min` to [`MAX_SECONDS`].
fn seconds(s: &str, min: u64) -> Result<u64, String> {
    let range = format!("give a whole number of seconds from {min} to {MAX_SECONDS} (a day)");
    match s.trim().parse::<u64>() {
        Ok(n) if (min..=MAX_SECONDS).contains(&n) => Ok(n),
        Ok(_) => Err(format!("out of range; {range}")),
        Err(_) if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("out of range; {range}"))
        }
        Err(_) => Err(format!("not a number of seconds; {range}")),
    }
}

/// How long a failing check is tried again (or checks settle): 0 (no retry) to a day.
fn wait_seconds(s: &str) -> Result<u64, String> {
    seconds(s, 0)
}

/// How long a wait or a run may take: 1 second to a day.
fn timeout_seconds(s: &str) -> Result<u64, String> {
    seconds(s, 1)
}

/// A `NAME=VALUE` pair.
fn name_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// The options of `lab test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The chapters to test (ids or aliases) [default: every chapter that has tests].
    #[arg(value_name = "CHAPTER")]
    pub chapters: Vec<String>,
    /// Read images from this registry (HOST[:PORT]) instead of the fixture layouts; each image
    /// is fetched under its own path, as from a mirror.
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    /// Allow plain HTTP to --registry (loopback registries always may).
    #[arg(long, requires = "registry")]
    pub insecure: bool,
    /// Push the fixture images, signatures and attestations to --registry before testing.
    #[arg(long, requires = "registry")]
    pub push: bool,
    /// Build the fixture images from the lab's `tests.fixtures` (creating missing TEST keys),
    /// then stop.
    #[arg(long, conflicts_with_all = ["registry", "push"])]
    pub write_fixtures: bool,
    /// Write the tests, rendered (placeholders filled, each Test's mode applied), into DIR
    /// for the real `kyverno test DIR`, then stop: one Test per policy file, without
    /// `patchedResources` (each file's header says why). DIR must be new or empty; with several
    /// chapters, each goes into DIR/<chapter>.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["write_fixtures", "push"])]
    pub export: Option<PathBuf>,
    /// Do not run the mutations.
    #[arg(long)]
    pub no_mutations: bool,
    /// Set a lab variable for rendering, e.g. --set image_registry=127.0.0.1:5000/courselab.
    #[arg(long, value_name = "NAME=VALUE", value_parser = name_value)]
    pub set: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormatArg::Human)]
    pub format: TestFormatArg,
}

/// Report formats of `lab grade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GradeFormatArg {
    /// A table of the class for people, with the class summary below it.
    Table,
    /// One JSON document: every criterion, check, quiz question and flag per learner.
    Json,
    /// Gradescope's autograder results.json, for exactly one submission.
    Gradescope,
    /// A CSV gradebook: a row per learner, a column per criterion and quiz question.
    Csv,
    /// Canvas's gradebook import CSV (see --canvas-assignment-id).
    Canvas,
    /// JUnit XML: a suite per learner, a case per check.
    Junit,
    /// One self-contained HTML page: the class, charts, the flagged, a section per learner.
    Html,
}

/// Output formats of `lab test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormatArg {
    /// A line per case, failures explained.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML, for CI test reports.
    Junit,
}

/// The options of `lab admit`.
#[derive(Debug, clap::Args)]
pub struct AdmitArgs {
    /// The manifest (one or many YAML documents); `-` reads standard input.
    #[arg(short = 'f', long = "filename", value_name = "RESOURCE")]
    pub file: PathBuf,
    /// Use this chapter's policy pack, rendered for --mode.
    #[arg(
        long,
        value_name = "CH",
        required_unless_present = "policy",
        conflicts_with = "policy"
    )]
    pub chapter: Option<String>,
    /// The rollout mode the chapter's policies are rendered in.
    #[arg(long, value_enum, default_value_t = ModeArg::Audit, requires = "chapter")]
    pub mode: ModeArg,
    /// Use these policy files as written instead of a chapter's.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub policy: Vec<PathBuf>,
    /// Set a variable, e.g. --set cosign_public_key=cosign.pub. With --policy the files'
    /// placeholders take the value as written, or the contents of FILE for `NAME=@FILE`.
    #[arg(long, value_name = "NAME=VALUE", value_parser = name_value)]
    pub set: Vec<(String, String)>,
    /// Read images from the OCI layouts in DIR (one folder per repository name, as the
    /// chapters' test fixtures) instead of their registries.
    #[arg(long, value_name = "DIR")]
    pub layouts: Option<PathBuf>,
    /// Allow plain HTTP registries (loopback registries always may).
    #[arg(long, conflicts_with = "layouts")]
    pub insecure: bool,
    /// Kyverno's ConfigMap (`kubectl -n kyverno get configmap kyverno -o yaml`): its
    /// resourceFilters and webhook selectors decide what reaches the policies. Without it, the
    /// one of the lab's cluster when --chapter's lab is started here, else the configuration of
    /// the chart the lab installs (3.9.0): kube-system, kyverno, ReplicaSets and more are left
    /// out.
    #[arg(long, value_name = "FILE")]
    pub kyverno_config: Option<PathBuf>,
    /// Judge as a Kyverno started with `--imageVerifyCacheEnabled=false`. The chart leaves the
    /// cache on: a pass is then reused for the same policy, rule and image, by a later entry of
    /// the rule and by later resources.
    #[arg(long)]
    pub no_verify_cache: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Rollout modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Report violations, admit anyway.
    Audit,
    /// Deny violations.
    Enforce,
}

/// Output formats of `lab validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source snippets for people.
    Human,
    /// One JSON document (versioned by `schema_version`).
    Json,
    /// GitHub Actions annotations for pull requests.
    Github,
}

impl From<GradeFormatArg> for report::Format {
    fn from(format: GradeFormatArg) -> Self {
        match format {
            GradeFormatArg::Table => report::Format::Human,
            GradeFormatArg::Json => report::Format::Json,
            GradeFormatArg::Csv => report::Format::Csv,
            GradeFormatArg::Canvas => report::Format::Canvas,
            GradeFormatArg::Gradescope => report::Format::Gradescope,
            GradeFormatArg::Junit => report::Format::Junit,
            GradeFormatArg::Html => report::Format::Html,
        }
    }
}

impl From<TestFormatArg> for report::Format {
    fn from(format: TestFormatArg) -> Self {
        match format {
            TestFormatArg::Human => report::Format::Human,
            TestFormatArg::Json => report::Format::Json,
            TestFormatArg::Junit => report::Format::Junit,
        }
    }
}

impl From<Format> for report::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Human => report::Format::Human,
            Format::Json => report::Format::Json,
            Format::Github => report::Format::Github,
        }
    }
}

/// When to color output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_bounded_by_a_day() {
        assert_eq!(wait_seconds("0"), Ok(0));
        assert_eq!(wait_seconds("86400"), Ok(MAX_SECONDS));
        assert_eq!(timeout_seconds("1"), Ok(1));
        for (parse, bad) in [
            (timeout_seconds as fn(&str) -> Result<u64, String>, "0"),
            (wait_seconds, "86401"),
            (wait_seconds, "18446744073709551615"),
            (wait_seconds, "99999999999999999999999"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(
                error.starts_with("out of range; give a whole number of seconds from"),
                "{bad}: {error}"
            );
        }
        for bad in ["", "-1", "1.5", "5s"] {
            let error = wait_seconds(bad).unwrap_err();
            assert!(
                error.starts_with("not a number of seconds"),
                "{bad}: {error}"
            );
        }
    }
}

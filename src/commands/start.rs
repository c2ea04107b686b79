//! `lab start CHAPTER`: brings the lab up and converges on a second run. With `--context` it
//! uses an existing cluster (and with `--kyverno existing` the Kyverno in it); each phase is
//! recorded in the lab's state, so that an interrupted start is resumed by the next one. What
//! the learner changed since (an image set, a policy switched) is left as it is.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::apply::{is_labs, label, object_ref};
use crate::backend::doctor::{Finding, Level, doctor};
use crate::backend::host::SystemHost;
use crate::backend::kind;
use crate::backend::seed::{self, Seeded};
use crate::backend::state::{LabState, SCHEMA_VERSION};
use crate::backend::{BackendError, KubeCluster};
use crate::bundle::load;
use crate::bundle::source::Source;
use crate::content::model::FailureMode;
use crate::engine::Cluster;
use crate::engine::compare::drift;
use crate::error::LabError;
use crate::exit_code;
use crate::policy::model::{joined, live_entry_actions};
use crate::terminal::Spinner;

/// Where Kyverno comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KyvernoSource {
    /// Install the lab's pinned version.
    Install,
    /// Use the one already in the cluster, if its version matches.
    Existing,
}

/// Where a start without the internet takes what the lab downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// A bundle file (`lab bundle create`).
    Bundle(PathBuf),
    /// A venue's `lab bundle serve` at `HOST:PORT`.
    Mirror(String),
}

/// A validated `lab start`.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Chapter id or alias.
    pub chapter: String,
    /// Use this kubeconfig context instead of provisioning kind.
    pub context: Option<String>,
    /// Where Kyverno comes from.
    pub kyverno: KyvernoSource,
    /// `--set` values.
    pub set: Vec<(String, String)>,
    /// The base image from an OCI layout instead of the lab's public base image.
    pub base_image_layout: Option<PathBuf>,
    /// Everything the lab downloads from a venue bundle or a venue's registry instead.
    pub from: Option<From>,
    /// How long each wait may take.
    pub timeout: Duration,
    /// Never wait for a key: no walkthrough after provisioning.
    pub yes: bool,
    /// The walkthrough without watching.
    pub manual_run: bool,
    /// The learner's token (`lab token issue`).
    pub token: Option<PathBuf>,
}

/// Runs `lab start`.
pub fn run(config: &Config, request: &StartRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let workdir = super::session::working_folder()?;
    let code = run_in(config, workdir.clone(), request, out)?;
    if code != exit_code::SUCCESS || !super::lesson::can_ask(request.yes) {
        return Ok(code);
    }
    // A person at a terminal goes on into the walkthrough, where they left it.
    let session = Session::open_in(config, workdir, Some(&request.chapter), &request.set)?;
    let walk = super::walk::WalkRequest {
        chapter: Some(request.chapter.clone()),
        manual_run: request.manual_run,
        wait: Duration::from_secs(5),
        ..Default::default()
    };
    super::walk::walkthrough(config, &session, &walk, out)
}

/// Runs `lab start` for the working folder `workdir`.
pub(crate) fn run_in(
    config: &Config,
    workdir: PathBuf,
    request: &StartRequest,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open_in(config, workdir, Some(&request.chapter), &request.set)?;
    preflight(&session)?;
    let kind = request.context.is_none();
    let findings = doctor(
        &SystemHost,
        &session.chapter.lab,
        kind,
        request.kyverno == KyvernoSource::Install,
    );
    let (blocking, other): (Vec<Finding>, Vec<Finding>) = findings
        .into_iter()
        .filter(|f| f.level != Level::Ok)
        .partition(Finding::blocks_start);
    if !blocking.is_empty() {
        let _ =
            std::io::stderr().write_all(crate::report::doctor::findings_text(&blocking).as_bytes());
        return Err(BackendError::Preflight(format!(
            "{} problem(s) stop `lab start` before anything is created; fix them (`lab doctor {}` checks again)",
            blocking.len(),
            session.id()
        ))
        .into());
    }
    for f in other {
        let fix = f
            .fix
            .as_deref()
            .map(|x| format!("; {x}"))
            .unwrap_or_default();
        line(out, "doctor", &format!("{}: {}{fix}", f.check, f.found))?;
    }
    let mut state = session.state.clone().unwrap_or_else(|| LabState {
        schema_version: SCHEMA_VERSION,
        chapter: session.id(),
        mode: FailureMode::Audit,
        ..Default::default()
    });
    if let Some(path) = &request.token {
        take_token(&session, &mut state, path)?;
    }
    let source = match &request.from {
        Some(from) => Some(open_source(&session, from, out)?),
        None => None,
    };
    let context = match &request.context {
        Some(context) => context.clone(),
        None => provision(&session, &mut state, source.as_ref(), out)?,
    };
    // The runtime the venue's client first connected on (reqwest keeps connections per
    // runtime), so one for this thread.
    crate::runtime::block_on_this_thread(async {
        crate::runtime::until_interrupted(start(
            &session,
            state,
            &context,
            kind,
            request,
            source.as_ref(),
            out,
        ))
        .await
        .map_err(|_| LabError::Interrupted)?
    })?
}

/// The bundle, verified and checked to hold everything this lab downloads; or the venue's
/// registry.
fn open_source(session: &Session, from: &From, out: &mut impl Write) -> Result<Source, LabError> {
    match from {
        From::Bundle(path) => {
            let phase = Instant::now();
            let shown = crate::text::printable(&path.display().to_string()).into_owned();
            let spinner = Spinner::start(format!("bundle: checking every file of {shown}"));
            let source = Source::bundle(path)?;
            drop(spinner);
            let Source::Bundle(bundle) = &source else {
                unreachable!("a bundle opens as a bundle")
            };
            let needs = super::bundle::lab_needs(&session.chapter)?;
            let lacking: Vec<String> =
                crate::bundle::holds::holds(&bundle.verified.manifest, &needs, &session.id())
                    .into_iter()
                    .filter_map(|h| h.found.err().map(|why| format!("{}: {why}", h.what)))
                    .collect();
            if !lacking.is_empty() {
                return Err(LabError::Usage(format!(
                    "{shown} does not hold everything lab {} downloads, so nothing was started:\n  {}\nmake it again with `lab bundle create {}` (`lab doctor {} --bundle {shown}` lists what it holds)",
                    session.id(),
                    lacking.join("\n  "),
                    session.id(),
                    session.id()
                )));
            }
            line(
                out,
                "bundle",
                &format!(
                    "{shown}: {} files ({}) as its manifest lists them, everything lab {} downloads ({})",
                    bundle.verified.files,
                    crate::supply::store::human_size(bundle.verified.bytes),
                    session.id(),
                    seconds(phase)
                ),
            )?;
            Ok(source)
        }
        From::Mirror(host) => {
            let scratch = session.workdir.join(".lab").join(session.id());
            std::fs::create_dir_all(&scratch).map_err(|source| LabError::Output {
                what: scratch.display().to_string(),
                source,
            })?;
            let source = Source::mirror(host, &scratch)?;
            line(
                out,
                "mirror",
                &format!(
                    "everything lab {} downloads comes from {}",
                    session.id(),
                    source.describe()
                ),
            )?;
            Ok(source)
        }
    }
}

/// Removes the files an interrupted start left in the lab's folder (`.load-*.tar`, an image
/// for `docker load`; `.kyverno-*.tgz`, the chart for helm; `.blob-*`, a blob downloaded from
/// the venue): only `lab start` writes files of those names there, and they can be large.
fn remove_scratch(scratch: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = (name.starts_with(".load-") && name.ends_with(".tar"))
            || (name.starts_with(".kyverno-") && name.ends_with(".tgz"))
            || name.starts_with(".blob-");
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Loads the kind node image and the registry image from `source` into Docker (unless Docker
/// has them already), and points the plan at them. Returns the tags it loaded.
fn load_images(
    session: &Session,
    plan: &mut kind::KindPlan,
    source: &Source,
    out: &mut impl Write,
) -> Result<Vec<String>, LabError> {
    let mut loaded_now = Vec::new();
    let host = SystemHost;
    let platform = kind::docker_platform(&host)?;
    let needs = super::bundle::lab_needs(&session.chapter)?;
    // `kind create cluster --image` boots every node from the one image loaded.
    let node = match needs.node_images.as_slice() {
        [one] => one.clone(),
        _ => {
            return Err(LabError::Usage(format!(
                "the kind config names {} node images; a start from a bundle boots every node from one (`kind create cluster --image`), so give every node the same `image`",
                needs.node_images.len()
            )));
        }
    };
    let scratch = session.workdir.join(".lab").join(session.id());
    std::fs::create_dir_all(&scratch).map_err(|source| LabError::Output {
        what: scratch.display().to_string(),
        source,
    })?;
    remove_scratch(&scratch);
    for (what, reference) in [
        ("kind node image", node.as_str()),
        ("registry image", kind::REGISTRY_IMAGE),
    ] {
        let phase = Instant::now();
        let image = crate::supply::ImageRef::parse(reference)
            .map_err(|e| LabError::Usage(format!("the {what} `{reference}`: {e}")))?;
        let name = crate::bundle::create::canonical_repository(&image);
        let wanted = image
            .digest
            .clone()
            .or_else(|| image.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let tag = load::docker_tag(&crate::bundle::create::canonical_name(&image));
        let spinner = Spinner::start(format!(
            "docker: reading the {what} from {}",
            source.describe()
        ));
        let prepared = crate::runtime::block_on_this_thread(load::for_docker(
            source, &name, &wanted, &platform,
        ))??;
        let mut archive = None;
        spinner.set(format!("docker: loading the {what} ({platform})"));
        let loaded = kind::load_image(&host, &tag, &prepared.ids, || {
            let file = tempfile::Builder::new()
                .prefix(".load-")
                .suffix(".tar")
                .tempfile_in(&scratch)
                .map_err(|e| BackendError::Host {
                    what: format!("the archive of the {what}"),
                    detail: format!("cannot be written in {} ({e})", scratch.display()),
                })?;
            let writer = std::io::BufWriter::new(file.as_file());
            crate::runtime::block_on_this_thread(prepared.write(source, &tag, writer))
                .map_err(|e| BackendError::Host {
                    what: format!("the archive of the {what}"),
                    detail: e.to_string(),
                })?
                .map_err(|e| BackendError::Host {
                    what: format!("the archive of the {what}"),
                    detail: e.to_string(),
                })?;
            let path = file.path().to_owned();
            archive = Some(file);
            Ok(path)
        })?;
        drop(archive);
        drop(spinner);
        let done = match loaded {
            kind::Loaded::Present => "already loaded",
            kind::Loaded::Loaded => {
                loaded_now.push(tag.clone());
                "loaded"
            }
        };
        line(
            out,
            "docker",
            &format!(
                "{what} {tag}: {done} ({platform}, {}, {})",
                crate::supply::store::human_size(prepared.bytes),
                seconds(phase)
            ),
        )?;
        if reference == kind::REGISTRY_IMAGE {
            plan.registry_image = tag;
        } else {
            plan.node_image = Some(tag);
        }
    }
    Ok(loaded_now)
}

/// Where a lab keeps the learner token it was started with.
pub fn token_path(workdir: &std::path::Path, chapter: &str) -> PathBuf {
    workdir.join(".lab").join(chapter).join("token.json")
}

/// Takes the learner token at `path` for this lab: its chapter must be this one, and a lab
/// started with another token keeps it (its images carry that token's nonce). The token is
/// kept beside the state for `lab submit`.
fn take_token(
    session: &Session,
    state: &mut LabState,
    path: &std::path::Path,
) -> Result<(), LabError> {
    let bytes = crate::input::read_bytes(path, 64 * 1024, "a learner token").map_err(|e| {
        LabError::Usage(format!(
            "{e}; --token names the file your instructor gave you"
        ))
    })?;
    let token = crate::submission::token::read_unverified(&bytes)
        .map_err(|e| LabError::Usage(format!("{}: {e}", path.display())))?;
    if let Some(chapter) = &token.chapter
        && *chapter != session.id()
    {
        return Err(LabError::Usage(format!(
            "{} is a token for chapter {}, not {}",
            path.display(),
            crate::text::printable(chapter),
            session.id()
        )));
    }
    if let Some(started) = &state.token
        && started.nonce != token.nonce
    {
        return Err(LabError::Usage(format!(
            "this lab was started with another token (for {}); its images carry that token's nonce. Start without --token to go on, or `lab stop {} --delete` first",
            started.learner,
            session.id()
        )));
    }
    let kept = token_path(&session.workdir, &session.id());
    if let Some(dir) = kept.parent() {
        std::fs::create_dir_all(dir).map_err(|source| LabError::Output {
            what: dir.display().to_string(),
            source,
        })?;
    }
    crate::atomic::write(&kept, &bytes).map_err(|source| LabError::Output {
        what: kept.display().to_string(),
        source,
    })?;
    state.token = Some(crate::backend::state::StartedToken {
        learner: token.learner,
        nonce: token.nonce,
    });
    Ok(())
}

/// The kind cluster and the registry, through the host seam; each phase recorded.
fn provision(
    session: &Session,
    state: &mut LabState,
    source: Option<&Source>,
    out: &mut impl Write,
) -> Result<String, LabError> {
    let mut plan = session.kind_plan()?;
    if let Some(source) = source {
        for tag in load_images(session, &mut plan, source, out)? {
            if !state.loaded_images.contains(&tag) {
                state.loaded_images.push(tag);
            }
        }
        state.chapter = session.id();
        state.save(&session.workdir)?;
    }
    let host = SystemHost;
    let phase = Instant::now();
    let spinner = Spinner::start(format!("registry: starting {}", plan.registry));
    let registry = kind::ensure_registry(&host, &plan)?;
    drop(spinner);
    if registry == kind::Done::Created {
        state.registry_container = Some(plan.registry.clone());
    }
    state.chapter = session.id();
    state.save(&session.workdir)?;
    line(
        out,
        "registry",
        &format!(
            "{} on 127.0.0.1:{}: {} ({})",
            plan.registry,
            plan.host_port,
            done(&registry),
            seconds(phase)
        ),
    )?;
    let phase = Instant::now();
    let spinner = Spinner::start(format!(
        "kind: creating cluster {} (the first time pulls the node image)",
        plan.cluster
    ));
    let cluster = kind::ensure_cluster(&host, &plan)?;
    drop(spinner);
    if cluster == kind::Done::Created {
        state.kind_cluster = Some(plan.cluster.clone());
    }
    state.context = plan.context();
    state.save(&session.workdir)?;
    line(
        out,
        "kind",
        &format!(
            "cluster {}: {} ({})",
            plan.cluster,
            done(&cluster),
            seconds(phase)
        ),
    )?;
    let spinner = Spinner::start("kind: pointing containerd at the lab registry");
    let nodes = kind::configure_nodes(&host, &plan)?;
    drop(spinner);
    line(
        out,
        "kind",
        &format!(
            "containerd reads the registry as localhost:{} and {} on {} node(s)",
            plan.host_port,
            plan.mirrors.join(", "),
            nodes.len()
        ),
    )?;
    if kind::connect_network(&host, &plan)? {
        line(
            out,
            "kind",
            &format!("{} joined the kind network", plan.registry),
        )?;
    }
    state.finish("kind");
    state.save(&session.workdir)?;
    Ok(plan.context())
}

fn done(what: &kind::Done) -> &'static str {
    match what {
        kind::Done::Created => "created",
        kind::Done::Reused => "already running",
        kind::Done::Restarted => "restarted",
    }
}

/// What must hold before anything is created.
fn preflight(session: &Session) -> Result<(), LabError> {
    let key_mode = session
        .values
        .get("signing_mode")
        .is_none_or(|m| m == "key");
    let has_key_variable = session
        .chapter
        .lab
        .variables
        .iter()
        .any(|v| v.name.value == "cosign_public_key");
    if key_mode && has_key_variable && !session.values.contains_key("cosign_public_key") {
        return Err(LabError::Usage(format!(
            "no cosign public key in {}: the policies trust your key, so create the pair first (`cosign generate-key-pair`; keep cosign.key private), or point to one with --set cosign_public_key=FILE; nothing was created",
            session.workdir.display()
        )));
    }
    Ok(())
}

fn line(out: &mut impl Write, phase: &str, text: &str) -> Result<(), LabError> {
    emit(out, &format!("  {phase:<10} {text}\n"))
}

fn seconds(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

async fn start(
    session: &Session,
    mut state: LabState,
    context: &str,
    kind: bool,
    request: &StartRequest,
    source: Option<&Source>,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let started = Instant::now();
    let id = session.id();
    let cluster = session.cluster(Some(context)).await?;
    if session.state.is_some() {
        emit(
            out,
            &format!(
                "lab {id}: resuming on context {context} (done before: {})\n",
                state.done.join(", ")
            ),
        )?;
    } else {
        emit(out, &format!("lab {id}: starting on context {context}\n"))?;
    }
    // Somebody's policy under a name of the pack stops the start before anything is created.
    let names = session.pack_names(
        &session
            .chapter
            .policy_objects(&session.values, FailureMode::Audit)?,
    );
    for name in &names {
        if let Some(live) = cluster.cluster_policy(name).await.map_err(observe)?
            && live
                .pointer("/metadata/labels")
                .and_then(|l| l.get(crate::backend::apply::LAB_LABEL))
                .and_then(Value::as_str)
                != Some(id.as_str())
        {
            return Err(BackendError::NotOurs(format!(
                "the cluster has a ClusterPolicy `{name}` that is not the lab's (no label {}={id}); lab {id} would replace it. Rename or remove it if it is yours to change, or run the lab on a cluster of its own; nothing was created",
                crate::backend::apply::LAB_LABEL
            ))
            .into());
        }
    }
    state.context = cluster.context.clone();
    state.set = session.set.clone();
    state.save(&session.workdir)?;
    if kind {
        let mut hosting = local_registry_hosting(session)?;
        label(&mut hosting, &id);
        let reference = cluster.apply(&hosting, request.timeout).await?;
        state.own(reference);
        line(
            out,
            "kind",
            "ConfigMap kube-public/local-registry-hosting applied (KEP-1755)",
        )?;
    }

    kyverno(session, &cluster, request, source, out).await?;
    state.finish("kyverno");
    state.save(&session.workdir)?;

    let phase = Instant::now();
    seed_registry(session, request, source, &mut state, out).await?;
    state.finish("registry");
    state.save(&session.workdir)?;
    line(out, "", &format!("registry ready in {}", seconds(phase)))?;

    let manifests = manifests(session)?;
    let (namespaces, workloads): (Vec<Value>, Vec<Value>) = manifests
        .into_iter()
        .partition(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"));
    for mut ns in namespaces {
        label(&mut ns, &id);
        let reference = object_ref(&ns);
        let live = cluster.get(&reference).await?;
        if live
            .as_ref()
            .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
        {
            line(
                out,
                "namespace",
                &format!(
                    "{} is being deleted; waiting until it is gone",
                    reference.name
                ),
            )?;
            let spinner =
                Spinner::start(format!("namespace: waiting for {} to go", reference.name));
            cluster.wait_gone(&reference, request.timeout).await?;
            drop(spinner);
        } else if live.is_some_and(|n| !is_labs(&n, &id)) && !state.objects.contains(&reference) {
            // Somebody's own namespace: the lab works in it, and never labels or deletes it.
            line(
                out,
                "namespace",
                &format!(
                    "{} exists and is not the lab's: used as it is, and left in place by `lab stop`",
                    reference.name
                ),
            )?;
            continue;
        }
        let reference = cluster.apply(&ns, request.timeout).await?;
        line(out, "namespace", &format!("{} applied", reference.name))?;
        state.own(reference);
    }
    state.finish("namespaces");
    state.save(&session.workdir)?;

    let phase = Instant::now();
    policies(session, &cluster, request, &mut state, out).await?;
    state.finish("policies");
    state.save(&session.workdir)?;
    line(out, "", &format!("policies served in {}", seconds(phase)))?;

    for mut object in workloads {
        label(&mut object, &id);
        let reference = object_ref(&object);
        let what = format!(
            "{} {}/{}",
            reference.kind,
            reference.namespace.as_deref().unwrap_or(""),
            reference.name
        );
        match cluster.owned_by_lab(&reference, &id).await? {
            Some(_) => line(out, "workload", &format!("{what} present (left as it is)"))?,
            None => {
                let reference = cluster.apply(&object, request.timeout).await?;
                line(out, "workload", &format!("{what} created"))?;
                state.own(reference);
            }
        }
    }
    state.finish("workloads");
    state.save(&session.workdir)?;
    let steps = session.chapter.lab.step_ids();
    let next = crate::record::Progress::load(&session.workdir, &id)
        .ok()
        .and_then(|p| p.current(&steps).map(str::to_owned));
    let next = match next {
        Some(step) => format!("Next: step `{step}` (`lab walkthrough {id}` guides you)"),
        None => format!("Every step is done: `lab status {id} --done-when`"),
    };
    emit(
        out,
        &format!(
            "lab {id} is ready ({}, {}). {next}\n",
            state.mode,
            seconds(started)
        ),
    )?;
    Ok(exit_code::SUCCESS)
}

/// Kyverno's chart from `source`, written beside the lab's state for helm, and its images
/// copied into the lab registry; returns the chart file and the `--set` values that point the
/// chart's images there.
async fn kyverno_from(
    session: &Session,
    source: &Source,
    out: &mut impl Write,
) -> Result<(tempfile::NamedTempFile, Vec<String>), LabError> {
    let lab = &session.chapter.lab;
    let plan = session.kind_plan()?;
    let phase = Instant::now();
    let version = &lab.kyverno.chart;
    let spinner = Spinner::start(format!(
        "kyverno: reading chart {version} from {}",
        source.describe()
    ));
    let tgz = load::chart_archive(source, version).await?;
    let chart = crate::bundle::kyverno::read_chart(&tgz, "kyverno").map_err(|reason| {
        crate::bundle::BundleError::Chart {
            reference: format!("{}:{version}", crate::bundle::kyverno::CHART_REPOSITORY),
            reason,
        }
    })?;
    let scratch = session.workdir.join(".lab").join(session.id());
    std::fs::create_dir_all(&scratch).map_err(|source| LabError::Output {
        what: scratch.display().to_string(),
        source,
    })?;
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".kyverno-{}-", chart.version))
        .suffix(".tgz")
        .tempfile_in(&scratch)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &tgz).map(|()| f))
        .map_err(|source| LabError::Output {
            what: format!("Kyverno's chart in {}", scratch.display()),
            source,
        })?;
    std::io::Write::flush(&mut file).map_err(|source| LabError::Output {
        what: format!("Kyverno's chart in {}", scratch.display()),
        source,
    })?;
    // The registry container publishes its port on 127.0.0.1 only.
    let lab_host = format!("127.0.0.1:{}", plan.host_port);
    let images: Vec<String> = chart.images.values().cloned().collect();
    let filled = load::fill_kyverno(source, &images, &lab_host, &mut |image: &str| {
        spinner.set(format!("registry: copying {image}"))
    })
    .await?;
    drop(spinner);
    for f in &filled {
        let done = match f.copied {
            load::Copied::Present => "present".to_owned(),
            load::Copied::Pushed { manifests, blobs } => {
                format!("copied ({manifests} manifest(s), {blobs} blob(s))")
            }
        };
        line(
            out,
            "registry",
            &format!("{} {done}, {} cosign artifact(s) with it", f.to, f.cosign),
        )?;
    }
    let inside = plan
        .mirrors
        .first()
        .cloned()
        .unwrap_or_else(|| format!("{}:{}", plan.registry, plan.registry_port));
    line(
        out,
        "kyverno",
        &format!(
            "chart {} from {}; its {} images from the lab registry as {inside} ({})",
            chart.version,
            source.describe(),
            filled.len(),
            seconds(phase)
        ),
    )?;
    let mut sets = lab.kyverno.helm_set.clone();
    sets.extend(load::chart_values(&inside));
    Ok((file, sets))
}

async fn kyverno(
    session: &Session,
    cluster: &KubeCluster,
    request: &StartRequest,
    source: Option<&Source>,
    out: &mut impl Write,
) -> Result<(), LabError> {
    let pinned = &session.chapter.lab.kyverno.version.value;
    if request.kyverno == KyvernoSource::Install {
        let lab = &session.chapter.lab;
        let (file, sets) = match source {
            Some(source) => {
                let (file, sets) = kyverno_from(session, source, out).await?;
                (Some(file), sets)
            }
            None => (None, lab.kyverno.helm_set.clone()),
        };
        let phase = Instant::now();
        let context = cluster.context.clone();
        let chart = lab.kyverno.chart.clone();
        let path = file.as_ref().map(|f| f.path().display().to_string());
        let spinner = Spinner::start(format!("kyverno: installing chart {chart} with helm"));
        let installed = tokio::task::spawn_blocking(move || {
            let from = match &path {
                Some(path) => kind::Chart::File(path),
                None => kind::Chart::Repository,
            };
            kind::install_kyverno(&SystemHost, &context, from, &chart, &sets)
        })
        .await
        .map_err(|e| BackendError::Host {
            what: "helm install".into(),
            detail: format!("the call did not finish ({e}); run `lab start` again"),
        })??;
        spinner.set("kyverno: waiting for its controllers and webhooks");
        cluster.wait_kyverno(request.timeout).await?;
        drop(spinner);
        let what = if installed {
            "installed"
        } else {
            "already installed"
        };
        return line(
            out,
            "kyverno",
            &format!(
                "{pinned} (chart {}) {what}; its controllers are available and its webhooks registered ({})",
                lab.kyverno.chart,
                seconds(phase)
            ),
        );
    }
    match cluster.kyverno_version().await? {
        Some(found) if found.trim_start_matches('v') != pinned.trim_start_matches('v') => {
            Err(BackendError::Kyverno(format!(
                "the cluster runs Kyverno {found}, but lab {} is written for {pinned}; upgrade it, or run `lab start` without --kyverno existing on a cluster of its own",
                session.id()
            ))
            .into())
        }
        Some(found) => line(out, "kyverno", &format!("{found} already in the cluster")),
        None => line(
            out,
            "kyverno",
            &format!("already in the cluster (its version could not be read: no admission-controller Deployment; the lab expects {pinned})"),
        ),
    }
}

async fn seed_registry(
    session: &Session,
    request: &StartRequest,
    source: Option<&Source>,
    state: &mut LabState,
    out: &mut impl Write,
) -> Result<(), LabError> {
    let lab = &session.chapter.lab;
    if lab.cluster.seed.is_empty() {
        return Ok(());
    }
    let arch = seed::host_arch();
    let spinner = Spinner::start("registry: reading the base image");
    let base = match (&request.base_image_layout, source, &lab.cluster.base_image) {
        (Some(dir), _, _) => seed::base_from_layout(dir, arch).await?,
        (None, Some(source), Some(image)) => {
            let reference = crate::supply::ImageRef::parse(&image.value)
                .map_err(|e| LabError::Usage(format!("the base image `{}`: {e}", image.value)))?;
            seed::export(source, &reference, arch).await?
        }
        (None, None, Some(image)) => seed::base_from_registry(&image.value, arch).await?,
        (None, _, None) => {
            return Err(LabError::Usage(format!(
                "{} seeds images but names no base_image; pass --base-image-layout DIR",
                session.chapter.shown(&session.chapter.lab_file)
            )));
        }
    };
    drop(spinner);
    let push_registry = session.values.get("push_registry").ok_or_else(|| {
        LabError::Usage(
            "the lab has no `push_registry` variable to seed the registry through".into(),
        )
    })?;
    for image in &lab.cluster.seed {
        let nonce = state.token.as_ref().map(|t| t.nonce.as_str());
        let derived = seed::derive(&base, &image.build, nonce)?;
        let target = format!("{push_registry}/{}", image.image.value);
        let spinner = Spinner::start(format!("registry: pushing {}", image.image.value));
        let pushed = seed::push_once(&target, &derived).await?;
        drop(spinner);
        // What the tag names now is what the learner's commands resolve: their digest value.
        let (text, digest) = match pushed {
            Seeded::Pushed(d) => {
                state.seeded.retain(|s| *s != target);
                state.seeded.push(target.clone());
                (format!("{} pushed ({d})", image.image.value), d)
            }
            Seeded::Present(d) => (format!("{} present ({d})", image.image.value), d),
            Seeded::Kept { found, .. } => (
                format!(
                    "{} left as it is: the tag points at {found}, which lab did not push",
                    image.image.value
                ),
                found,
            ),
        };
        state
            .digests
            .insert(image.image.value.clone(), digest.to_string());
        line(out, "registry", &text)?;
    }
    Ok(())
}

/// The KEP-1755 ConfigMap that tells tools where the lab registry is, from outside the
/// cluster, from pods, and for image fields.
fn local_registry_hosting(session: &Session) -> Result<Value, LabError> {
    let spec = &session.chapter.lab.cluster.registry;
    let inside = spec.mirrors.first().map_or_else(
        || format!("{}:{}", spec.name, spec.port),
        |m| m.value.clone(),
    );
    let hosting = format!(
        "host: \"localhost:{}\"\nhostFromClusterNetwork: \"{inside}\"\nhostFromContainerRuntime: \"{inside}\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n",
        spec.host_port
    );
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {"localRegistryHosting.v1": hosting}
    }))
}

/// The lab's manifests, rendered.
fn manifests(session: &Session) -> Result<Vec<Value>, LabError> {
    let mut objects = Vec::new();
    for rel in &session.chapter.lab.manifests {
        let rel = session.chapter.resolve(&rel.value.0)?;
        objects.extend(session.chapter.resources(&rel, &session.values)?);
    }
    Ok(objects)
}

async fn policies(
    session: &Session,
    cluster: &KubeCluster,
    request: &StartRequest,
    state: &mut LabState,
    out: &mut impl Write,
) -> Result<(), LabError> {
    let id = session.id();
    // The mode the pack is in now (the learner may have switched it by hand), else the state's.
    let names = session.pack_names(
        &session
            .chapter
            .policy_objects(&session.values, FailureMode::Audit)?,
    );
    let mut live = BTreeMap::new();
    for name in &names {
        if let Some(policy) = cluster.cluster_policy(name).await.map_err(observe)? {
            live.insert(name.clone(), policy);
        }
    }
    let mut modes: Vec<FailureMode> = live.values().flat_map(live_entry_actions).collect();
    modes.sort();
    modes.dedup();
    let mode = match modes.as_slice() {
        [only] => *only,
        _ => state.mode,
    };
    let pack = session.chapter.policy_objects(&session.values, mode)?;
    let mut applied = Vec::new();
    for mut policy in pack {
        let name = object_ref(&policy).name;
        label(&mut policy, &id);
        if let Some(existing) = live.get(&name) {
            let changes = drift(
                policy.get("spec").unwrap_or(&Value::Null),
                existing.get("spec").unwrap_or(&Value::Null),
            );
            let text = if changes.is_empty() {
                format!("{name} present ({})", joined(&live_entry_actions(existing)))
            } else {
                // Re-rendered from the lab's values now (a new key, say), in the mode it is in.
                let reference = cluster.replace_or_apply(&policy, request.timeout).await?;
                state.own(reference);
                format!("{name} restored to the lab's pack: {}", changes.join("; "))
            };
            line(out, "policy", &text)?;
            continue;
        }
        let reference = cluster.apply(&policy, request.timeout).await?;
        state.own(reference);
        applied.push(name);
    }
    if !applied.is_empty() {
        line(
            out,
            "policy",
            &format!("{} applied in {}", applied.join(", "), state.mode),
        )?;
    }
    let spinner = Spinner::start("policies: waiting until Kyverno reports them Ready");
    cluster.wait_policies_ready(&names, request.timeout).await?;
    // The mode the policies are in now: the learner may have switched them since.
    let mut live = Vec::new();
    for name in &names {
        if let Some(policy) = cluster.cluster_policy(name).await.map_err(observe)? {
            live.extend(live_entry_actions(&policy));
        }
    }
    live.dedup();
    let Some(probe) = session.probe()? else {
        return Ok(());
    };
    spinner.set("policies: probing the webhook with a dry-run Pod");
    match live.as_slice() {
        [only] => {
            let enforce = *only == FailureMode::Enforce;
            cluster
                .probe_mode(&probe, &names, enforce, request.timeout)
                .await?;
            drop(spinner);
            state.mode = *only;
            line(
                out,
                "policy",
                &format!("Ready in {only}, and the webhook serves them (dry-run probe)"),
            )?;
        }
        _ => {
            drop(spinner);
            line(
                out,
                "policy",
                &format!(
                    "Ready, in mixed modes ({}); run `lab enforce` or `lab audit`",
                    joined(&live)
                ),
            )?
        }
    }
    Ok(())
}

fn observe(e: crate::engine::ObserveError) -> LabError {
    LabError::Backend(BackendError::Unreachable {
        what: "the cluster".into(),
        reason: e.to_string(),
    })
}

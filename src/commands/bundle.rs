//! `lab bundle create`: a venue bundle made from the publishers' registries; `lab bundle
//! verify`: one checked file by file against its manifest.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Config;
use crate::backend::host::SystemHost;
use crate::bundle::create::{Copier, collect, needs};
use crate::bundle::layout::Staging;
use crate::bundle::signed::{Cosign, Trust};
use crate::bundle::{self, MANIFEST_FILE, Manifest, SCHEMA_VERSION};
use crate::content::chapter::Chapter;
use crate::error::LabError;
use crate::exit_code;
use crate::supply::registry::Retry;
use crate::supply::store::human_size;
use crate::text::printable;

/// What `lab bundle create` was asked.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The chapter id or alias.
    pub chapter: String,
    /// Where to write the bundle (`<lab>.bundle.tar` in the current folder by default).
    pub output: Option<PathBuf>,
    /// Replace an existing file.
    pub force: bool,
    /// Publisher registries reached through others (`docker.io` -> `127.0.0.1:5000`).
    pub mirrors: BTreeMap<String, String>,
    /// How Kyverno's signatures are checked.
    pub trust: Trust,
}

/// What `lab bundle serve` was asked.
#[derive(Debug, Clone)]
pub struct ServeRequest {
    /// The bundle.
    pub file: PathBuf,
    /// Where to listen.
    pub listen: String,
    /// Connections served at once.
    pub connections: usize,
}

/// Serves the bundle until interrupted: exit 0 stopped by Ctrl-C; 4 the bundle is not what its
/// manifest says; 2 it cannot be read or the address cannot be listened on.
pub fn serve(request: &ServeRequest, out: &mut impl Write) -> Result<u8, LabError> {
    use crate::bundle::serve::{Limits, Registry, serve};
    let registry = std::sync::Arc::new(Registry::open(&request.file)?);
    let limits = Limits {
        connections: request.connections,
        ..Limits::default()
    };
    let served = crate::runtime::block_on(async {
        let listener = crate::bundle::serve::listen(&request.listen)
            .await
            .map_err(|e| {
                LabError::Usage(format!(
                    "cannot listen on {}: {e}; pass --listen HOST:PORT with a free port",
                    printable(&request.listen)
                ))
            })?;
        let address = listener.local_addr().map_err(|e| {
            LabError::Usage(format!(
                "cannot listen on {}: {e}",
                printable(&request.listen)
            ))
        })?;
        let manifest = &registry.verified.manifest;
        let mut banner = format!(
            "serving the {} bundle {} ({} files, {}, every file verified) read-only on http://{address}\n",
            printable(&manifest.lab),
            request.file.display(),
            registry.verified.files,
            human_size(registry.verified.bytes),
        );
        for name in crate::bundle::serve::names(&registry) {
            banner.push_str(&format!("  {}\n", printable(&name)));
        }
        banner.push_str(&format!(
            "pull an image as {address}/<its name above>, or make this a containerd mirror of its registries (server = \"http://{address}\"); Ctrl-C stops it\n"
        ));
        out.write_all(banner.as_bytes())
            .and_then(|()| out.flush())
            .map_err(output_error)?;
        // The server runs until Ctrl-C (or SIGTERM): that is how it is meant to stop, so the
        // interruption is its normal end, not an error.
        let _interrupted = crate::runtime::until_interrupted(serve(
            std::sync::Arc::clone(&registry),
            listener,
            limits,
            std::future::pending(),
        ))
        .await;
        Ok::<(), LabError>(())
    })?;
    served?;
    let _ = writeln!(out, "stopped");
    Ok(exit_code::SUCCESS)
}

/// Makes the bundle: exit 0 written; 4 a Kyverno signature did not verify or a registry's
/// answer was not what it said; 3 a registry could not be reached; 5 the file not written.
pub fn create(
    config: &Config,
    request: &CreateRequest,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let course = super::ChapterCourse::open(config.course.as_deref(), false)?;
    let chapter = Chapter::find(course.files, &request.chapter)?;
    super::require_valid(&chapter.files, &chapter.lab_file, config.color, |_| false)?;
    let lab = &chapter.lab;
    let needs = lab_needs(&chapter)?;
    let id = lab.id.value.to_string();
    let output = request
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{id}.bundle.tar")));
    if output.exists() && !request.force {
        return Err(LabError::Usage(format!(
            "{} exists already; pass --force to replace it, or -o to write elsewhere",
            output.display()
        )));
    }
    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let write_error = |path: &Path, e: std::io::Error| bundle::BundleError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let cosign = Cosign::find(&SystemHost, request.trust.clone())?;
    // Everything is staged beside the output (one file system, so the last step is a rename)
    // and removed whatever happens.
    let staging_dir = tempfile::Builder::new()
        .prefix(".lab-bundle-")
        .tempdir_in(&folder)
        .map_err(|e| write_error(&folder, e))?;
    let mut staging = Staging::create(staging_dir.path())?;
    let mut copier = Copier::new(request.mirrors.clone(), Retry::default());
    writeln!(out, "bundle: {id}, from the publishers' registries").map_err(output_error)?;
    let mut progress = |step: &str| {
        let _ = writeln!(out, "  copying {}", printable(step));
    };
    // Ctrl-C stops the copy, and the staging folder is removed on the way out.
    let contents = crate::runtime::block_on(crate::runtime::until_interrupted(collect(
        &mut copier,
        &mut staging,
        &cosign,
        &needs,
        &mut progress,
    )))?
    .map_err(|_| LabError::Interrupted)??;
    let partial = tempfile::Builder::new()
        .prefix(".lab-bundle-")
        .suffix(".tar.partial")
        .tempfile_in(&folder)
        .map_err(|e| write_error(&folder, e))?;
    let template = Manifest {
        schema_version: SCHEMA_VERSION,
        lab: id.clone(),
        images: contents.images,
        charts: contents.charts,
        files: BTreeMap::new(),
    };
    let writer = std::io::BufWriter::with_capacity(1 << 20, partial.as_file());
    let manifest = bundle::pack::pack_with(staging.root(), template, writer, &output)?;
    partial
        .as_file()
        .sync_all()
        .map_err(|e| write_error(&output, e))?;
    let persisted = if request.force {
        partial.persist(&output)
    } else {
        partial.persist_noclobber(&output)
    };
    persisted.map_err(|e| write_error(&output, e.error))?;
    drop(staging_dir);
    out.write_all(summary(&manifest, &output).as_bytes())
        .map_err(output_error)?;
    Ok(exit_code::SUCCESS)
}

/// What the chapter's lab downloads when it starts: its kind config's node images, its base
/// image, its Kyverno chart.
pub(crate) fn lab_needs(chapter: &Chapter) -> Result<bundle::create::Needs, LabError> {
    let lab = &chapter.lab;
    let kind_config = chapter.resolve(&lab.cluster.kind_config.value.0)?;
    needs(
        chapter.text(&kind_config)?,
        &chapter.shown(&kind_config),
        lab.cluster.base_image.as_ref().map(|b| b.value.as_str()),
        &lab.kyverno.chart,
    )
    .map_err(LabError::Usage)
}

fn output_error(source: std::io::Error) -> LabError {
    LabError::Output {
        what: "the report".into(),
        source,
    }
}

/// What the bundle holds, as the person who made it reads it.
fn summary(manifest: &Manifest, output: &Path) -> String {
    let mut text = String::new();
    for chart in &manifest.charts {
        text.push_str(&format!(
            "  chart {} {} ({}), {} image(s){}\n",
            printable(&chart.name),
            printable(&chart.version),
            short(&chart.digest),
            chart.images.len(),
            verified_words(chart.verified.as_ref()),
        ));
    }
    for image in &manifest.images {
        text.push_str(&format!(
            "  {} {} ({}){}{}\n",
            image.role.describe(),
            printable(&image.reference),
            short(&image.digest),
            match image.cosign.len() {
                0 => String::new(),
                n => format!(", {n} cosign artifact(s)"),
            },
            verified_words(image.verified.as_ref()),
        ));
    }
    text.push_str(&format!(
        "bundle: wrote {} ({} files, {}); check a copy with `lab bundle verify {}`\n",
        output.display(),
        manifest.files.len(),
        human_size(manifest.total_size()),
        output.display(),
    ));
    text
}

fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

fn verified_words(verified: Option<&bundle::manifest::Verification>) -> String {
    match verified {
        None => String::new(),
        Some(v) if v.skipped.is_empty() => format!(", signature verified by {}", printable(&v.by)),
        Some(v) => format!(
            ", signature verified by {} without the {} check",
            printable(&v.by),
            v.skipped.join(" and ")
        ),
    }
}

/// What `lab bundle verify` was asked.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The bundle.
    pub file: PathBuf,
    /// JSON output.
    pub json: bool,
}

/// The `lab bundle verify --json` document.
#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    bundle: String,
    lab: &'a str,
    files: usize,
    bytes: u64,
    verified: bool,
    problems: Vec<String>,
}

/// Verifies the bundle and says so: exit 0 when every file is as listed, 4 when one is not.
pub fn verify(request: &VerifyRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let verified = bundle::verify(&request.file)?;
    let shown = printable(&request.file.display().to_string()).into_owned();
    let lab = printable(&verified.manifest.lab);
    let ok = verified.problems.is_empty();
    let text = if request.json {
        let report = Report {
            schema_version: 1,
            bundle: shown,
            lab: &lab,
            files: verified.files,
            bytes: verified.bytes,
            verified: ok,
            problems: verified.problems.iter().map(ToString::to_string).collect(),
        };
        serde_json::to_string_pretty(&report).expect("a report serializes") + "\n"
    } else if ok {
        format!(
            "{shown}: a bundle for {lab}, {} files ({}): every file is as {MANIFEST_FILE} lists it\n",
            verified.files,
            crate::supply::store::human_size(verified.bytes)
        )
    } else {
        let mut text = format!(
            "{shown}: a bundle for {lab}, {} files ({}), and {} problem(s): it is not what its {MANIFEST_FILE} says\n",
            verified.files,
            crate::supply::store::human_size(verified.bytes),
            verified.problems.len()
        );
        for problem in &verified.problems {
            text.push_str(&format!("  {problem}\n"));
        }
        text.push_str("do not use it: copy the bundle again from where it was made\n");
        text
    };
    out.write_all(text.as_bytes())
        .map_err(|source| LabError::Output {
            what: "the report".into(),
            source,
        })?;
    Ok(if ok {
        exit_code::SUCCESS
    } else {
        exit_code::VERIFICATION_FAILED
    })
}

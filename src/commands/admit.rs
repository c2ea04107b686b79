//! `lab admit -f RESOURCE`: what Kyverno would do with a manifest, and why: the verdict, the
//! denial text, the digest patches and the report results, for every document of the file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Config;
use super::emit;
use crate::content::chapter::Chapter;
use crate::content::files::Selection;
use crate::content::load::FileKind;
use crate::content::model::FailureMode;
use crate::content::validate::validate;
use crate::content::yaml;
use crate::content::{CourseFiles, Severity};
use crate::error::LabError;
use crate::exit_code;
use crate::input;
use crate::policy::autogen::generated_rules;
use crate::policy::evaluate::{
    AdmissionResult, VerifyCache, evaluate_cached, images_to_fetch, repositories_to_fetch,
};
use crate::policy::fetch::{Fetched, ImageSource, fetch_with};
use crate::policy::kyverno_config::KyvernoConfig;
use crate::policy::matching::{Request, default_namespace, metadata_map};
use crate::policy::model::KyvernoPolicy;
use crate::policy::render::substitute;
use crate::report;
use crate::report::admit::{GeneratedRule, PolicyAutogen};
use crate::suite::SuiteError;
use crate::suite::prepare::resource_id;

/// Where the policies come from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// A chapter's policy pack, rendered in a mode.
    Chapter {
        /// Chapter id or alias.
        id: String,
        /// The rollout mode.
        mode: FailureMode,
    },
    /// Policy files, used as written (placeholders filled from `--set`).
    Files(Vec<PathBuf>),
}

/// What `lab admit` was asked to do.
#[derive(Debug, Clone)]
pub struct AdmitRequest {
    /// The manifest file (`-` for standard input).
    pub file: PathBuf,
    /// The policies.
    pub policies: PolicySource,
    /// Variable values.
    pub set: Vec<(String, String)>,
    /// Read images from the OCI layouts in this folder (one per repository name).
    pub layouts: Option<PathBuf>,
    /// Allow plain HTTP registries.
    pub insecure: bool,
    /// Kyverno's ConfigMap (none: the chart's defaults).
    pub kyverno_config: Option<PathBuf>,
    /// Whether Kyverno's image verification cache is on (the chart's default).
    pub verify_cache: bool,
    /// JSON output.
    pub json: bool,
}

/// The policies, the values their placeholders were filled with, and the chapter's lab id
/// when they are a chapter's.
type Policies = (Vec<KyvernoPolicy>, BTreeMap<String, String>, Option<String>);

fn read_policies(config: &Config, request: &AdmitRequest) -> Result<Policies, LabError> {
    match &request.policies {
        PolicySource::Chapter { id, mode } => {
            let course = super::ChapterCourse::open(config.course.as_deref(), false)?;
            let chapter = Chapter::find(course.files, id)?;
            super::require_valid(&chapter.files, &chapter.lab_file, config.color, |_| false)?;
            let values = chapter.values(false, &request.set)?;
            let signing_mode = values.get("signing_mode").cloned();
            let mut policies = Vec::new();
            for policy in &chapter.lab.policies {
                if let (Some(wanted), Some(mode)) = (&policy.signing_mode, &signing_mode)
                    && wanted.value != *mode
                {
                    continue;
                }
                let rel = crate::content::paths::resolve(&chapter.lab_file, &policy.file.0)
                    .map_err(|problem| {
                        LabError::Usage(format!(
                            "{}: {}",
                            chapter.shown(&chapter.lab_file),
                            problem.explained()
                        ))
                    })?;
                policies.extend(chapter.render_policies(&rel, &values, Some(*mode))?);
            }
            Ok((policies, values, Some(chapter.lab.id.value.0.clone())))
        }
        PolicySource::Files(paths) => {
            let mut values = BTreeMap::new();
            for (name, value) in &request.set {
                let value = match value.strip_prefix('@') {
                    Some(file) => {
                        input::read_text(Path::new(file), input::limit::KEY, "a --set @FILE value")
                            .map_err(|e| LabError::Usage(format!("--set {name}=@{file}: {e}")))?
                            .trim_end()
                            .to_owned()
                    }
                    None => value.clone(),
                };
                values.insert(name.clone(), value);
            }
            let mut policies = Vec::new();
            for path in paths {
                let text = input::read_text(path, input::limit::MANIFEST, "a policy file")
                    .map_err(|e| LabError::Usage(format!("--policy: {e}")))?;
                let shown = path.display().to_string();
                // Checked with each multi-line value cut to its first line, so that problems are
                // reported at the lines of the file as written.
                let one_line: BTreeMap<String, String> = values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.lines().next().unwrap_or("").to_owned()))
                    .collect();
                let as_written =
                    substitute(&shown, &text, &one_line).map_err(|e| LabError::Suite(e.into()))?;
                refuse_what_kyverno_refuses(&shown, &as_written)?;
                let text =
                    substitute(&shown, &text, &values).map_err(|e| LabError::Suite(e.into()))?;
                let docs: Vec<KyvernoPolicy> = documents(&shown, &text, FileKind::Policies)?;
                if docs.is_empty() {
                    return Err(LabError::Usage(format!(
                        "{shown} holds no Kyverno policy (it is empty, or only comments); give a file with a ClusterPolicy or Policy"
                    )));
                }
                policies.extend(docs);
            }
            Ok((policies, values, None))
        }
    }
}

/// A policy file given with `--policy` is checked as `lab validate` checks a lone file, after
/// its placeholders are filled: a policy Kyverno would refuse to install (e.g. Audit with
/// `mutateDigest` left on) never reaches admission, so evaluating it would show a verdict no
/// cluster gives. Warnings are left to `lab validate`.
fn refuse_what_kyverno_refuses(shown: &str, text: &str) -> Result<(), LabError> {
    let mut files = CourseFiles::empty("");
    files.insert_text(shown, text.to_owned());
    let report = validate(&files, &Selection::File(shown.to_owned()));
    let errors: Vec<_> = report
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LabError::Suite(SuiteError::Invalid(errors)))
    }
}

/// The labels of the namespaces the documents live in, as the cluster would have them: a
/// `Namespace` document among them stands for its namespace (its labels feed
/// `namespaceSelector`s and `validationFailureActionOverrides`); any other namespace has only
/// `kubernetes.io/metadata.name: <name>`, which the API server gives every namespace (and so
/// does the Namespace document's).
pub fn namespace_labels(objects: &[Value]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .filter_map(|o| {
            let name = o.pointer("/metadata/name")?.as_str()?.to_owned();
            let mut labels = metadata_map(o, "labels");
            labels.insert("kubernetes.io/metadata.name".into(), name.clone());
            Some((name, labels))
        })
        .collect();
    for ns in objects
        .iter()
        .filter_map(|o| o.pointer("/metadata/namespace").and_then(Value::as_str))
    {
        out.entry(ns.to_owned()).or_insert_with(|| {
            BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), ns.to_owned())])
        });
    }
    out
}

/// Reads the manifest of `-f` (or standard input), fills its placeholders, and returns its
/// documents, each with a `kind` and a namespace as the API server would give them.
fn read_objects(
    request: &AdmitRequest,
    values: &BTreeMap<String, String>,
) -> Result<Vec<Value>, LabError> {
    let text = if request.file.as_os_str() == "-" {
        input::read_stdin_text(input::limit::MANIFEST, "a manifest")
    } else {
        input::read_text(&request.file, input::limit::MANIFEST, "a manifest")
    }
    .map_err(|e| LabError::Usage(format!("-f: {e}")))?;
    let shown = request.file.display().to_string();
    let text = if text.contains("${") {
        substitute(&shown, &text, values).map_err(|e| LabError::Suite(e.into()))?
    } else {
        text
    };
    let objects: Vec<Value> = documents::<Value>(&shown, &text, FileKind::Manifests)?
        .into_iter()
        .filter(|v: &Value| !v.is_null())
        .map(|mut v| {
            default_namespace(&mut v);
            v
        })
        .collect();
    if objects.is_empty() {
        return Err(LabError::Usage(format!("{shown} holds no document")));
    }
    if let Some(object) = objects.iter().find(|o| !o["kind"].is_string()) {
        return Err(LabError::Usage(format!(
            "{shown}: every document needs `kind:` (found {})",
            resource_id(object)
        )));
    }
    Ok(objects)
}

/// The YAML documents of `text` (the file `shown`, of `kind`); one that does not parse is
/// reported at its line.
fn documents<T: serde::de::DeserializeOwned>(
    shown: &str,
    text: &str,
    kind: FileKind,
) -> Result<Vec<T>, LabError> {
    yaml::from_multiple(text)
        .map_err(|e| SuiteError::Invalid(vec![yaml::to_diagnostic(shown, text, &e, kind)]).into())
}

/// Kyverno's configuration for lab `lab_id`: when that lab is started in this working folder,
/// the ConfigMap `kyverno/kyverno` of the lab's cluster; else (or when the cluster cannot be
/// read, which the configuration's name then says) the chart's defaults.
#[cfg(feature = "live")]
fn live_kyverno_config(lab_id: &str) -> Result<KyvernoConfig, LabError> {
    let workdir = super::session::working_folder()?;
    let Ok(Some(state)) = crate::backend::state::LabState::load(&workdir, lab_id) else {
        return Ok(KyvernoConfig::chart_default());
    };
    let context = state.context.clone();
    let read = async {
        let cluster = crate::backend::cluster::KubeCluster::connect(Some(&context)).await?;
        cluster.config_map("kyverno", "kyverno").await
    };
    let source = format!("the ConfigMap kyverno/kyverno of the lab's cluster (context {context})");
    let mut fallback = KyvernoConfig::chart_default();
    match crate::runtime::block_on(read)? {
        Ok(Some(configmap)) => KyvernoConfig::from_configmap(&configmap, &source)
            .map_err(|e| LabError::Usage(e.to_string())),
        Ok(None) => {
            fallback.source = format!(
                "the defaults of Kyverno's chart 3.9.0 (the lab's cluster, context {context}, has no ConfigMap kyverno/kyverno)"
            );
            Ok(fallback)
        }
        Err(e) => {
            fallback.source = format!(
                "the defaults of Kyverno's chart 3.9.0 (the lab's cluster could not be read: {e})"
            );
            Ok(fallback)
        }
    }
}

/// Without the live lab, no cluster is read: the chart's defaults.
#[cfg(not(feature = "live"))]
fn live_kyverno_config(_lab_id: &str) -> Result<KyvernoConfig, LabError> {
    Ok(KyvernoConfig::chart_default())
}

/// Kyverno's configuration: the ConfigMap at `path`.
fn read_kyverno_config(path: &Path) -> Result<KyvernoConfig, LabError> {
    let shown = path.display().to_string();
    let text = input::read_text(path, input::limit::MANIFEST, "Kyverno's ConfigMap")
        .map_err(|e| LabError::Usage(format!("--kyverno-config: {e}")))?;
    let docs: Vec<Value> = documents(&shown, &text, FileKind::Manifests)?;
    let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    let [configmap] = docs.as_slice() else {
        return Err(LabError::Usage(format!(
            "--kyverno-config {shown} holds {} documents; give the one ConfigMap `kubectl -n kyverno get configmap kyverno -o yaml` prints",
            docs.len()
        )));
    };
    KyvernoConfig::from_configmap(configmap, &shown)
        .map_err(|e| LabError::Usage(format!("--kyverno-config {e}")))
}

/// Runs the request: exit 0 when every document is admitted, 1 when one is denied, 3 when a
/// registry could not be reached, 8 when one could not be decided offline and none was denied.
pub fn run(config: &Config, request: &AdmitRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let (policies, values, lab_id) = read_policies(config, request)?;
    let kyverno = match (&request.kyverno_config, &lab_id) {
        (Some(path), _) => read_kyverno_config(path)?,
        (None, Some(lab_id)) => live_kyverno_config(lab_id)?,
        (None, None) => KyvernoConfig::chart_default(),
    };
    let objects = read_objects(request, &values)?;
    let namespaces = namespace_labels(&objects);
    let mut images = Vec::new();
    let mut elsewhere = Vec::new();
    for object in &objects {
        let request = Request::create(object, &namespaces);
        if kyverno.left_out(&request).is_some() {
            continue;
        }
        for image in images_to_fetch(&request, &policies) {
            if !images.contains(&image) {
                images.push(image);
            }
        }
        for pair in repositories_to_fetch(&request, &policies) {
            if !elsewhere.contains(&pair) {
                elsewhere.push(pair);
            }
        }
    }
    let source = match &request.layouts {
        Some(dir) => ImageSource::Layouts(dir.clone()),
        None => ImageSource::Registry {
            mirror: None,
            insecure: request.insecure,
        },
    };
    let Fetched {
        artifacts,
        unreachable,
    } = crate::runtime::block_on(fetch_with(&images, &elsewhere, &source))??;
    let unreachable: Vec<String> = unreachable
        .into_iter()
        .map(|(target, reason)| format!("{target}: {reason}"))
        .collect();
    let mut cache = if request.verify_cache {
        VerifyCache::default()
    } else {
        VerifyCache::disabled()
    };
    let results: Vec<(String, AdmissionResult)> = objects
        .iter()
        .map(|o| {
            let request = Request::create(o, &namespaces);
            let result = match kyverno.left_out(&request) {
                Some(why) => AdmissionResult::left_out(format!(
                    "{why} (Kyverno's configuration: {})",
                    kyverno.source
                )),
                None => evaluate_cached(&request, &policies, &artifacts, &mut cache),
            };
            (resource_id(o), result)
        })
        .collect();
    let autogen: Vec<PolicyAutogen> = policies
        .iter()
        .map(|p| PolicyAutogen {
            policy: match &p.metadata.namespace {
                Some(ns) => format!("{ns}/{}", p.metadata.name.value),
                None => p.metadata.name.value.clone(),
            },
            rules: generated_rules(p)
                .into_iter()
                .map(|(name, kinds)| GeneratedRule { name, kinds })
                .collect(),
        })
        .collect();
    let text = if request.json {
        report::admit::json(&results, &autogen, &unreachable)
    } else {
        report::admit::human(&results, &autogen, &unreachable)
    };
    emit(out, &text)?;
    let denied = results.iter().any(|(_, r)| !r.allowed && !r.is_undecided());
    Ok(if !unreachable.is_empty() {
        exit_code::UNREACHABLE
    } else if denied {
        exit_code::WORK_FELL_SHORT
    } else if results.iter().any(|(_, r)| r.is_undecided()) {
        exit_code::UNDECIDED
    } else {
        exit_code::SUCCESS
    })
}

//! What every live-lab command opens first: the chapter (validated), the lab's state in the
//! working folder, the variable values, the cluster and the lab registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use std::time::Duration;

use super::Config;
use crate::backend::runner::{Backends, CheckRunner};
use crate::backend::state::LabState;
use crate::backend::{FileWorkdir, KubeCluster, LabRegistry};
use crate::content::chapter::Chapter;
use crate::content::diagnostic::did_you_mean;
use crate::content::model::{CheckKind, Step};
use crate::engine::prepare;
use crate::engine::world::World;
use crate::error::LabError;

/// Where a command's checks look.
#[derive(Debug, Clone)]
pub(crate) enum Looking {
    /// The live cluster (`context`, else the lab's) and the lab registry.
    Live {
        /// A kubeconfig context instead of the lab's.
        context: Option<String>,
    },
    /// A recorded world file.
    World(PathBuf),
    /// No cluster and no registry: only the working folder.
    Offline,
}

/// A chapter with its state and values.
pub(crate) struct Session {
    /// The chapter.
    pub chapter: Chapter,
    /// The working folder (`.lab/`, evidence files, `cosign.pub`).
    pub workdir: PathBuf,
    /// The state `lab start` left, if any.
    pub state: Option<LabState>,
    /// The `--set` values in force: the state's, then the command line's.
    pub set: Vec<(String, String)>,
    /// The variable values.
    pub values: BTreeMap<String, String>,
}

/// The chapter whose state is the only one in `workdir/.lab`, for commands run without one.
fn only_started(workdir: &Path) -> Result<String, LabError> {
    let dir = workdir.join(".lab");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(LabError::Usage(
            "no lab is started in this folder; name the chapter (`lab start ch14`), or run this where you started it".into(),
        )),
        _ => Err(LabError::Usage(format!(
            "several labs are started in this folder ({}); name the chapter",
            found.join(", ")
        ))),
    }
}

/// The folder the command runs in. One that was removed under the shell (or that `lab` may
/// not read) is this machine's problem, not the command line's.
pub fn working_folder() -> Result<PathBuf, LabError> {
    std::env::current_dir().map_err(|e| {
        LabError::Environment(format!(
            "cannot read the working folder: {e}; `cd` into a folder that exists, then run the command again"
        ))
    })
}

impl Session {
    /// Opens the chapter `id` (else the one started here) with `set` on top of the state's.
    pub fn open(
        config: &Config,
        id: Option<&str>,
        set: &[(String, String)],
    ) -> Result<Self, LabError> {
        Self::open_in(config, working_folder()?, id, set)
    }

    /// As [`Session::open`], for the working folder `workdir`.
    pub fn open_in(
        config: &Config,
        workdir: PathBuf,
        id: Option<&str>,
        set: &[(String, String)],
    ) -> Result<Self, LabError> {
        let id = match id {
            Some(id) => id.to_owned(),
            None => only_started(&workdir)?,
        };
        let course = super::ChapterCourse::open(config.course.as_deref(), false)?;
        let chapter = Chapter::find(course.files, &id)?;
        super::require_valid(&chapter.files, &chapter.lab_file, config.color, |_| false)?;
        let lab_id = chapter.lab.id.value.0.clone();
        let state = LabState::load(&workdir, &lab_id)?;
        let mut merged: Vec<(String, String)> =
            state.as_ref().map(|s| s.set.clone()).unwrap_or_default();
        for (name, value) in set {
            merged.retain(|(n, _)| n != name);
            merged.push((name.clone(), value.clone()));
        }
        let mut values = chapter.values(false, &merged)?;
        if let Some(state) = &state {
            chapter.add_digests(&mut values, &state.digests);
        }
        Ok(Session {
            chapter,
            workdir,
            state,
            set: merged,
            values,
        })
    }

    /// The chapter id.
    pub fn id(&self) -> String {
        self.chapter.lab.id.value.0.clone()
    }

    /// The state, or the error that says to start the lab first.
    pub fn started(&self) -> Result<&LabState, LabError> {
        self.state.as_ref().ok_or_else(|| {
            LabError::Usage(format!(
                "lab {} is not started in {}; run `lab start {}` here first",
                self.id(),
                self.workdir.display(),
                self.id()
            ))
        })
    }

    /// Connects to the lab's cluster (the state's context unless `context` says otherwise).
    pub async fn cluster(&self, context: Option<&str>) -> Result<KubeCluster, LabError> {
        let context = context.or(self.state.as_ref().map(|s| s.context.as_str()));
        Ok(KubeCluster::connect(context).await?)
    }

    /// The step `id`, or the one error that names the steps (with the nearest, if any).
    pub fn step(&self, id: &str) -> Result<&Step, LabError> {
        let lab = &self.chapter.lab;
        lab.steps
            .iter()
            .find(|s| s.id.value.0 == id)
            .ok_or_else(|| {
                let ids = lab.step_ids();
                let hint = did_you_mean(id, ids.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                LabError::Usage(format!(
                    "lab {} has no step `{id}`; {hint}the steps are: {}",
                    self.id(),
                    ids.join(", ")
                ))
            })
    }

    /// The step's solution with this learner's values filled in, as shown and as recorded
    /// (a value that does not exist yet, such as a digest before `lab start`, shown as its
    /// placeholder); `None` when the step has none. The one place a solution is filled.
    pub fn solution(&self, step: &Step) -> Option<String> {
        step.solve
            .as_deref()
            .map(|s| self.chapter.fill_known(s, &self.values))
    }

    /// Whether the lab runs on the kind cluster `lab start` created, where a step's
    /// `on_kind` text holds. Without a state nobody knows, and that text is left out.
    pub fn on_kind(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| s.kind_cluster.is_some())
    }

    /// A text a person reads (a step, a hint, the runbook) with this learner's values.
    pub fn fill(&self, text: &str) -> String {
        self.chapter.fill_known(text, &self.values)
    }

    /// The course stamp of the records this session writes.
    pub fn course(&self) -> crate::record::CourseStamp {
        crate::record::CourseStamp::of(&self.chapter)
    }

    /// The learner's working folder as the checks read it.
    pub fn files(&self) -> FileWorkdir {
        FileWorkdir::of(self.workdir.clone(), &self.chapter)
    }

    /// The one check runner over this lab's checks and `looking` at the world.
    pub fn runner(&self, looking: Looking, settle: Duration) -> Result<CheckRunner, LabError> {
        if let Looking::Live { context: None } = looking {
            self.started()?;
        }
        let prepared = prepare(&self.chapter, &self.values)?;
        let mut runner = CheckRunner::new(prepared, self.files(), settle)?;
        runner.backends = match looking {
            Looking::World(path) => Backends::World(World::file(path)),
            Looking::Offline => Backends::Offline,
            Looking::Live { context } => {
                let cluster = runner.block_on(async {
                    let cluster = self.cluster(context.as_deref()).await?;
                    // One question first: an unreachable cluster is one error, not one per check.
                    cluster.ping().await?;
                    Ok::<_, LabError>(cluster)
                })?;
                Backends::Live {
                    cluster: Box::new(cluster),
                    registry: Box::new(self.registry()?),
                }
            }
        };
        Ok(runner)
    }

    /// The lab registry as this machine reaches it, verifying with the pack's attestors.
    pub fn registry(&self) -> Result<LabRegistry, LabError> {
        super::lab_registry(&self.chapter, &self.values)
    }

    /// What provisioning kind means for this lab: its kind config (rendered) and registry.
    pub fn kind_plan(&self) -> Result<crate::backend::kind::KindPlan, LabError> {
        let lab = &self.chapter.lab;
        let rel = self.chapter.resolve(&lab.cluster.kind_config.value.0)?;
        let text = self.chapter.text(&rel)?;
        let config = self.chapter.fill_file(&rel, text, &self.values)?;
        let name = serde_saphyr::from_str::<serde_json::Value>(&config)
            .ok()
            .and_then(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("lab-{}", self.id()));
        let spec = &lab.cluster.registry;
        Ok(crate::backend::kind::KindPlan {
            chapter: self.id(),
            cluster: name,
            config,
            registry: spec.name.clone(),
            registry_port: spec.port,
            host_port: spec.host_port,
            mirrors: spec.mirrors.iter().map(|m| m.value.clone()).collect(),
            registry_image: crate::backend::kind::REGISTRY_IMAGE.to_owned(),
            node_image: None,
        })
    }

    /// The names of the policies in the pack.
    pub fn pack_names(&self, objects: &[Value]) -> Vec<String> {
        objects
            .iter()
            .filter_map(|p| {
                p.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The Pod the pack must deny in Enforce: the manifest of the first `admission-denied`
    /// check, rendered; `None` when the lab has none.
    pub fn probe(&self) -> Result<Option<Value>, LabError> {
        let manifest = self
            .chapter
            .lab
            .steps
            .iter()
            .flat_map(|s| &s.checks)
            .find_map(|c| match &c.check.value {
                CheckKind::AdmissionDenied(a) => Some(a.manifest.value.0.clone()),
                _ => None,
            });
        let Some(manifest) = manifest else {
            return Ok(None);
        };
        let rel = self.chapter.resolve(&manifest)?;
        Ok(self
            .chapter
            .resources(&rel, &self.values)?
            .into_iter()
            .next())
    }
}

//! Putting the lab's objects into the cluster and taking them out: server-side apply under the
//! field manager `courselab`, waits on watches with explicit timeouts (a policy's `Ready`
//! condition), the dry-run probe that proves the webhook serves the pack in the mode asked
//! for, and finding the Kyverno that is already there.

use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::Value;

use super::cluster::{KubeCluster, LIST_LIMIT, call, cluster_policy_resource};
use super::error::BackendError;
use super::state::ObjectRef;
use crate::engine::compare::is_ready;
use crate::engine::{Cluster, DryRun};

/// The field manager of everything `lab` applies.
pub const FIELD_MANAGER: &str = "courselab";

/// The label that marks an object as the lab's.
pub const LAB_LABEL: &str = "courselab.dev/chapter";

/// The reference to an object, for the state file.
pub fn object_ref(object: &Value) -> ObjectRef {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).map(str::to_owned);
    ObjectRef {
        api_version: text("/apiVersion").unwrap_or_default(),
        kind: text("/kind").unwrap_or_default(),
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name").unwrap_or_default(),
    }
}

/// Whether a live object carries the lab's label for `chapter`.
pub fn is_labs(object: &DynamicObject, chapter: &str) -> bool {
    object
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LAB_LABEL))
        .map(String::as_str)
        == Some(chapter)
}

/// Labels `object` as the lab's (so that nobody mistakes whose it is).
pub fn label(object: &mut Value, chapter: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(LAB_LABEL.into(), Value::String(chapter.to_owned()));
        }
    }
}

impl KubeCluster {
    /// Server-side applies `object` (forcing the lab's own fields back if someone changed them).
    /// A webhook that is not serving yet (`failed calling webhook`) is waited for, up to `patience`.
    pub async fn apply(
        &self,
        object: &Value,
        patience: Duration,
    ) -> Result<ObjectRef, BackendError> {
        let reference = object_ref(object);
        let api = self.api_for(object).await?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let what = format!("applying {} {}", reference.kind, reference.name);
        let deadline = Instant::now() + patience;
        let patch = Patch::Apply(object);
        loop {
            match call(&what, || api.patch(&reference.name, &params, &patch)).await {
                Ok(_) => return Ok(reference),
                Err(
                    BackendError::Refused { reason, .. } | BackendError::Unreachable { reason, .. },
                ) if reason.contains("failed calling webhook") && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Puts `object` back exactly as given: replaced whole when it exists (so that fields other
    /// managers added, such as an `exclude`, are gone), applied when it does not.
    pub async fn replace_or_apply(
        &self,
        object: &Value,
        patience: Duration,
    ) -> Result<ObjectRef, BackendError> {
        let reference = object_ref(object);
        let api = self.api_for(object).await?;
        let what = format!("replacing {} {}", reference.kind, reference.name);
        let Some(live) = call(&what, || api.get_opt(&reference.name)).await? else {
            return self.apply(object, patience).await;
        };
        let mut whole: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| BackendError::Refused {
                what: what.clone(),
                reason: e.to_string(),
            })?;
        whole.metadata.resource_version = live.metadata.resource_version;
        let params = kube::api::PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        call(&what, || api.replace(&reference.name, &params, &whole)).await?;
        Ok(reference)
    }

    /// Deletes an object the lab created; one already gone is fine.
    pub async fn delete(&self, reference: &ObjectRef) -> Result<bool, BackendError> {
        let api = self.api_of(reference).await?;
        let what = format!("deleting {} {}", reference.kind, reference.name);
        let params = DeleteParams::background();
        match call(&what, || api.delete(&reference.name, &params)).await {
            Ok(_) => Ok(true),
            Err(BackendError::Refused { reason, .. }) if reason.ends_with("(404)") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until the object is gone (a namespace takes a while: everything in it goes first).
    pub async fn wait_gone(
        &self,
        reference: &ObjectRef,
        timeout: Duration,
    ) -> Result<(), BackendError> {
        let api = self.api_of(reference).await?;
        let what = format!("{} {} to be deleted", reference.kind, reference.name);
        let gone = await_condition(api, &reference.name, |o: Option<&DynamicObject>| {
            o.is_none()
        });
        match tokio::time::timeout(timeout, gone).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(BackendError::Unreachable {
                what,
                reason: e.to_string(),
            }),
            Err(_) => Err(BackendError::Timeout {
                what,
                waited: timeout,
                look_at: format!(
                    "`kubectl get {} {} -o yaml` shows what holds it (finalizers, status.conditions)",
                    reference.kind.to_lowercase(),
                    reference.name
                ),
            }),
        }
    }

    /// The API of the object `reference` names.
    pub async fn api_of(&self, reference: &ObjectRef) -> Result<Api<DynamicObject>, BackendError> {
        let probe = serde_json::json!({
            "apiVersion": reference.api_version,
            "kind": reference.kind,
            "metadata": {"name": reference.name, "namespace": reference.namespace},
        });
        self.api_for(&probe).await
    }

    /// The object `reference` names, if it exists.
    pub async fn get(&self, reference: &ObjectRef) -> Result<Option<DynamicObject>, BackendError> {
        let api = self.api_of(reference).await?;
        call(
            &format!("reading {} {}", reference.kind, reference.name),
            || api.get_opt(&reference.name),
        )
        .await
    }

    /// Whether the object exists and carries the lab's label for `chapter`.
    pub async fn owned_by_lab(
        &self,
        reference: &ObjectRef,
        chapter: &str,
    ) -> Result<Option<bool>, BackendError> {
        Ok(self.get(reference).await?.map(|o| is_labs(&o, chapter)))
    }

    /// Waits until every named ClusterPolicy reports `Ready=True`, watching each.
    pub async fn wait_policies_ready(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        let api = self.all(&cluster_policy_resource());
        let deadline = Instant::now() + timeout;
        for name in names {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = |o: Option<&DynamicObject>| {
                o.is_some_and(|o| is_ready(&serde_json::to_value(o).unwrap_or(Value::Null)))
            };
            let timed_out = || BackendError::Timeout {
                what: format!("ClusterPolicy {name} to become Ready"),
                waited: timeout,
                look_at: format!(
                    "`kubectl get clusterpolicy {name} -o yaml` (status.conditions) and Kyverno's admission controller log"
                ),
            };
            match tokio::time::timeout(left, await_condition(api.clone(), name, ready)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(BackendError::Unreachable {
                        what: format!("watching ClusterPolicy {name}"),
                        reason: e.to_string(),
                    });
                }
                Err(_) => return Err(timed_out()),
            }
        }
        Ok(())
    }

    /// Proves that the webhook serves the pack in `enforce` (or Audit) mode: a server-side dry
    /// run of `probe` (a Pod the pack must deny) is denied by one of `policies` in Enforce and
    /// admitted in Audit, tried every second until `timeout`. `Ready` alone records no
    /// generation, so it cannot tell a mode switch has reached the webhook.
    pub async fn probe_mode(
        &self,
        probe: &Value,
        policies: &[String],
        enforce: bool,
        timeout: Duration,
    ) -> Result<(), BackendError> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            let outcome =
                self.dry_run_create(probe)
                    .await
                    .map_err(|e| BackendError::Unreachable {
                        what: "the dry-run probe".into(),
                        reason: e.to_string(),
                    })?;
            let denied_by_pack = |message: &str| {
                message.contains("denied the request")
                    && policies.iter().any(|p| message.contains(p.as_str()))
            };
            let served = match &outcome {
                DryRun::Admitted => !enforce,
                DryRun::Refused { reason, .. } if reason == "AlreadyExists" => !enforce,
                DryRun::Refused { message, .. } => enforce && denied_by_pack(message),
            };
            if served {
                return Ok(());
            }
            last = match outcome {
                DryRun::Admitted => "the probe was admitted".into(),
                DryRun::Refused { code, message, .. } => {
                    format!("the probe was refused ({code}): {}", message.trim())
                }
            };
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(BackendError::Timeout {
            what: format!(
                "Kyverno's webhook to {} the probe Pod",
                if enforce { "deny" } else { "admit" }
            ),
            waited: timeout,
            look_at: format!("last answer: {last}; look at Kyverno's admission controller log"),
        })
    }

    /// Waits (watching) until Kyverno's admission and reports controllers are Available and the
    /// admission controller has registered its resource webhooks.
    pub async fn wait_kyverno(&self, timeout: Duration) -> Result<(), BackendError> {
        let deadline = Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), "kyverno");
        for name in ["kyverno-admission-controller", "kyverno-reports-controller"] {
            let available = |d: Option<&Deployment>| {
                d.and_then(|d| d.status.as_ref())
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Available" && c.status == "True")
                    })
            };
            self.await_within(left(), deployments.clone(), name, available, &format!(
                "`kubectl -n kyverno describe deployment {name}` and `kubectl -n kyverno get pods`"
            ))
            .await?;
        }
        let mutating: Api<MutatingWebhookConfiguration> = Api::all(self.client.clone());
        let validating: Api<ValidatingWebhookConfiguration> = Api::all(self.client.clone());
        let look = "Kyverno's admission controller log (`kubectl -n kyverno logs deploy/kyverno-admission-controller`)";
        self.await_within(
            left(),
            mutating,
            "kyverno-resource-mutating-webhook-cfg",
            |o: Option<&MutatingWebhookConfiguration>| o.is_some(),
            look,
        )
        .await?;
        self.await_within(
            left(),
            validating,
            "kyverno-resource-validating-webhook-cfg",
            |o: Option<&ValidatingWebhookConfiguration>| o.is_some(),
            look,
        )
        .await?;
        Ok(())
    }

    async fn await_within<K>(
        &self,
        left: Duration,
        api: Api<K>,
        name: &str,
        condition: impl kube::runtime::wait::Condition<K>,
        look_at: &str,
    ) -> Result<(), BackendError>
    where
        K: Clone + std::fmt::Debug + Send + serde::de::DeserializeOwned + kube::Resource + 'static,
    {
        let what = format!(
            "{} {name}",
            std::any::type_name::<K>()
                .rsplit("::")
                .next()
                .unwrap_or("object")
        );
        match tokio::time::timeout(left, await_condition(api, name, condition)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(BackendError::Unreachable {
                what: format!("watching {what}"),
                reason: e.to_string(),
            }),
            Err(_) => Err(BackendError::Timeout {
                what: format!("{what} to be ready"),
                waited: left,
                look_at: look_at.to_owned(),
            }),
        }
    }

    /// The version of the Kyverno admission controller running in the cluster: `None` when
    /// Kyverno's webhooks are there but no admission-controller Deployment says its version
    /// (Kyverno running outside the cluster); an error when there is no Kyverno at all.
    pub async fn kyverno_version(&self) -> Result<Option<String>, BackendError> {
        let webhooks =
            self.webhook_configurations()
                .await
                .map_err(|e| BackendError::Unreachable {
                    what: "webhook configurations".into(),
                    reason: e.to_string(),
                })?;
        if !webhooks
            .iter()
            .any(|w| w == "kyverno-resource-mutating-webhook-cfg")
        {
            return Err(BackendError::Kyverno(
                "no Kyverno in this cluster (no kyverno-resource-mutating-webhook-cfg); run `lab start` without `--kyverno existing` to install it".into(),
            ));
        }
        let api: Api<Deployment> = Api::all(self.client.clone());
        let params = ListParams::default()
            .labels("app.kubernetes.io/component=admission-controller,app.kubernetes.io/part-of=kyverno")
            .limit(LIST_LIMIT);
        let list = call("Kyverno's Deployments", || api.list(&params)).await?;
        Ok(list.items.iter().find_map(|d| {
            let containers = &d.spec.as_ref()?.template.spec.as_ref()?.containers;
            let image = containers
                .iter()
                .find(|c| c.name == "kyverno")?
                .image
                .clone()?;
            let tag = image
                .rsplit_once('@')
                .map_or(image.as_str(), |(i, _)| i)
                .rsplit_once(':')?
                .1
                .to_owned();
            Some(tag)
        }))
    }
}

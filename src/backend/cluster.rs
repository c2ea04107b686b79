//! The live cluster through kube-rs: connecting from a kubeconfig (and context), bounded and
//! retried API calls, and the reads and dry runs the check engine asks for.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::config::KubeConfigOptions;
use kube::{Api, Client, Config};
use serde_json::Value;

use super::error::BackendError;
use super::kubeconfig::{self, Kubeconfig};
use crate::engine::observe::selector_matches;
use crate::engine::{DryRun, ObserveError, PodView, RolloutView};

/// How long one API call may take before it counts as failed (and is tried again).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts per API call for transient failures (unreachable, 5xx, 429).
pub const ATTEMPTS: u32 = 3;
/// Items read per list call: a bound on what one answer may hold.
pub const LIST_LIMIT: u32 = 500;

/// A connected cluster.
#[derive(Clone)]
pub struct KubeCluster {
    /// The kube-rs client.
    pub client: Client,
    /// The context's name, for messages.
    pub context: String,
}

/// `kyverno.io/v1` ClusterPolicy.
pub fn cluster_policy_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kyverno.io", "v1", "ClusterPolicy"),
        "clusterpolicies",
    )
}

fn policy_report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
        "policyreports",
    )
}

fn policy_exception_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kyverno.io", "v2", "PolicyException"),
        "policyexceptions",
    )
}

/// Whether a kube error is worth another attempt.
fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500 || status.code == 429,
        _ => true,
    }
}

/// Runs one API call with a deadline per attempt and backoff between attempts.
pub async fn call<T, F, Fut>(what: &str, mut f: F) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut pause = Duration::from_millis(300);
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(CALL_TIMEOUT, f()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) if !transient(&e) => {
                return Err(BackendError::Refused {
                    what: what.to_owned(),
                    reason: api_message(&e),
                });
            }
            Ok(Err(e)) => last = api_message(&e),
            Err(_) => last = format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 3;
        }
    }
    Err(BackendError::Unreachable {
        what: what.to_owned(),
        reason: last,
    })
}

/// A kube error in one line: the API's own message, or the transport's. A credential
/// failure anywhere in the chain (a plugin run again to refresh its token) is told in words
/// of `lab`'s own, since kube-rs's quote what the plugin printed.
pub fn api_message(error: &kube::Error) -> String {
    if let kube::Error::Api(status) = error {
        return format!("{} ({})", status.message.trim(), status.code);
    }
    // Each level's text may embed its source's, so a credential failure is told alone.
    let mut chain = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(auth) = e.downcast_ref::<kube::client::AuthError>() {
            return kubeconfig::auth_failure(auth, None);
        }
        chain.push(e.to_string());
        next = e.source();
    }
    chain.join(": ")
}

impl From<BackendError> for ObserveError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Unreachable { what, reason } => {
                ObserveError::Unreachable { what, reason }
            }
            BackendError::Timeout { what, .. } => ObserveError::Unreachable {
                what,
                reason: "timed out".into(),
            },
            other => ObserveError::Failed {
                what: "the cluster".into(),
                reason: other.to_string(),
            },
        }
    }
}

/// `Client::try_from`, with a panic inside it told as `Err(())`: tower-http panics on a bearer
/// token that is not a valid header value, and the token a credential plugin prints (which
/// `lab` cannot check beforehand) may be one. The panic's own message is held back meanwhile
/// (the hook is process-wide: a panic elsewhere in that instant would go unprinted).
fn client_from(config: Config) -> Result<Result<Client, kube::Error>, ()> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Client::try_from(config)));
    std::panic::set_hook(hook);
    built.map_err(|_| ())
}

impl KubeCluster {
    /// Connects with the kubeconfig (`KUBECONFIG` or `~/.kube/config`) and `context` (its
    /// current context when `None`). Nothing is sent yet, but a credential plugin runs.
    pub async fn connect(context: Option<&str>) -> Result<Self, BackendError> {
        let checked = Kubeconfig::read()?;
        let name = checked.context(context)?;
        let kubeconfig = kubeconfig::to_kube(&checked)?;
        let options = KubeConfigOptions {
            context: Some(name.clone()),
            ..Default::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| BackendError::Kubeconfig(format!("context `{name}`: {e}")))?;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(CALL_TIMEOUT);
        config.write_timeout = Some(CALL_TIMEOUT);
        let plugin = checked.exec_plugin(&name);
        let built = client_from(config).map_err(|()| {
            BackendError::BadKubeconfig(format!(
                "context `{name}`: {}",
                kubeconfig::unusable_token(plugin.as_ref())
            ))
        })?;
        let client = built.map_err(|e| match e {
            kube::Error::Auth(auth) => BackendError::BadKubeconfig(format!(
                "context `{name}`: {}",
                kubeconfig::auth_failure(&auth, plugin.as_ref())
            )),
            other => BackendError::Kubeconfig(format!("context `{name}`: {}", api_message(&other))),
        })?;
        Ok(KubeCluster {
            client,
            context: name,
        })
    }

    /// The ConfigMap `namespace/name` as the API server has it (`None`: there is none).
    pub async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, BackendError> {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "ConfigMap"),
            "configmaps",
        );
        let api = self.namespaced(&resource, namespace);
        let found = call(&format!("ConfigMap {namespace}/{name}"), || {
            api.get_opt(name)
        })
        .await?;
        Ok(found.as_ref().map(to_json))
    }

    /// Asks the API server its version: the cheapest proof that it answers.
    pub async fn ping(&self) -> Result<String, BackendError> {
        let info = call(
            &format!("the API server of context {}", self.context),
            || self.client.apiserver_version(),
        )
        .await?;
        Ok(info.git_version)
    }

    /// A cluster-scoped or all-namespaces API for `resource`.
    pub fn all(&self, resource: &ApiResource) -> Api<DynamicObject> {
        Api::all_with(self.client.clone(), resource)
    }

    /// A namespaced API for `resource`.
    pub fn namespaced(&self, resource: &ApiResource, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, resource)
    }

    /// The API resource of an object's `apiVersion` and `kind`, found by discovery.
    pub async fn resource_of(&self, object: &Value) -> Result<(ApiResource, bool), BackendError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = call(&format!("discovery of {api_version} {kind}"), || {
            kube::discovery::pinned_kind(&self.client, &gvk)
        })
        .await?;
        Ok((resource, caps.scope == kube::discovery::Scope::Namespaced))
    }

    /// The API for an object, in its namespace if the kind is namespaced.
    pub async fn api_for(&self, object: &Value) -> Result<Api<DynamicObject>, BackendError> {
        let (resource, namespaced) = self.resource_of(object).await?;
        Ok(if namespaced {
            let ns = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            self.namespaced(&resource, ns)
        } else {
            self.all(&resource)
        })
    }
}

fn to_json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// The pod template's spec inside a workload of `kind`.
fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

fn workload_resource(kind: &str) -> ApiResource {
    let (group, version, plural) = match kind {
        "Pod" => ("", "v1", "pods"),
        "Job" => ("batch", "v1", "jobs"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        "StatefulSet" => ("apps", "v1", "statefulsets"),
        "DaemonSet" => ("apps", "v1", "daemonsets"),
        "ReplicaSet" => ("apps", "v1", "replicasets"),
        _ => ("apps", "v1", "deployments"),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

impl crate::engine::Cluster for KubeCluster {
    async fn workload_images(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, ObserveError> {
        let api = self.namespaced(&workload_resource(kind), namespace);
        let what = format!("{kind} {namespace}/{name}");
        let Some(object) = call(&what, || api.get_opt(name)).await? else {
            return Ok(None);
        };
        let json = to_json(&object);
        let spec = json
            .pointer(pod_spec_pointer(kind))
            .cloned()
            .unwrap_or(Value::Null);
        let mut images = Vec::new();
        for list in ["initContainers", "containers"] {
            for c in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                images.push((
                    c.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    c.get("image")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ));
            }
        }
        Ok(Some(images))
    }

    async fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<PodView>, ObserveError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = ListParams::default().labels(selector).limit(LIST_LIMIT);
        let list = call(&format!("pods in {namespace} ({selector})"), || {
            api.list(&params)
        })
        .await?;
        let now = std::time::SystemTime::now();
        Ok(list
            .items
            .into_iter()
            .map(|pod| super::views::pod_view(pod, now))
            .collect())
    }

    async fn rollouts(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<RolloutView>, ObserveError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let params = ListParams::default().limit(LIST_LIMIT);
        let list = call(&format!("deployments in {namespace}"), || api.list(&params)).await?;
        Ok(list
            .items
            .into_iter()
            .filter(|d| selector_matches(selector, &super::views::template_labels(d)))
            .map(super::views::rollout_view)
            .collect())
    }

    async fn cluster_policy(&self, name: &str) -> Result<Option<Value>, ObserveError> {
        let api = self.all(&cluster_policy_resource());
        let found = call(&format!("ClusterPolicy {name}"), || api.get_opt(name)).await?;
        Ok(found.as_ref().map(to_json))
    }

    async fn policy_reports(&self, namespace: &str) -> Result<Vec<Value>, ObserveError> {
        let api = self.namespaced(&policy_report_resource(), namespace);
        let params = ListParams::default().limit(LIST_LIMIT);
        let list = call(&format!("PolicyReports in {namespace}"), || {
            api.list(&params)
        })
        .await?;
        Ok(list.items.iter().map(to_json).collect())
    }

    async fn policy_exceptions(&self) -> Result<Vec<Value>, ObserveError> {
        let api = self.all(&policy_exception_resource());
        let params = ListParams::default().limit(LIST_LIMIT);
        match call("PolicyExceptions", || api.list(&params)).await {
            Ok(list) => Ok(list.items.iter().map(to_json).collect()),
            // Without the CRD there can be no exception.
            Err(BackendError::Refused { reason, .. }) if reason.ends_with("(404)") => {
                Ok(Vec::new())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn webhook_configurations(&self) -> Result<Vec<String>, ObserveError> {
        let params = ListParams::default().limit(LIST_LIMIT);
        let mutating: Api<MutatingWebhookConfiguration> = Api::all(self.client.clone());
        let validating: Api<ValidatingWebhookConfiguration> = Api::all(self.client.clone());
        let m = call("mutating webhook configurations", || mutating.list(&params)).await?;
        let v = call("validating webhook configurations", || {
            validating.list(&params)
        })
        .await?;
        Ok(m.items
            .into_iter()
            .filter_map(|w| w.metadata.name)
            .chain(v.items.into_iter().filter_map(|w| w.metadata.name))
            .collect())
    }

    async fn dry_run_create(&self, object: &Value) -> Result<DryRun, ObserveError> {
        let api = self.api_for(object).await?;
        let dynamic: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| ObserveError::Failed {
                what: "the manifest".into(),
                reason: e.to_string(),
            })?;
        let params = PostParams {
            dry_run: true,
            field_manager: Some("courselab".into()),
        };
        let what = "a server-side dry run";
        let mut pause = Duration::from_millis(300);
        for attempt in 1..=ATTEMPTS {
            match tokio::time::timeout(CALL_TIMEOUT, api.create(&params, &dynamic)).await {
                Ok(Ok(_)) => return Ok(DryRun::Admitted),
                Ok(Err(kube::Error::Api(status))) if status.code < 500 => {
                    return Ok(DryRun::Refused {
                        code: status.code,
                        reason: status.reason.clone(),
                        message: status.message.clone(),
                    });
                }
                Ok(Err(e)) if attempt == ATTEMPTS => {
                    return Err(ObserveError::Unreachable {
                        what: what.into(),
                        reason: api_message(&e),
                    });
                }
                Err(_) if attempt == ATTEMPTS => {
                    return Err(ObserveError::Unreachable {
                        what: what.into(),
                        reason: format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
                    });
                }
                _ => {}
            }
            tokio::time::sleep(pause).await;
            pause *= 3;
        }
        unreachable!("the last attempt returns")
    }
}

#[cfg(test)]
mod tests {
    //! What the real API server cannot be made to do on demand: fail with a 500, or not
    //! answer at all. kube-rs's mock service stands in for it here; everything else is tested
    //! against the real one (tests/cli/lab_live.rs).

    use http::{Request, Response};
    use kube::client::Body;
    use tower_test::mock;

    use super::*;

    type Handle = mock::Handle<Request<Body>, Response<Body>>;

    fn cluster() -> (KubeCluster, Handle) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        (
            KubeCluster {
                client,
                context: "mock".into(),
            },
            handle,
        )
    }

    fn status(code: u16, message: &str) -> Response<Body> {
        let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code});
        Response::builder()
            .status(code)
            .body(Body::from(body.to_string().into_bytes()))
            .unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn a_server_error_is_tried_three_times_then_reported_unreachable() {
        runtime().block_on(async {
            let (cluster, mut handle) = cluster();
            let server = async move {
                for _ in 0..ATTEMPTS {
                    let (request, send) = handle.next_request().await.expect("a request");
                    assert_eq!(request.uri().path(), "/apis/kyverno.io/v1/clusterpolicies/verify-signed-images");
                    send.send_response(status(500, "etcdserver: request timed out"));
                }
                handle
            };
            let (result, mut handle) = tokio::join!(
                crate::engine::Cluster::cluster_policy(&cluster, "verify-signed-images"),
                server
            );
            let err = result.unwrap_err().to_string();
            assert_eq!(err, "cannot reach ClusterPolicy verify-signed-images: etcdserver: request timed out (500)");
            // No fourth attempt: once the client is gone, nothing more was asked.
            drop(cluster);
            assert!(handle.next_request().await.is_none());
        });
    }

    #[test]
    fn a_refusal_is_not_retried() {
        runtime().block_on(async {
            let (cluster, mut handle) = cluster();
            let server = async move {
                let (_, send) = handle.next_request().await.expect("a request");
                send.send_response(status(
                    403,
                    "clusterpolicies.kyverno.io is forbidden: User \"learner\" cannot list",
                ));
                handle
            };
            let (result, mut handle) = tokio::join!(
                crate::engine::Cluster::policy_reports(&cluster, "develop"),
                server
            );
            let err = result.unwrap_err().to_string();
            assert!(
                err.contains("is forbidden") && err.contains("(403)"),
                "{err}"
            );
            drop(cluster);
            assert!(handle.next_request().await.is_none());
        });
    }

    #[test]
    fn a_server_that_never_answers_is_given_up_on_after_three_deadlines() {
        runtime().block_on(async {
            let (cluster, mut handle) = cluster();
            let started = tokio::time::Instant::now();
            let server = async move {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    held.push(handle.next_request().await.expect("a request"));
                }
                (handle, held)
            };
            let (result, _server) = tokio::join!(
                crate::engine::Cluster::pods(&cluster, "develop", "app=demo"),
                server
            );
            let err = result.unwrap_err().to_string();
            assert_eq!(
                err,
                "cannot reach pods in develop (app=demo): no answer within 15 s"
            );
            // Three deadlines and the pauses between them (0.3 s, 0.9 s), on tokio's clock.
            assert_eq!(
                started.elapsed(),
                CALL_TIMEOUT * ATTEMPTS + Duration::from_millis(1200)
            );
        });
    }
}

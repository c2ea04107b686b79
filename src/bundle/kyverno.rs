//! What Kyverno publishes, as a bundle needs it: the chart's OCI reference, the signing
//! identities of Kyverno's release workflows, and the images chart 3.9.0 deploys, read from
//! the chart's own `values.yaml` the way its templates compute them.
//!
//! Sources (kyverno/kyverno v1.19.0):
//! - `.github/workflows/release.yaml` and `.github/actions/image/publish/action.yaml`: every
//!   image is signed keyless by `cosign sign` in the `release.yaml` workflow, with
//!   `COSIGN_REPOSITORY=ghcr.io/kyverno/signatures`;
//! - `.github/workflows/helm-release.yaml`: the chart is pushed to
//!   `oci://ghcr.io/kyverno/charts` and signed the same way by that workflow;
//! - `charts/kyverno/templates/_helpers/_image.tpl` (and the controllers' `_helpers.tpl`): an
//!   image is `registry/repository:tag`, the registry being the image's own `registry`, else
//!   `global.image.registry`, else its `defaultRegistry`, and the tag the image's `tag`, else the
//!   chart's `appVersion`;
//! - the templates that use it: `admission-controller/deployment.yaml` (`initContainer` and
//!   `container`), `background-controller/`, `cleanup-controller/`, `reports-controller/`
//!   deployments, `hooks/post-upgrade-migrate-resources.yaml` (`crds.migration`) and
//!   `hooks/pre-delete-*.yaml` (`webhooksCleanup`). `test.image` is only run by `helm test`.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

/// Where Kyverno's charts are published.
pub const CHART_REPOSITORY: &str = "ghcr.io/kyverno/charts/kyverno";
/// Where Kyverno's release keeps its signatures (`COSIGN_REPOSITORY`).
pub const SIGNATURES: &str = "ghcr.io/kyverno/signatures";
/// The OIDC issuer of GitHub Actions, which signs Kyverno's releases.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The identity of the workflow that signs Kyverno's images: any release tag.
pub const IMAGE_IDENTITY: &str =
    r"^https://github\.com/kyverno/kyverno/\.github/workflows/release\.yaml@refs/tags/";
/// The identity of the workflow that signs Kyverno's charts.
pub const CHART_IDENTITY: &str =
    r"^https://github\.com/kyverno/kyverno/\.github/workflows/helm-release\.yaml@refs/";
/// The media type of a Helm chart's archive in its OCI artifact.
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The values paths of the images a default install deploys, and whether each falls back to
/// its own `tag` before the chart's `appVersion` (they all do: `default .Chart.AppVersion
/// .image.tag`, or the template's `default .defaultTag .image.tag`).
pub const IMAGE_VALUES: [&str; 7] = [
    "admissionController.initContainer.image",
    "admissionController.container.image",
    "backgroundController.image",
    "cleanupController.image",
    "reportsController.image",
    "crds.migration.image",
    "webhooksCleanup.image",
];

/// The largest chart archive read (Kyverno's is about 120 KiB).
pub const MAX_CHART: u64 = 16 << 20;
/// The most bytes the archive may unpack to, and the most one read file may have.
const MAX_UNPACKED: u64 = 64 << 20;
const MAX_FILE: u64 = 4 << 20;

/// What a bundle needs of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// `name` of `Chart.yaml`.
    pub name: String,
    /// `version` of `Chart.yaml`.
    pub version: String,
    /// `appVersion` of `Chart.yaml`.
    pub app_version: String,
    /// Each image the chart deploys, by its values path.
    pub images: BTreeMap<String, String>,
}

/// Reads the chart archive (`.tgz`) of chart `name`: its `Chart.yaml` and `values.yaml`, and
/// from them the images. `Err` says what is wrong, after "the chart ...".
pub fn read_chart(tgz: &[u8], name: &str) -> Result<Chart, String> {
    let (chart_yaml, values_yaml) = unpack(tgz, name)?;
    let meta: Value = serde_saphyr::from_str(&chart_yaml)
        .map_err(|e| format!("has a Chart.yaml that does not parse: {e}"))?;
    let field = |key: &str| {
        meta.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("has a Chart.yaml without `{key}`"))
    };
    let chart = Chart {
        name: field("name")?,
        version: field("version")?,
        app_version: field("appVersion")?,
        images: BTreeMap::new(),
    };
    if chart.name != name {
        return Err(format!("is named `{}`, not `{name}`", chart.name));
    }
    let values: Value = serde_saphyr::from_str(&values_yaml)
        .map_err(|e| format!("has a values.yaml that does not parse: {e}"))?;
    let images = images(&values, &chart.app_version)?;
    Ok(Chart { images, ..chart })
}

/// The images of [`IMAGE_VALUES`] as the chart's templates write them.
pub fn images(values: &Value, app_version: &str) -> Result<BTreeMap<String, String>, String> {
    let global = lookup(values, "global.image.registry").and_then(non_empty);
    let mut out = BTreeMap::new();
    for path in IMAGE_VALUES {
        let image = lookup(values, path)
            .filter(|v| v.is_object())
            .ok_or_else(|| format!("has no `{path}` in its values.yaml; is it Kyverno's chart?"))?;
        let repository = image
            .get("repository")
            .and_then(non_empty)
            .ok_or_else(|| format!("has no `{path}.repository` in its values.yaml"))?;
        let registry = image
            .get("registry")
            .and_then(non_empty)
            .or(global)
            .or_else(|| image.get("defaultRegistry").and_then(non_empty));
        let tag = image.get("tag").and_then(non_empty).unwrap_or(app_version);
        let reference = match registry {
            Some(registry) => format!("{registry}/{repository}:{tag}"),
            None => format!("{repository}:{tag}"),
        };
        out.insert(path.to_owned(), reference);
    }
    Ok(out)
}

fn lookup<'a>(values: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(values, |v, key| v.get(key))
}

fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// `<name>/Chart.yaml` and `<name>/values.yaml` of the archive, read within limits.
fn unpack(tgz: &[u8], name: &str) -> Result<(String, String), String> {
    let limited = flate2::read::GzDecoder::new(tgz).take(MAX_UNPACKED + 1);
    let mut archive = tar::Archive::new(limited);
    let (mut chart, mut values) = (None, None);
    let entries = archive
        .entries()
        .map_err(|e| format!("is not a gzip tar archive ({e})"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("is not a whole gzip tar archive ({e})"))?;
        let path = entry
            .path()
            .map_err(|e| format!("has an entry with an unreadable name ({e})"))?
            .to_string_lossy()
            .into_owned();
        let slot = if path == format!("{name}/Chart.yaml") {
            &mut chart
        } else if path == format!("{name}/values.yaml") {
            &mut values
        } else {
            continue;
        };
        if entry.size() > MAX_FILE {
            return Err(format!("has a {path} larger than 4 MiB"));
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("has a {path} that cannot be read as text ({e})"))?;
        *slot = Some(text);
    }
    match (chart, values) {
        (Some(c), Some(v)) => Ok((c, v)),
        (None, _) => Err(format!("has no {name}/Chart.yaml")),
        (_, None) => Err(format!("has no {name}/values.yaml")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const CHART: &str = "apiVersion: v2\nname: kyverno\nversion: 3.9.0\nappVersion: v1.19.0\n";

    fn values(global: &str) -> String {
        // Each repository is `kyverno/<name>`.
        let image = |extra: &str, name: &str| {
            format!(
                "image:\n    defaultRegistry: reg.kyverno.io\n    repository: kyverno/{name}\n{extra}"
            )
        };
        format!(
            "global:\n  image:\n    registry: {global}\nadmissionController:\n  initContainer:\n    {}\n  container:\n    {}\nbackgroundController:\n  {}\ncleanupController:\n  {}\nreportsController:\n  {}\ncrds:\n  migration:\n    {}\nwebhooksCleanup:\n  image:\n    registry: ghcr.io\n    repository: kyverno/readiness-checker\n    tag: ~\n",
            image("", "kyvernopre").replace('\n', "\n    "),
            image("    tag: v9\n", "kyverno").replace('\n', "\n    "),
            image("", "background-controller").replace('\n', "\n  "),
            image("", "cleanup-controller").replace('\n', "\n  "),
            image("", "reports-controller").replace('\n', "\n  "),
            image("", "kyverno-cli").replace('\n', "\n    "),
        )
    }

    #[test]
    fn images_follow_the_templates_precedence() {
        let chart = read_chart(
            &tgz(&[
                ("kyverno/Chart.yaml", CHART),
                ("kyverno/values.yaml", &values("~")),
                ("kyverno/templates/x.yaml", "ignored"),
            ]),
            "kyverno",
        )
        .unwrap();
        assert_eq!(chart.version, "3.9.0");
        assert_eq!(chart.images.len(), IMAGE_VALUES.len());
        // defaultRegistry and appVersion when nothing else is set.
        assert_eq!(
            chart.images["backgroundController.image"],
            "reg.kyverno.io/kyverno/background-controller:v1.19.0"
        );
        // The image's own tag wins over appVersion.
        assert_eq!(
            chart.images["admissionController.container.image"],
            "reg.kyverno.io/kyverno/kyverno:v9"
        );
        // The image's own registry wins over the default.
        assert_eq!(
            chart.images["webhooksCleanup.image"],
            "ghcr.io/kyverno/readiness-checker:v1.19.0"
        );
        // global.image.registry wins over defaultRegistry, not over the image's own registry.
        let mirrored = read_chart(
            &tgz(&[
                ("kyverno/Chart.yaml", CHART),
                ("kyverno/values.yaml", &values("kind-registry:5000")),
            ]),
            "kyverno",
        )
        .unwrap();
        assert_eq!(
            mirrored.images["crds.migration.image"],
            "kind-registry:5000/kyverno/kyverno-cli:v1.19.0"
        );
        assert_eq!(
            mirrored.images["webhooksCleanup.image"],
            "ghcr.io/kyverno/readiness-checker:v1.19.0"
        );
    }

    #[test]
    fn the_fuzz_seed_is_a_chart_read_whole() {
        let seed = include_bytes!("../../fuzz/corpus/bundle/kyverno-chart.tgz");
        let chart = read_chart(seed, "kyverno").unwrap();
        assert_eq!(chart.images.len(), IMAGE_VALUES.len());
        assert_eq!(
            chart.images["admissionController.initContainer.image"],
            "reg.kyverno.io/kyverno/kyvernopre:v1.19.0"
        );
    }

    #[test]
    fn another_chart_is_refused_with_what_is_missing() {
        let other = tgz(&[
            ("kyverno/Chart.yaml", CHART),
            ("kyverno/values.yaml", "global: {}\n"),
        ]);
        assert_eq!(
            read_chart(&other, "kyverno").unwrap_err(),
            "has no `admissionController.initContainer.image` in its values.yaml; is it Kyverno's chart?"
        );
        let renamed = tgz(&[("nginx/Chart.yaml", CHART)]);
        assert_eq!(
            read_chart(&renamed, "kyverno").unwrap_err(),
            "has no kyverno/Chart.yaml"
        );
        assert!(
            read_chart(b"not gzip", "kyverno")
                .unwrap_err()
                .starts_with("is not")
        );
        let misnamed = tgz(&[
            (
                "kyverno/Chart.yaml",
                "name: other\nversion: '1'\nappVersion: v1\n",
            ),
            ("kyverno/values.yaml", "{}"),
        ]);
        assert_eq!(
            read_chart(&misnamed, "kyverno").unwrap_err(),
            "is named `other`, not `kyverno`"
        );
    }
}

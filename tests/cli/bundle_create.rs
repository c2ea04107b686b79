//! `lab bundle create` through the real binary, with no internet: one loopback registry stands
//! in for every publisher (docker.io, ghcr.io, reg.kyverno.io), holding Kyverno's real chart
//! 3.9.0 (from the Kyverno module the peers are built from) as the OCI artifact Kyverno
//! publishes and one image for each image its values name; the real cosign signs them as
//! Kyverno's release workflows do (keyless certificates for their identities, here from a test
//! CA, signatures in a `signatures` repository), and checks them again when the bundle is made.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::keyless::TestCa;
use super::peers::{peer_command, peers_bin};
use super::registry::{TestRegistry, push_image, push_manifest_typed, runtime};
use super::{copy_course, edit, lab, output};

pub(super) const ISSUER: &str = "https://token.actions.githubusercontent.com";
pub(super) const IMAGE_SIGNER: &str =
    "https://github.com/kyverno/kyverno/.github/workflows/release.yaml@refs/tags/v1.19.0";
const CHART_SIGNER: &str = "https://github.com/kyverno/kyverno/.github/workflows/helm-release.yaml@refs/tags/kyverno-chart-3.9.0";
const NODE_PIN: &str = "sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";
const BASE_PIN: &str = "sha256:262578cde928d5c9eba3bce079976444f624c13ed0afb741d90d5423877496cb";

/// The publishers' registry and what was put there.
pub(super) struct Publishers {
    pub(super) registry: TestRegistry,
    pub(super) dir: tempfile::TempDir,
    pub(super) course: PathBuf,
    /// Each Kyverno image by its reference in the chart, with its digest.
    pub(super) kyverno: Vec<(String, String)>,
}

/// Kyverno's chart folder, as a `.tgz` whose entries are under `kyverno/` (what `helm package`
/// writes). The published archive also holds the three charts its `Chart.yaml` takes from other
/// repositories (`helm dependency build`), which the module does not: here each is a chart with
/// its name and version and no templates. Two only install CRDs (`kyverno-api`, `openreports`)
/// and the third (`reports-server`) is off by default, so none adds an image to a default
/// install.
fn chart_tgz() -> Vec<u8> {
    let folder = super::schema::kyverno_module().join("charts/kyverno");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    builder.append_dir_all("kyverno", &folder).unwrap();
    for (name, version) in [
        ("kyverno-api", "0.0.1-alpha.4"),
        ("openreports", "0.1.0"),
        ("reports-server", "0.1.6"),
    ] {
        let text = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                format!("kyverno/charts/{name}/Chart.yaml"),
                text.as_bytes(),
            )
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// cosign with the key of `leaf` imported (as `name`); signs `what` keyless-style (the
/// certificate and its chain attached), signatures into `addr/kyverno/signatures`.
fn cosign_sign(
    dir: &Path,
    addr: &str,
    (name, leaf): (&str, &(String, rcgen::KeyPair)),
    ca_pem: &str,
    what: &str,
) {
    let key = dir.join(format!("{name}.pem"));
    let cert = dir.join(format!("{name}.crt"));
    let chain = dir.join("ca.crt");
    std::fs::write(&key, leaf.1.serialize_pem()).unwrap();
    std::fs::write(&cert, &leaf.0).unwrap();
    std::fs::write(&chain, ca_pem).unwrap();
    let prefix = dir.join(name).display().to_string();
    if !dir.join(format!("{name}.key")).exists() {
        let out = peer_command("cosign")
            .current_dir(dir)
            .env("COSIGN_PASSWORD", "")
            .args(["import-key-pair", "--key"])
            .arg(&key)
            .args(["--output-key-prefix", &prefix])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = peer_command("cosign")
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_REPOSITORY", format!("{addr}/kyverno/signatures"))
        .args(["sign", "--yes", "--key"])
        .arg(format!("{prefix}.key"))
        .arg("--certificate")
        .arg(&cert)
        .arg("--certificate-chain")
        .arg(&chain)
        .args([
            "--use-signing-config=false",
            "--tlog-upload=false",
            "--allow-http-registry",
            what,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosign sign {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The publishers, with every Kyverno image signed by Kyverno's release identity except
/// those `unsigned` names (references of the chart's values), and those `misattributed` names
/// signed by the chart's workflow instead.
pub(super) fn publishers(unsigned: &[&str], misattributed: &[&str]) -> Publishers {
    let registry = TestRegistry::start();
    let addr = registry.addr.clone();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let tgz = chart_tgz();
    let chart = courselab::bundle::kyverno::read_chart(&tgz, "kyverno").unwrap();
    let chart_digest = rt.block_on(push_manifest_typed(
        &addr,
        "kyverno/charts/kyverno",
        "3.9.0",
        (
            "application/vnd.cncf.helm.config.v1+json",
            br#"{"name":"kyverno","version":"3.9.0","appVersion":"v1.19.0","apiVersion":"v2"}"#,
        ),
        &[(tgz, courselab::bundle::kyverno::CHART_LAYER, Value::Null)],
    ));
    let mut kyverno = Vec::new();
    let mut references: Vec<&String> = chart.images.values().collect();
    references.sort();
    references.dedup();
    for reference in references {
        let (_, path) = reference.split_once('/').unwrap();
        let (repo, tag) = path.rsplit_once(':').unwrap();
        let digest = rt.block_on(push_image(&addr, repo, tag, reference));
        kyverno.push((reference.clone(), digest));
    }
    let node = rt.block_on(push_image(&addr, "kindest/node", "v1.35.8", "node"));
    rt.block_on(push_image(&addr, "library/registry", "3", "registry"));
    let base = rt.block_on(push_image(&addr, "stefanprodan/podinfo", "6.9.1", "base"));

    let ca = TestCa::new("stand-in for Fulcio");
    let image_leaf = ca.leaf(IMAGE_SIGNER, ISSUER);
    let chart_leaf = ca.leaf(CHART_SIGNER, ISSUER);
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    cosign_sign(
        &keys,
        &addr,
        ("chart", &chart_leaf),
        &ca.pem,
        &format!("{addr}/kyverno/charts/kyverno@{chart_digest}"),
    );
    for (reference, digest) in &kyverno {
        if unsigned.contains(&reference.as_str()) {
            continue;
        }
        let (_, path) = reference.split_once('/').unwrap();
        let (repo, _) = path.rsplit_once(':').unwrap();
        let signer = if misattributed.contains(&reference.as_str()) {
            ("chart", &chart_leaf)
        } else {
            ("image", &image_leaf)
        };
        cosign_sign(
            &keys,
            &addr,
            signer,
            &ca.pem,
            &format!("{addr}/{repo}@{digest}"),
        );
    }
    let der = courselab::supply::keyless::pem_block(ca.pem.as_bytes()).unwrap();
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [],
        "certificateAuthorities": [{
            "subject": {"organization": "test", "commonName": "stand-in for Fulcio"},
            "uri": "https://fulcio.test",
            "certChain": {"certificates": [{"rawBytes": base64_encode(&der)}]},
            "validFor": {"start": "2020-01-01T00:00:00Z"}
        }],
        "ctlogs": [],
        "timestampAuthorities": []
    });
    std::fs::write(dir.path().join("trusted_root.json"), root.to_string()).unwrap();

    let course = dir.path().join("course");
    copy_course(&course);
    edit(&course, "kind-config/ch14.yaml", NODE_PIN, &node);
    edit(&course, "labs/ch14/lab.yaml", BASE_PIN, &base);
    Publishers {
        registry,
        dir,
        course,
        kyverno,
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Publishers {
    pub(super) fn create(&self, out: &str) -> (i32, String, String) {
        let addr = &self.registry.addr;
        let path = format!(
            "{}:{}",
            peers_bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = lab(self.dir.path());
        cmd.env("PATH", path)
            .arg("--course")
            .arg(&self.course)
            .args(["bundle", "create", "ch14", "-o", out])
            .args(["--registry-mirror", &format!("docker.io={addr}")])
            .args(["--registry-mirror", &format!("ghcr.io={addr}")])
            .args(["--registry-mirror", &format!("reg.kyverno.io={addr}")])
            .args(["--trusted-root", "trusted_root.json"])
            .args(["--insecure-ignore-tlog", "--insecure-ignore-sct"]);
        output(&mut cmd)
    }

    /// The bundle's manifest, read from the archive's first entry.
    fn manifest(&self, out: &str) -> Value {
        let file = std::fs::File::open(self.dir.path().join(out)).unwrap();
        let mut archive = tar::Archive::new(file);
        let mut first = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.path().unwrap().to_str(), Some("bundle.json"));
        serde_json::from_reader(&mut first).unwrap()
    }
}

/// Replaces what differs from run to run (digests, sizes, ports) by placeholders.
fn stable(text: &str, addr: &str) -> String {
    let digests = regex::Regex::new("sha256:[0-9a-f]{12,64}").unwrap();
    let sizes = regex::Regex::new(r"\d+(\.\d+)? (KiB|MiB|bytes)").unwrap();
    let text = digests.replace_all(text, "sha256:…");
    let text = sizes.replace_all(&text, "[size]");
    text.replace(addr, "[publishers]")
}

#[test]
fn a_bundle_of_ch14_holds_what_start_needs_with_kyvernos_signatures_verified() {
    let publishers = publishers(&[], &[]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!("bundle-created", stable(&stdout, &publishers.registry.addr));

    let manifest = publishers.manifest("ch14.bundle.tar");
    assert_eq!(manifest["lab"], "ch14");
    // For CI's cross-check against schemas/bundle.schema.json with another validator.
    std::fs::create_dir_all(super::repo().join("target")).unwrap();
    std::fs::write(
        super::repo().join("target/bundle-ch14.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let images = manifest["images"].as_array().unwrap();
    let by_role = |role: &str| {
        images
            .iter()
            .filter(|i| i["role"] == role)
            .map(|i| i["reference"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_role("kind-node"), ["docker.io/kindest/node:v1.35.8"]);
    assert_eq!(by_role("registry"), ["docker.io/library/registry:3"]);
    assert_eq!(
        by_role("base-image"),
        ["ghcr.io/stefanprodan/podinfo:6.9.1"]
    );
    let mut kyverno = by_role("kyverno");
    kyverno.sort();
    let mut pushed: Vec<String> = publishers.kyverno.iter().map(|(r, _)| r.clone()).collect();
    pushed.sort();
    assert_eq!(kyverno, pushed, "every image the chart's values name");
    assert_eq!(kyverno.len(), 7, "{kyverno:?}");
    for image in images.iter().filter(|i| i["role"] == "kyverno") {
        let (_, digest) = publishers
            .kyverno
            .iter()
            .find(|(r, _)| *r == image["reference"])
            .unwrap();
        assert_eq!(image["digest"], digest.as_str(), "{image}");
        let verified = &image["verified"];
        assert!(
            verified["by"].as_str().unwrap().starts_with("cosign v3."),
            "{image}"
        );
        assert_eq!(
            verified["identity"],
            courselab::bundle::kyverno::IMAGE_IDENTITY
        );
        assert_eq!(verified["skipped"], json!(["transparency log", "SCT"]));
        assert!(
            verified["trusted_root"]
                .as_str()
                .unwrap()
                .starts_with("trusted_root.json (sha256:"),
            "{verified}"
        );
        // cosign v3 keeps its Sigstore bundle as a referrer: the fallback tag's index.
        let hex = digest.trim_start_matches("sha256:");
        assert_eq!(
            image["cosign"],
            json!([format!("ghcr.io/kyverno/signatures:sha256-{hex}")]),
            "{image}"
        );
    }
    let chart = &manifest["charts"][0];
    assert_eq!(chart["reference"], "ghcr.io/kyverno/charts/kyverno:3.9.0");
    assert_eq!(chart["file"], "charts/kyverno-3.9.0.tgz");
    assert_eq!(
        chart["images"]["admissionController.container.image"],
        "reg.kyverno.io/kyverno/kyverno:v1.19.0"
    );
    assert_eq!(
        chart["verified"]["identity"],
        courselab::bundle::kyverno::CHART_IDENTITY
    );

    // The bundle verifies as a whole, and its layout is one skopeo reads by those names.
    let (code, stdout, stderr) =
        output(lab(publishers.dir.path()).args(["bundle", "verify", "ch14.bundle.tar"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let unpacked = publishers.dir.path().join("unpacked");
    tar::Archive::new(std::fs::File::open(publishers.dir.path().join("ch14.bundle.tar")).unwrap())
        .unpack(&unpacked)
        .unwrap();
    let node = images.iter().find(|i| i["role"] == "kind-node").unwrap();
    let raw = super::registry::debian_tool("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!(
            "oci:{}:docker.io/kindest/node:v1.35.8",
            unpacked.join("oci").display()
        ))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(
        courselab::supply::Digest::sha256_of(&raw.stdout).as_str(),
        node["digest"]
    );
    // Nothing is left beside the output but it.
    assert_eq!(left_beside(publishers.dir.path()), ["ch14.bundle.tar"]);

    // The doctor finds everything the lab needs in it, at the lab's pins; for the course as
    // published (other pins) it names each image the bundle has at another digest.
    let doctor = |course: &Path| {
        let (_, stdout, stderr) = output(
            lab(publishers.dir.path())
                .arg("--course")
                .arg(course)
                .args(["doctor", "ch14", "--bundle", "ch14.bundle.tar", "--json"]),
        );
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"].as_str().unwrap().starts_with("bundle"))
            .map(|f| {
                (
                    f["check"].as_str().unwrap().to_owned(),
                    f["level"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let held = doctor(&publishers.course);
    assert_eq!(held.len(), 12, "{held:#?}");
    assert!(held.iter().all(|(_, level)| level == "ok"), "{held:#?}");
    let published = doctor(&super::repo());
    let problems: Vec<&str> = published
        .iter()
        .filter(|(_, level)| level == "problem")
        .map(|(check, _)| check.as_str())
        .collect();
    assert_eq!(
        problems,
        [
            format!("bundle: kind node image kindest/node:v1.35.8@{NODE_PIN}"),
            format!("bundle: base image ghcr.io/stefanprodan/podinfo:6.9.1@{BASE_PIN}"),
        ]
    );

    let (_, human, _) = output(
        lab(publishers.dir.path())
            .arg("--course")
            .arg(super::repo())
            .args(["doctor", "ch14", "--bundle", "ch14.bundle.tar"]),
    );
    let bundle_lines: String = human
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains("bundle"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(
        "bundle-doctor",
        stable(&bundle_lines, &publishers.registry.addr)
    );

    // A second run refuses to replace the bundle.
    let (code, _, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("exists already; pass --force"), "{stderr}");
}

/// What is beside the output: the bundle, or what creating it left.
fn left_beside(dir: &Path) -> Vec<String> {
    let mut left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".lab-bundle") || n.ends_with(".tar"))
        .collect();
    left.sort();
    left
}

#[test]
fn an_unsigned_kyverno_image_stops_the_bundle_and_leaves_nothing() {
    let unsigned = "reg.kyverno.io/kyverno/background-controller:v1.19.0";
    let publishers = publishers(&[unsigned], &[]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: Kyverno's image {unsigned} did not verify against Kyverno's signing identity, so no bundle was made: cosign exited 10: no signatures found\n"
        ),
    );
    assert_eq!(left_beside(publishers.dir.path()), Vec::<String>::new());
}

#[test]
fn a_kyverno_image_signed_by_another_workflow_stops_the_bundle() {
    // Signed by Kyverno's chart workflow: a genuine Kyverno certificate, but not the identity
    // that releases images.
    let misattributed = "ghcr.io/kyverno/readiness-checker:v1.19.0";
    let publishers = publishers(&[], &[misattributed]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: Kyverno's image {misattributed} did not verify against Kyverno's signing identity, so no bundle was made: cosign exited 1: "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("helm-release.yaml"),
        "cosign names the identity it found: {stderr}"
    );
    assert_eq!(left_beside(publishers.dir.path()), Vec::<String>::new());
}

/// `lab bundle serve` on a loopback port: its address, and the server (stopped with Ctrl-C's
/// signal when dropped, its output checked).
pub(super) struct Server {
    child: std::process::Child,
    pub(super) addr: String,
}

impl Server {
    pub(super) fn start(dir: &Path, file: &str, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .args(["bundle", "serve", file, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim_end()
            .rsplit_once("http://")
            .map(|(_, a)| a.to_owned())
            .unwrap_or_else(|| panic!("the first line names the address: {first:?}"));
        Server { child, addr }
    }

    /// Stops the server as Ctrl-C does and returns its exit code and the rest of its output.
    pub(super) fn stop(mut self) -> (i32, String) {
        use std::io::Read;
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        (status.code().unwrap_or(-1), rest)
    }
}

/// One request: its status, its `Docker-Content-Digest` and its body.
fn http(method: reqwest::Method, url: &str) -> (u16, String, String) {
    runtime().block_on(async {
        let response = reqwest::Client::new()
            .request(method, url)
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let digest = response
            .headers()
            .get("docker-content-digest")
            .map(|d| d.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, digest, response.text().await.unwrap())
    })
}

#[test]
fn a_served_bundle_is_a_read_only_registry_that_crane_skopeo_and_cosign_pull_from() {
    let publishers = publishers(&[], &[]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 0, "{stdout}{stderr}");
    let manifest = publishers.manifest("ch14.bundle.tar");
    let image = |role: &str, name: &str| {
        manifest["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["role"] == role && i["reference"].as_str().unwrap().contains(name))
            .unwrap()
            .clone()
    };
    let node = image("kind-node", "node");
    let kyverno = image("kyverno", "/kyverno/kyverno:");
    let server = Server::start(publishers.dir.path(), "ch14.bundle.tar", &[]);
    let addr = server.addr.clone();

    // By its full name, as crane asks.
    let digest = peer_command("crane")
        .args(["digest", "--insecure"])
        .arg(format!("{addr}/docker.io/kindest/node:v1.35.8"))
        .output()
        .unwrap();
    assert!(
        digest.status.success(),
        "{}",
        String::from_utf8_lossy(&digest.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&digest.stdout).trim(),
        node["digest"]
    );
    // A whole image, every blob checked by crane as it pulls.
    let pulled = publishers.dir.path().join("kyverno.tar");
    let pull = peer_command("crane")
        .args(["pull", "--insecure"])
        .arg(format!("{addr}/reg.kyverno.io/kyverno/kyverno:v1.19.0"))
        .arg(&pulled)
        .output()
        .unwrap();
    assert!(
        pull.status.success(),
        "{}",
        String::from_utf8_lossy(&pull.stderr)
    );
    // As a containerd mirror asks: the registry in `ns`, the repository as the publisher has it.
    let skopeo = super::registry::debian_tool("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{addr}/docker.io/library/registry:3"))
        .output()
        .unwrap();
    assert!(
        skopeo.status.success(),
        "{}",
        String::from_utf8_lossy(&skopeo.stderr)
    );
    let (status, digest, _) = http(
        reqwest::Method::GET,
        &format!("http://{addr}/v2/kindest/node/manifests/v1.35.8?ns=docker.io"),
    );
    assert_eq!(status, 200);
    assert_eq!(digest, node["digest"].as_str().unwrap());
    // The signatures came along and still verify, served from the bundle.
    let verify = peer_command("cosign")
        .env(
            "COSIGN_REPOSITORY",
            format!("{addr}/ghcr.io/kyverno/signatures"),
        )
        .current_dir(publishers.dir.path())
        .args([
            "verify",
            "--certificate-identity-regexp",
            courselab::bundle::kyverno::IMAGE_IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            "trusted_root.json",
            "--insecure-ignore-tlog",
            "--insecure-ignore-sct",
            "--allow-http-registry",
        ])
        .arg(format!(
            "{addr}/reg.kyverno.io/kyverno/kyverno@{}",
            kyverno["digest"].as_str().unwrap()
        ))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Read-only: a push is refused, and what is not there is named as the API names it.
    let (status, _, _) = http(
        reqwest::Method::PUT,
        &format!("http://{addr}/v2/docker.io/kindest/node/manifests/evil"),
    );
    assert_eq!(status, 405);
    let (status, _, text) = http(
        reqwest::Method::GET,
        &format!("http://{addr}/v2/docker.io/nobody/manifests/v1"),
    );
    assert_eq!(status, 404);
    assert!(text.contains("NAME_UNKNOWN"), "{text}");

    let (code, rest) = server.stop();
    assert_eq!(code, 0, "{rest}");
    assert!(rest.ends_with("stopped\n"), "{rest}");
}

#[test]
fn a_tampered_bundle_is_not_served() {
    let publishers = publishers(&[], &[]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The chart's archive changed in place: same size, another digest.
    let path = publishers.dir.path().join("ch14.bundle.tar");
    let at = tar::Archive::new(std::fs::File::open(&path).unwrap())
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_str() == Some("charts/kyverno-3.9.0.tgz"))
        .unwrap()
        .raw_file_position();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at as usize + 100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (code, stdout, stderr) = output(lab(publishers.dir.path()).args([
        "bundle",
        "serve",
        "ch14.bundle.tar",
        "--listen",
        "127.0.0.1:0",
    ]));
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stderr.contains("is not what its manifest says"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn a_bundle_made_for_other_pins_starts_nothing() {
    let publishers = publishers(&[], &[]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The lab has moved on to another node image since the bundle was made.
    let config = std::fs::read_to_string(publishers.course.join("kind-config/ch14.yaml")).unwrap();
    let pinned = regex::Regex::new("kindest/node:v1.35.8@(sha256:[0-9a-f]{64})")
        .unwrap()
        .captures(&config)
        .unwrap()[1]
        .to_owned();
    let other = format!("sha256:{}", "0".repeat(64));
    edit(&publishers.course, "kind-config/ch14.yaml", &pinned, &other);
    let bundle = publishers.dir.path().join("ch14.bundle.tar");
    let (code, stdout, stderr, calls) =
        start_with_stand_ins(&publishers.course, &["--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("does not hold everything lab ch14 downloads, so nothing was started")
            && stderr.contains(&format!("kind node image kindest/node:v1.35.8@{other}"))
            && stderr.contains("lab bundle create ch14"),
        "{stderr}"
    );
    assert_nothing_created(&calls);
}

/// No container was run or loaded and no cluster created: the stand-ins' `calls` say so.
fn assert_nothing_created(calls: &str) {
    for created in ["docker run", "docker load", "kind create"] {
        assert!(!calls.contains(created), "{created}:\n{calls}");
    }
}

/// `lab start ch14 ARGS` for a learner with a key pair, the docker, kind and helm stand-ins
/// first on PATH: exit code, stdout, stderr, and the stand-ins' calls.
fn start_with_stand_ins(course: &Path, args: &[&str]) -> (i32, String, String, String) {
    let learner = tempfile::tempdir().unwrap();
    let keygen = peer_command("cosign")
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", "")
        .current_dir(learner.path())
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let state = learner.path().join("fake-state");
    std::fs::create_dir(&state).unwrap();
    let log = learner.path().join("fake.log");
    let path = format!(
        "{}:{}:{}",
        super::fixture("fake-tools").display(),
        peers_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = lab(learner.path());
    cmd.env("PATH", path)
        .env("FAKE_STATE", &state)
        .env("FAKE_LOG", &log)
        .arg("--course")
        .arg(course)
        .args(["start", "ch14", "--yes"])
        .args(args);
    let (code, stdout, stderr) = output(&mut cmd);
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    (code, stdout, stderr, calls)
}

#[test]
fn a_venue_that_does_not_answer_is_named_with_what_to_check_and_nothing_is_created() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let course = tempfile::tempdir().unwrap();
    copy_course(course.path());
    let (code, stdout, stderr, calls) = start_with_stand_ins(course.path(), &["--mirror", &closed]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach {closed}"))
            && stderr.contains("check that `lab bundle serve` runs there"),
        "{stderr}"
    );
    assert_nothing_created(&calls);
    // Not HOST:PORT: refused before anything is asked.
    for bad in ["--mirror=venue", "--mirror=-venue:5050"] {
        let (code, _, stderr, calls) = start_with_stand_ins(course.path(), &[bad]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("is not HOST:PORT"), "{stderr}");
        assert!(
            !calls.contains("docker version --format {{.Server.Os}}"),
            "{calls}"
        );
    }
}

#[test]
fn an_index_whose_entries_share_a_manifest_is_copied_children_first_once_each() {
    // I0 lists I1 and M; I1 lists M twice: M is read once and pushed before either index
    // (the registry refuses an index whose entries it does not have).
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("venue");
    let blobs = folder.join("oci/blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = courselab::supply::Digest::sha256_of(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).unwrap();
        json!({"digest": digest.as_str(), "size": bytes.len()})
    };
    let mut config =
        put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    config["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
    let mut layer = put(b"a layer");
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar".into();
    let manifest =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer]})
        .to_string();
    let mut m = put(manifest.as_bytes());
    m["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    let index = |entries: Vec<Value>| {
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
            .to_string()
    };
    let i1_text = index(vec![m.clone(), m.clone()]);
    let mut i1 = put(i1_text.as_bytes());
    i1["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    let i0_text = index(vec![i1, m]);
    let mut i0 = put(i0_text.as_bytes());
    i0["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    let top = i0["digest"].as_str().unwrap().to_owned();
    i0["annotations"] = json!({"org.opencontainers.image.ref.name": "docker.io/test/shared:1"});
    std::fs::write(
        folder.join("oci/index.json"),
        json!({"schemaVersion": 2, "manifests": [i0]}).to_string(),
    )
    .unwrap();
    let bundle = dir.path().join("venue.tar");
    courselab::bundle::pack::pack(
        &folder,
        "ch14",
        std::fs::File::create(&bundle).unwrap(),
        &bundle,
    )
    .unwrap();
    let source = courselab::bundle::source::Source::bundle(&bundle).unwrap();
    let lab_registry = TestRegistry::start();
    let to =
        courselab::supply::ImageRef::parse(&format!("{}/test/shared", lab_registry.addr)).unwrap();
    let lab = courselab::supply::registry::RegistryStore::new(
        &to,
        false,
        courselab::supply::registry::Retry::default(),
    );
    let rt = runtime();
    let copy = || {
        rt.block_on(courselab::bundle::load::copy_image(
            &source,
            "docker.io/test/shared",
            "1",
            &lab,
            &to,
            "1",
        ))
        .unwrap()
        .unwrap()
    };
    let (digest, copied) = copy();
    assert_eq!(digest.as_str(), top);
    assert_eq!(
        copied,
        courselab::bundle::load::Copied::Pushed {
            manifests: 3,
            blobs: 2
        }
    );
    let crane = peer_command("crane")
        .args([
            "digest",
            "--insecure",
            &format!("{}/test/shared:1", lab_registry.addr),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&crane.stdout).trim(), top);
    // Again: present, nothing sent.
    assert_eq!(copy().1, courselab::bundle::load::Copied::Present);
}

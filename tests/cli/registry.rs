//! A real OCI registry for tests (Debian's `docker-registry`, CNCF distribution 2.8), started
//! on a free loopback port with its storage in a temp dir and stopped on drop, plus helpers that
//! push images, cosign signatures and attestations to it, signed with real keys; and the
//! lookup of the Debian tools the tests run, which names the package when one is missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::{Value, json};
use sigstore::crypto::{SigStoreSigner, SigningScheme};

/// The path of a program the tests run, found on `PATH`; a missing one fails the test with
/// how to install it (`.ci/test` installs them all).
pub fn installed(program: &str, install: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is not installed: run `.ci/test`, or {install}"))
}

/// A Debian tool the tests run (the package has the program's name).
pub fn debian_tool(program: &str) -> Command {
    Command::new(installed(
        program,
        &format!("`sudo apt-get install {program}`"),
    ))
}

// Issue 10 item 12: a missing tool used to fail with "No such file or directory" and no hint.
#[test]
#[should_panic(
    expected = "courselab-no-such-tool is not installed: run `.ci/test`, or `sudo apt-get install courselab-no-such-tool`"
)]
fn a_missing_tool_names_the_package_to_install() {
    debian_tool("courselab-no-such-tool");
}

/// A running registry; killed when dropped.
pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    _storage: tempfile::TempDir,
}

impl TestRegistry {
    /// Starts a registry and waits until `/v2/` answers.
    pub fn start() -> Self {
        let storage = tempfile::tempdir().unwrap();
        let config = storage.path().join("config.yml");
        std::fs::write(&config, "version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: /tmp}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:0, secret: courselab-tests}\n").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = debian_tool("docker-registry")
            .arg("serve")
            .arg(&config)
            .env("REGISTRY_HTTP_ADDR", &addr)
            .env(
                "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
                storage.path().join("data"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = TestRegistry {
            child,
            addr,
            _storage: storage,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(&self.addr) {
                let _ = write!(stream, "GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut response = String::new();
                let _ = stream.read_to_string(&mut response);
                if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the test registry on {} did not answer /v2/ within 10 s",
            self.addr
        );
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh registry holding one image, `courselab/demo:<tag>` with content `content`, the
/// runtime to push more with, and the image's digest.
pub fn registry_with_image(
    tag: &str,
    content: &str,
) -> (TestRegistry, tokio::runtime::Runtime, String) {
    let registry = TestRegistry::start();
    let rt = runtime();
    let digest = rt.block_on(push_image(&registry.addr, "courselab/demo", tag, content));
    (registry, rt, digest)
}

/// A single-threaded runtime for the async push helpers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A new ECDSA P-256 key pair (unencrypted: scrypt would only slow the tests down).
pub fn key_pair() -> (SigStoreSigner, String) {
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let public = signer
        .to_sigstore_keypair()
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    (signer, public)
}

fn client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    })
}

fn sha256(bytes: &[u8]) -> String {
    courselab::supply::Digest::sha256_of(bytes).to_string()
}

async fn push_manifest(
    addr: &str,
    repo: &str,
    tag: &str,
    config: &[u8],
    layers: &[(Vec<u8>, &str, Value)],
) -> String {
    push_manifest_typed(
        addr,
        repo,
        tag,
        ("application/vnd.oci.image.config.v1+json", config),
        layers,
    )
    .await
}

/// Pushes a manifest whose config has the media type given (a Helm chart's, an artifact's)
/// and the layers given; returns its digest.
pub async fn push_manifest_typed(
    addr: &str,
    repo: &str,
    tag: &str,
    (config_type, config): (&str, &[u8]),
    layers: &[(Vec<u8>, &str, Value)],
) -> String {
    let client = client();
    let reference = Reference::with_tag(addr.to_owned(), repo.to_owned(), tag.to_owned());
    client
        .auth(
            &reference,
            &RegistryAuth::Anonymous,
            oci_client::RegistryOperation::Push,
        )
        .await
        .unwrap();
    client
        .push_blob(&reference, config.to_vec(), &sha256(config))
        .await
        .unwrap();
    let mut descriptors = Vec::new();
    for (bytes, media_type, annotations) in layers {
        client
            .push_blob(&reference, bytes.clone(), &sha256(bytes))
            .await
            .unwrap();
        let mut descriptor =
            json!({"mediaType": media_type, "size": bytes.len(), "digest": sha256(bytes)});
        if !annotations.is_null() {
            descriptor["annotations"] = annotations.clone();
        }
        descriptors.push(descriptor);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "size": config.len(), "digest": sha256(config)},
        "layers": descriptors,
    });
    // serde_json, not oci-client's canonical JSON, which leaves newlines in annotations raw.
    let bytes = serde_json::to_vec(&manifest).unwrap();
    client
        .push_manifest_raw(
            &reference,
            bytes.clone(),
            "application/vnd.oci.image.manifest.v1+json"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    sha256(&bytes)
}

/// Pushes a one-layer image whose content is `content`; returns its digest.
pub async fn push_image(addr: &str, repo: &str, tag: &str, content: &str) -> String {
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"content": content}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(content.as_bytes())]}
    }))
    .unwrap();
    push_manifest(
        addr,
        repo,
        tag,
        &config,
        &[(
            content.as_bytes().to_vec(),
            "application/vnd.oci.image.layer.v1.tar",
            Value::Null,
        )],
    )
    .await
}

/// Signs `addr/repo@digest` with sigstore-rs's own cosign writer (`push_signature`).
pub async fn sign_with_sigstore(addr: &str, repo: &str, digest: &str, signer: SigStoreSigner) {
    use sigstore::cosign::constraint::{Constraint, PrivateKeySigner};
    use sigstore::cosign::{ClientBuilder, CosignCapabilities, SignatureLayer};
    use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
    let config = ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    };
    let mut client = ClientBuilder::default()
        .with_oci_client_config(config)
        .build()
        .unwrap();
    let image: OciReference = format!("{addr}/{repo}@{digest}").parse().unwrap();
    let (signature_ref, resolved) = client.triangulate(&image, &Auth::Anonymous).await.unwrap();
    assert_eq!(resolved, digest);
    let mut layer = SignatureLayer::new_unsigned(&image, &resolved).unwrap();
    PrivateKeySigner::new_with_signer(signer)
        .add_constraint(&mut layer)
        .unwrap();
    client
        .push_signature(None, &Auth::Anonymous, &signature_ref, vec![layer])
        .await
        .unwrap();
}

/// A cosign simple-signing payload naming `digest`.
pub fn payload(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {"identity": {"docker-reference": reference}, "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
        "optional": null
    }))
    .unwrap()
}

/// Pushes a signature manifest for `digest` whose layers are (payload, base64 signature).
pub async fn push_signature_layers(
    addr: &str,
    repo: &str,
    digest: &str,
    layers: Vec<(Vec<u8>, String)>,
) {
    let layers = layers
        .into_iter()
        .map(|(p, s)| (p, json!({"dev.cosignproject.cosign/signature": s})))
        .collect();
    push_signature_layers_with(addr, repo, digest, layers).await;
}

/// Pushes a signature manifest for `digest` whose layers are (payload, annotations); null
/// annotation values are left out.
pub async fn push_signature_layers_with(
    addr: &str,
    repo: &str,
    digest: &str,
    layers: Vec<(Vec<u8>, Value)>,
) {
    let tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let layers: Vec<(Vec<u8>, &str, Value)> = layers
        .into_iter()
        .map(|(p, mut annotations)| {
            if let Some(map) = annotations.as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
            (
                p,
                "application/vnd.dev.cosign.simplesigning.v1+json",
                annotations,
            )
        })
        .collect();
    push_manifest(addr, repo, &tag, b"{}", &layers).await;
}

/// Signs `payload` and returns the base64 signature, as cosign stores it.
pub fn sign(signer: &SigStoreSigner, payload: &[u8]) -> String {
    STANDARD.encode(signer.sign(payload).unwrap())
}

/// A minimal, valid SPDX 2.3 document.
pub fn spdx_document(name: &str) -> Value {
    json!({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": name, "documentNamespace": format!("https://courselab.example/spdx/{name}"),
        "creationInfo": {"created": "2026-11-22T10:00:00Z", "creators": ["Tool: courselab-tests"]},
        "packages": [
            {"SPDXID": "SPDXRef-Package-demo", "name": "demo", "versionInfo": "1.4.2", "downloadLocation": "NOASSERTION", "filesAnalyzed": false},
            {"SPDXID": "SPDXRef-Package-musl", "name": "musl", "versionInfo": "1.2.5", "downloadLocation": "NOASSERTION", "filesAnalyzed": false}
        ],
        "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Package-demo"}]
    })
}

/// An in-toto statement about `digest`.
pub fn statement(repo: &str, digest: &str, predicate_type: &str, predicate: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": repo, "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicate": predicate
    }))
    .unwrap()
}

/// Pushes an attestation manifest for `digest` with one DSSE envelope per statement.
pub async fn push_attestations(
    addr: &str,
    repo: &str,
    digest: &str,
    signer: &SigStoreSigner,
    statements: &[(Vec<u8>, &str)],
) {
    let tag = format!("sha256-{}.att", digest.trim_start_matches("sha256:"));
    let layers: Vec<(Vec<u8>, &str, Value)> = statements
        .iter()
        .map(|(statement, predicate_type)| {
            let pae =
                courselab::supply::attestation::pae("application/vnd.in-toto+json", statement);
            let envelope = json!({
                "payloadType": "application/vnd.in-toto+json",
                "payload": STANDARD.encode(statement),
                "signatures": [{"keyid": "", "sig": STANDARD.encode(signer.sign(&pae).unwrap())}]
            });
            (
                serde_json::to_vec(&envelope).unwrap(),
                "application/vnd.dsse.envelope.v1+json",
                json!({"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type}),
            )
        })
        .collect();
    push_manifest(addr, repo, &tag, b"{}", &layers).await;
}

//! Registries that do not behave: one that accepts and never answers, one that streams without
//! end, one that answers with random bytes or with blobs that are not what their digests say.
//! Each is a small HTTP server of the test's own, serving a signed image built with
//! `courselab::supply::fixture` (so a well-behaved one verifies), with one answer spoiled.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courselab::supply::Digest;
use courselab::supply::fixture::{self, OCI_MANIFEST_MEDIA_TYPE, SigningKey};

use super::{lab, repo};

const REPO: &str = "courselab/demo";

/// What the test server sends for one request.
#[derive(Clone)]
enum Reply {
    /// Nothing, ever: the connection is held open.
    Silent,
    /// A whole answer.
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// `200` and a body that does not end (the server stops at 256 MiB, in case `lab` reads on).
    Endless { prefix: Vec<u8> },
    /// `200` and a body of one byte a second: never idle long enough for a read timeout.
    Trickle,
}

fn json(status: u16, body: &[u8]) -> Reply {
    Reply::Answer {
        status,
        headers: vec![("Content-Type", OCI_MANIFEST_MEDIA_TYPE.to_owned())],
        body: body.to_vec(),
    }
}

/// One request as the handler sees it.
struct Request {
    path: String,
    authorization: Option<String>,
    /// The server's own `127.0.0.1:<port>`.
    host: String,
}

/// A test HTTP server on a free loopback port; each connection gets one answer, then is closed.
struct TestServer {
    addr: String,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl TestServer {
    fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let held = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let (host, kept) = (addr.clone(), held.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, host, kept) = (handler.clone(), host.clone(), kept.clone());
                std::thread::spawn(move || serve(stream, &*handler, host, &kept));
            }
        });
        TestServer { addr, _held: held }
    }
}

fn serve(
    mut stream: TcpStream,
    handler: &dyn Fn(&Request) -> Reply,
    host: String,
    held: &Mutex<Vec<TcpStream>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let authorization = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("authorization: ")
                .or(l.strip_prefix("Authorization: "))
        })
        .map(str::to_owned);
    let request = Request {
        path,
        authorization,
        host,
    };
    match handler(&request) {
        Reply::Silent => held.lock().unwrap().push(stream),
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("Connection: close\r\n\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body);
        }
        Reply::Trickle => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST_MEDIA_TYPE}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            while stream.write_all(b"a").is_ok() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Reply::Endless { prefix } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST_MEDIA_TYPE}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&prefix);
            let spaces = vec![b' '; 64 << 10];
            for _ in 0..(256 << 20) / spaces.len() {
                if stream.write_all(&spaces).is_err() {
                    return; // `lab` hung up: what the test wants
                }
            }
        }
    }
}

/// A signed image, as a registry would serve it: manifests by tag and digest, blobs by digest.
struct SignedImage {
    manifests: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, Vec<u8>>,
    /// The digest of the signature layer (the simple-signing payload).
    payload_blob: String,
    public_pem: String,
}

impl SignedImage {
    fn new() -> Arc<Self> {
        let key = SigningKey::generate().unwrap();
        let image = fixture::image("hostile-registry");
        let signature = fixture::signature_manifest(REPO, &image.digest, &[&key]).unwrap();
        let mut manifests = HashMap::new();
        manifests.insert("1.0".to_owned(), image.bytes.clone());
        manifests.insert(image.digest.to_string(), image.bytes.clone());
        manifests.insert(image.digest.cosign_tag("sig"), signature.bytes.clone());
        let mut blobs = HashMap::new();
        for blob in image.blobs.iter().chain(&signature.blobs) {
            blobs.insert(Digest::sha256_of(blob).to_string(), blob.clone());
        }
        Arc::new(SignedImage {
            manifests,
            blobs,
            payload_blob: Digest::sha256_of(&signature.blobs[1]).to_string(),
            public_pem: key.public_pem().unwrap(),
        })
    }

    /// What a well-behaved registry answers.
    fn answer(&self, path: &str) -> Reply {
        let prefix = format!("/v2/{REPO}/");
        let found = path.strip_prefix(&prefix).and_then(|rest| {
            if let Some(reference) = rest.strip_prefix("manifests/") {
                self.manifests.get(reference)
            } else {
                self.blobs.get(rest.strip_prefix("blobs/")?)
            }
        });
        match found {
            Some(body) => json(200, body),
            None if path == "/v2/" => json(200, b"{}"),
            None => json(
                404,
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ),
        }
    }

    fn blob_path(&self) -> String {
        format!("/v2/{REPO}/blobs/{}", self.payload_blob)
    }
}

/// `lab verify` of `host/courselab/demo:1.0` with the image's key, killed if it outlives
/// `bound`; (exit code, stderr, how long it took).
fn verify_within(host: &str, image: &SignedImage, bound: Duration) -> (i32, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, &image.public_pem).unwrap();
    let mut cmd = lab(&repo());
    cmd.arg("verify")
        .arg("--key")
        .arg(&key)
        .arg(format!("{host}/{REPO}:1.0"));
    let (code, _, stderr, took) = run_within(cmd, bound);
    (code, stderr, took)
}

/// Runs `cmd`, killed if it outlives `bound`; (exit code, stdout, stderr, how long it took).
fn run_within(mut cmd: assert_cmd::Command, bound: Duration) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let out = cmd.timeout(bound).output().expect("lab runs");
    let took = start.elapsed();
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "lab was still running after {bound:?} (killed): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (code, text(out.stdout), text(out.stderr), took)
}

/// The figures `lab verify --help` states: "given up on within N s (within M s when it sends
/// nothing at all)", as (N, M).
fn documented_bounds() -> (Duration, Duration) {
    let out = lab(&repo()).args(["verify", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap().replace('\n', " ");
    let figure = |after: &str| {
        let (_, rest) = help
            .split_once(after)
            .unwrap_or_else(|| panic!("`lab verify --help` says `{after}`: {help}"));
        Duration::from_secs(rest.split(' ').next().unwrap().parse().unwrap())
    };
    (figure("given up on within "), figure("s (within "))
}

#[test]
fn the_well_behaved_test_server_verifies() {
    // Without this, the spoiled servers below could fail for a reason of their own.
    let image = SignedImage::new();
    let served = image.clone();
    let server = TestServer::start(move |r| served.answer(&r.path));
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_silent_registry_fails_verify_admit_and_test_within_the_documented_bound() {
    // A port that accepted and never answered hung all three commands for more than 300 s.
    let server = TestServer::start(|_| Reply::Silent);
    let host = server.addr.clone();
    let (worst, silent) = documented_bounds();
    assert_eq!(
        (worst, silent),
        (Duration::from_secs(43), Duration::from_secs(23))
    );
    for command in ["test", "admit"] {
        let out = lab(&repo()).args([command, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap().replace('\n', " ");
        assert!(
            help.contains("given up on within 43 s"),
            "{command}: {help}"
        );
    }
    let bound = silent;
    let kill_after = worst + Duration::from_secs(30);
    let image = SignedImage::new();
    let verify = {
        let host = host.clone();
        std::thread::spawn(move || verify_within(&host, &image, kill_after))
    };
    let admit = {
        let host = host.clone();
        std::thread::spawn(move || {
            let dir = tempfile::tempdir().unwrap();
            let pod = dir.path().join("pod.yaml");
            // Two images on the one registry: it is waited for once, not twice.
            std::fs::write(
                &pod,
                format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: hotfix\n  namespace: develop\nspec:\n  containers:\n    - name: app\n      image: {host}/courselab/demo:1.4.2\n    - name: sidecar\n      image: {host}/courselab/sidecar:1.0\n"),
            )
            .unwrap();
            let mut cmd = lab(&repo());
            cmd.args(["admit", "--chapter", "ch14", "-f"])
                .arg(&pod)
                .arg("--set")
                .arg(format!("image_registry={host}/courselab"))
                .args([
                    "--set",
                    "cosign_public_key=labs/ch14/tests/keys/test-only-signer.pub",
                ]);
            run_within(cmd, kill_after)
        })
    };
    let test = std::thread::spawn(move || {
        let mut cmd = lab(&repo());
        cmd.args(["test", "ch14", "--registry", &host]);
        run_within(cmd, kill_after)
    });
    let (code, stderr, took) = verify.join().unwrap();
    assert_eq!(code, 3, "verify: {stderr}");
    assert!(
        stderr.contains("nothing arrived for 5 s (4 attempts in 22."),
        "verify: {stderr}"
    );
    assert_within(took, bound, "verify");
    let (code, stdout, _, took) = admit.join().unwrap();
    assert_eq!(code, 3, "admit: {stdout}");
    assert!(
        stdout.contains("registry unreachable: 127.0.0.1"),
        "admit: {stdout}"
    );
    assert_within(took, bound, "admit");
    let (code, _, stderr, took) = test.join().unwrap();
    assert_eq!(code, 3, "test: {stderr}");
    assert!(stderr.contains("nothing arrived for 5 s"), "test: {stderr}");
    assert_within(took, bound, "test");
}

/// Four attempts of 5 s ran (not fewer), and the whole took no longer than documented for a
/// registry that sends nothing, give or take the start of a process on a busy machine.
fn assert_within(took: Duration, bound: Duration, command: &str) {
    assert!(
        took >= Duration::from_secs(20),
        "{command} gave up after {took:?}, before 4 attempts of 5 s"
    );
    assert!(
        took <= bound + Duration::from_secs(2),
        "{command} took {took:?}, more than the documented {bound:?}"
    );
}

#[test]
fn a_trickling_registry_is_given_up_on_within_the_documented_worst_case() {
    // A read timeout alone never fires while a byte arrives now and then; each attempt also
    // has a deadline.
    let server = TestServer::start(|_| Reply::Trickle);
    let (worst, _) = documented_bounds();
    let image = SignedImage::new();
    let (code, stderr, took) = verify_within(&server.addr, &image, worst + Duration::from_secs(30));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("no complete answer within 10 s (4 attempts in 42."),
        "{stderr}"
    );
    assert!(took >= Duration::from_secs(40), "gave up after {took:?}");
    assert!(
        took <= worst + Duration::from_secs(2),
        "took {took:?}, more than the documented {worst:?}"
    );
}

#[test]
fn an_endless_manifest_is_cut_off_at_4_mib() {
    // A server streaming an endless manifest made `lab` buffer 3.9 GB and abort (exit 134).
    let image = SignedImage::new();
    let served = image.clone();
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/v2/courselab/demo/manifests/1.0" => Reply::Endless {
            prefix: br#"{"schemaVersion":2,"layers":["#.to_vec(),
        },
        path => served.answer(path),
    });
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(30));
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}/courselab/demo:1.0: the registry sent more than the 4 MiB a manifest may have",
            server.addr
        )),
        "{stderr}"
    );
}

#[test]
fn an_endless_signature_layer_is_cut_off_at_its_descriptor_size() {
    // `pull_blob` wrote whatever the registry sent; the descriptor's size is the limit.
    let image = SignedImage::new();
    let served = image.clone();
    let blob = image.blob_path();
    let server = TestServer::start(move |r| {
        if r.path == blob {
            Reply::Endless { prefix: Vec::new() }
        } else {
            served.answer(&r.path)
        }
    });
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(30));
    assert_eq!(code, 4, "{stderr}");
    let size = image.blobs[&image.payload_blob].len();
    assert!(
        stderr.contains(&format!(
            "the registry sent more than the {size} bytes its descriptor gives"
        )),
        "{stderr}"
    );
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_a_verification_failure() {
    // It exited 3 ("cannot reach"), as if the registry were down.
    let image = SignedImage::new();
    let served = image.clone();
    let blob = image.blob_path();
    let server = TestServer::start(move |r| {
        if r.path == blob {
            let mut bytes = served.blobs[&served.payload_blob].clone();
            bytes[0] ^= 1;
            json(200, &bytes)
        } else {
            served.answer(&r.path)
        }
    });
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(30));
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "blob {} of {}/courselab/demo: the registry sent bytes that do not hash to it",
            image.payload_blob, server.addr
        )),
        "{stderr}"
    );
}

#[test]
fn random_bytes_for_a_manifest_are_not_an_image_without_signatures() {
    // Any answer was taken for a manifest; one that is not must be reported as such.
    let image = SignedImage::new();
    let served = image.clone();
    let noise: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let server = TestServer::start(move |r| match r.path.as_str() {
        "/v2/courselab/demo/manifests/1.0" => json(200, &noise),
        path => served.answer(path),
    });
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(30));
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("1.0: the registry's answer is not an OCI manifest ("),
        "{stderr}"
    );
    assert!(!stderr.contains("no signatures found"), "{stderr}");
}

#[test]
fn a_registry_that_wants_a_bearer_token_gets_one() {
    // Pulls now do the token exchange themselves (to bound it); it must still work.
    let image = SignedImage::new();
    let served = image.clone();
    let server = TestServer::start(move |r| {
        if r.path.starts_with("/token?") {
            assert!(
                r.path
                    .contains("scope=repository%3Acourselab%2Fdemo%3Apull"),
                "{}",
                r.path
            );
            return json(200, br#"{"token":"t0ken"}"#);
        }
        if r.authorization.as_deref() == Some("Bearer t0ken") {
            return served.answer(&r.path);
        }
        Reply::Answer {
            status: 401,
            headers: vec![(
                "WWW-Authenticate",
                format!("Bearer realm=\"http://{}/token\",service=\"test\"", r.host),
            )],
            body: br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                .to_vec(),
        }
    });
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_endless_token_answer_is_cut_off() {
    // The token endpoint is the registry's to choose; it is read with a limit too.
    let image = SignedImage::new();
    let server = TestServer::start(move |r| {
        if r.path.starts_with("/token?") {
            return Reply::Endless {
                prefix: br#"{"token":""#.to_vec(),
            };
        }
        Reply::Answer {
            status: 401,
            headers: vec![(
                "WWW-Authenticate",
                format!("Bearer realm=\"http://{}/token\"", r.host),
            )],
            body: Vec::new(),
        }
    });
    let (code, stderr, _) = verify_within(&server.addr, &image, Duration::from_secs(30));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("/token sent more than the 1 MiB a token may have"),
        "{stderr}"
    );
}

/// Kyverno's chart as a publisher serves it here: (its manifest, then each blob by digest).
fn chart_artifact() -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let chart = b"not really a chart, but the layer's own bytes".to_vec();
    let config = br#"{"name":"kyverno"}"#.to_vec();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": courselab::bundle::kyverno::CHART_LAYER, "digest": Digest::sha256_of(&chart).to_string(), "size": chart.len()}]
    })
    .to_string()
    .into_bytes();
    let blobs = [config, chart]
        .into_iter()
        .map(|b| (Digest::sha256_of(&b).to_string(), b))
        .collect();
    (manifest, blobs)
}

/// `lab bundle create ch14` through a publisher (every publisher mapped to it) that serves
/// Kyverno's chart as `spoil` leaves it, with the real cosign on the PATH; (exit code, stderr,
/// what is left in the output's folder).
fn bundle_from(
    spoil: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static,
) -> (i32, String, Vec<String>) {
    let (manifest, blobs) = chart_artifact();
    let server = TestServer::start(move |r| {
        if let Some(reply) = spoil(&r.path) {
            return reply;
        }
        let rest = r.path.strip_prefix("/v2/kyverno/charts/kyverno/");
        if rest == Some("manifests/3.9.0") {
            return json(200, &manifest);
        }
        if let Some((_, blob)) = blobs
            .iter()
            .find(|(digest, _)| rest == Some(&format!("blobs/{digest}")))
        {
            return json(200, blob);
        }
        if r.path == "/v2/" {
            return json(200, b"{}");
        }
        json(
            404,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        super::peers::peers_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = lab(dir.path());
    cmd.env("PATH", path).arg("--course").arg(repo()).args([
        "bundle",
        "create",
        "ch14",
        "-o",
        "ch14.bundle.tar",
    ]);
    for publisher in ["docker.io", "ghcr.io", "reg.kyverno.io"] {
        cmd.args(["--registry-mirror", &format!("{publisher}={}", server.addr)]);
    }
    let (code, _, stderr, _) = run_within(cmd, Duration::from_secs(120));
    let left = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (code, stderr, left)
}

#[test]
fn a_publisher_that_sends_other_bytes_stops_the_bundle_and_leaves_nothing() {
    let (_, blobs) = chart_artifact();
    let (layer, bytes) = blobs[1].clone();
    let (code, stderr, left) = bundle_from(move |path| {
        path.ends_with(&format!("/blobs/{layer}")).then(|| {
            let mut other = bytes.clone();
            other[0] ^= 1;
            json(200, &other)
        })
    });
    assert_eq!(code, 4, "{stderr}");
    // Named as the lab knows it, then where it was read from.
    assert!(
        stderr.starts_with(&format!(
            "error: ghcr.io/kyverno/charts/kyverno:3.9.0: blob {} of 127.0.0.1:",
            blobs[1].0
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("/kyverno/charts/kyverno: the registry sent bytes that do not hash to it"),
        "{stderr}"
    );
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn a_publisher_layer_that_never_ends_is_cut_off_at_its_descriptor_size() {
    let (_, blobs) = chart_artifact();
    let layer = blobs[1].0.clone();
    let (code, stderr, left) = bundle_from(move |path| {
        path.ends_with(&format!("/blobs/{layer}"))
            .then(|| Reply::Endless { prefix: Vec::new() })
    });
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the registry sent more than the {} bytes its descriptor gives",
            blobs[1].1.len()
        )),
        "{stderr}"
    );
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn a_publisher_index_nested_past_three_levels_is_refused() {
    // index -> index -> index -> (anything): one level more than an image has.
    let index = |child: &str, size: usize| {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": child, "size": size}]
        })
        .to_string()
    };
    let leaf = index(
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        2,
    );
    let leaf_digest = Digest::sha256_of(leaf.as_bytes()).to_string();
    let middle = index(&leaf_digest, leaf.len());
    let middle_digest = Digest::sha256_of(middle.as_bytes()).to_string();
    let top = index(&middle_digest, middle.len());
    let (code, stderr, left) = bundle_from(move |path| {
        if path.ends_with("/manifests/3.9.0") {
            Some(json(200, top.as_bytes()))
        } else if path.ends_with(&format!("/manifests/{middle_digest}")) {
            Some(json(200, middle.as_bytes()))
        } else if path.ends_with(&format!("/manifests/{leaf_digest}")) {
            Some(json(200, leaf.as_bytes()))
        } else {
            None
        }
    });
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("it lists more than 1000 entries or nests indexes more than 3 deep"),
        "{stderr}"
    );
    assert_eq!(left, Vec::<String>::new());
}

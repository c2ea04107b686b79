//! OCI layouts that do not hold what they claim: a blob that is a FIFO, a symbolic link out of
//! the layout, a file of another size than its descriptor or another content than its digest.
//! Each layout is written with `courselab::supply::layout::LayoutWriter` (a signed image, as
//! skopeo lays it out) and then spoiled in one place.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use courselab::supply::Digest;
use courselab::supply::fixture::{self, OCI_MANIFEST_MEDIA_TYPE, SigningKey};
use courselab::supply::layout::LayoutWriter;

use super::{lab, repo};

const IMAGE: &str = "127.0.0.1:5000/courselab/demo:1.0";

/// A layout holding a signed `courselab/demo:1.0`, its key, and the path of the signature
/// layer's blob (the one the tests spoil).
struct SignedLayout {
    dir: tempfile::TempDir,
    layout: PathBuf,
    payload_blob: PathBuf,
}

impl SignedLayout {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let key = SigningKey::generate().unwrap();
        let image = fixture::image("hostile-layout");
        let signature =
            fixture::signature_manifest("courselab/demo", &image.digest, &[&key]).unwrap();
        let mut writer = LayoutWriter::create(&layout).unwrap();
        writer.add(&image, OCI_MANIFEST_MEDIA_TYPE, "1.0").unwrap();
        let sig_tag = image.digest.cosign_tag("sig");
        writer
            .add(&signature, OCI_MANIFEST_MEDIA_TYPE, &sig_tag)
            .unwrap();
        writer.finish().unwrap();
        std::fs::write(dir.path().join("cosign.pub"), key.public_pem().unwrap()).unwrap();
        let payload = Digest::sha256_of(&signature.blobs[1]);
        let payload_blob = layout.join("blobs/sha256").join(payload.hex());
        SignedLayout {
            dir,
            layout,
            payload_blob,
        }
    }

    /// `lab verify --layout`, killed if it takes 30 s; (exit code, stderr).
    fn verify(&self) -> (i32, String) {
        let start = Instant::now();
        let out = lab(&repo())
            .arg("verify")
            .arg(IMAGE)
            .arg("--layout")
            .arg(&self.layout)
            .arg("--key")
            .arg(self.dir.path().join("cosign.pub"))
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let code = out
            .status
            .code()
            .unwrap_or_else(|| panic!("lab was still reading after {:?}", start.elapsed()));
        (code, stderr)
    }
}

fn replace_with_symlink(target: &Path, link: &Path) {
    std::fs::remove_file(link).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn the_unspoiled_layout_verifies() {
    // Without this, the spoiled layouts below could fail for a reason of their own.
    let (code, stderr) = SignedLayout::new().verify();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_fifo_for_a_blob_is_refused_not_waited_on() {
    // Opening a FIFO blocks until someone writes to it: `lab verify --layout` hung.
    let layout = SignedLayout::new();
    std::fs::remove_file(&layout.payload_blob).unwrap();
    super::mkfifo(&layout.payload_blob);
    let (code, stderr) = layout.verify();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is a FIFO, not a regular file",
            layout.payload_blob.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_fifo_for_index_json_is_refused_not_waited_on() {
    // The same hang, one file earlier.
    let layout = SignedLayout::new();
    let index = layout.layout.join("index.json");
    std::fs::remove_file(&index).unwrap();
    super::mkfifo(&index);
    let (code, stderr) = layout.verify();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("index.json is a FIFO"), "{stderr}");
}

#[test]
fn a_symlink_to_dev_zero_is_not_followed() {
    // A blob linked to /dev/zero was read until `lab` had eaten 2 GB.
    let layout = SignedLayout::new();
    replace_with_symlink(Path::new("/dev/zero"), &layout.payload_blob);
    let (code, stderr) = layout.verify();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("leads to /dev/zero, outside the layout, which is not read"),
        "{stderr}"
    );
}

#[test]
fn a_symlink_out_of_the_layout_is_not_followed_even_to_the_right_bytes() {
    // What lies outside the layout is not evidence, whatever it holds.
    let layout = SignedLayout::new();
    let outside = layout.dir.path().join("elsewhere");
    std::fs::copy(&layout.payload_blob, &outside).unwrap();
    replace_with_symlink(&outside, &layout.payload_blob);
    let (code, stderr) = layout.verify();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("outside the layout"), "{stderr}");
}

#[test]
fn a_symlink_inside_the_layout_is_followed() {
    // Links between a layout's own files are harmless, and some tools write them.
    let layout = SignedLayout::new();
    let moved = layout.layout.join("payload-copy");
    std::fs::copy(&layout.payload_blob, &moved).unwrap();
    replace_with_symlink(Path::new("../../payload-copy"), &layout.payload_blob);
    let (code, stderr) = layout.verify();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_blob_longer_than_its_descriptor_is_a_verification_failure() {
    // The descriptor's size is checked before anything is read.
    let layout = SignedLayout::new();
    let mut bytes = std::fs::read(&layout.payload_blob).unwrap();
    let size = bytes.len();
    bytes.extend_from_slice(b"appended");
    std::fs::write(&layout.payload_blob, bytes).unwrap();
    let (code, stderr) = layout.verify();
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "it holds {} bytes, not the {size} bytes its descriptor gives",
            size + 8
        )),
        "{stderr}"
    );
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_a_verification_failure() {
    // It exited 2, as if the user had passed something wrong; the evidence itself is bad.
    let layout = SignedLayout::new();
    let mut bytes = std::fs::read(&layout.payload_blob).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&layout.payload_blob, bytes).unwrap();
    let (code, stderr) = layout.verify();
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("it does not hash to its name: the layout is corrupt"),
        "{stderr}"
    );
}

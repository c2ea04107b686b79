use std::io::Write;

use super::*;

fn files(pairs: &[(&str, &[u8])]) -> Files {
    pairs
        .iter()
        .map(|(name, data)| ((*name).to_owned(), data.to_vec()))
        .collect()
}

fn written(files: &Files) -> Vec<u8> {
    let mut out = Vec::new();
    write(files, &mut out).unwrap();
    out
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(tar).unwrap();
    gz.finish().unwrap()
}

/// One raw tar entry: the name's bytes go into the header as they are (the tar crate's own
/// setters refuse `..` and absolute names, which is what these tests must be able to write).
fn raw_entry(name: &[u8], kind: EntryType, size: u64, data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    if matches!(kind, EntryType::Symlink | EntryType::Link) {
        header.set_link_name("/etc/passwd").unwrap();
    }
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn raw_tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn refused(bytes: &[u8]) -> ArchiveError {
    read(bytes, Limits::default()).unwrap_err()
}

#[test]
fn what_is_written_reads_back_and_the_same_files_give_the_same_bytes() {
    let files = files(&[
        ("statement.sigstore.json", b"{}"),
        ("evidence/pod-image-ids.txt", b"sha256:abc\n"),
        ("layout/blobs/sha256/00ff", &[0u8, 1, 2, 255]),
    ]);
    let first = written(&files);
    assert_eq!(
        first,
        written(&files),
        "two writes of the same files differ"
    );
    assert_eq!(read(first.as_slice(), Limits::default()).unwrap(), files);
}

#[test]
fn the_writer_refuses_a_name_the_reader_would_refuse() {
    for name in ["../x", "/etc/passwd", ".hidden", "a//b", "a b"] {
        let mut out = Vec::new();
        let error = write(&files(&[(name, b"x")]), &mut out).unwrap_err();
        assert!(
            error.to_string().contains("cannot hold a file named"),
            "{name}: {error}"
        );
    }
}

#[test]
fn a_file_that_is_not_gzip_is_refused() {
    assert_eq!(refused(b""), ArchiveError::NotGzip);
    assert_eq!(refused(b"PK\x03\x04 a zip"), ArchiveError::NotGzip);
    assert_eq!(refused(&raw_tar(&[])), ArchiveError::NotGzip);
}

#[test]
fn a_truncated_archive_is_refused_wherever_it_is_cut() {
    let whole = written(&files(&[("evidence/a.txt", &[7u8; 5000])]));
    for cut in [3, 10, whole.len() / 2, whole.len() - 4, whole.len() - 1] {
        let error = refused(&whole[..cut]);
        assert!(
            matches!(error, ArchiveError::Corrupt(_)),
            "cut at {cut}: {error:?}"
        );
    }
}

#[test]
fn a_flipped_byte_in_the_compressed_stream_is_refused() {
    let mut bytes = written(&files(&[("evidence/a.txt", b"all is well here\n")]));
    let at = bytes.len() - 6; // inside the gzip trailer's CRC
    bytes[at] ^= 0x40;
    assert!(matches!(refused(&bytes), ArchiveError::Corrupt(_)));
}

#[test]
fn names_that_climb_out_or_are_absolute_or_odd_are_refused_with_the_reason() {
    let cases: [(&[u8], &str); 6] = [
        (b"../../etc/passwd", "climbs out"),
        (b"evidence/../../x", "climbs out"),
        (b"/etc/passwd", "absolute"),
        (b"evidence/.hidden", "dot"),
        (b"evidence/a\x1b[31mred", "character other than"),
        (b"a/b/c/d/e/f/g/h/i", "8 folders"),
    ];
    for (name, reason) in cases {
        let bytes = gzip(&raw_tar(&[raw_entry(name, EntryType::Regular, 1, b"x")]));
        let error = refused(&bytes);
        let message = error.to_string();
        assert!(matches!(error, ArchiveError::BadName { .. }), "{message}");
        assert!(message.contains(reason), "{message}");
        assert!(
            !message.contains('\x1b'),
            "the name reached the message raw: {message:?}"
        );
    }
}

#[test]
fn a_name_that_is_not_utf8_is_refused() {
    let bytes = gzip(&raw_tar(&[raw_entry(
        b"evidence/\xff\xfe",
        EntryType::Regular,
        1,
        b"x",
    )]));
    assert_eq!(
        refused(&bytes),
        ArchiveError::BadName {
            path: "evidence/\\xff\\xfe".into(),
            reason: "is not UTF-8",
        },
        "the bytes are shown as they are"
    );
}

#[test]
fn links_devices_fifos_and_directories_are_refused_by_kind() {
    let cases = [
        (EntryType::Symlink, "a symbolic link"),
        (EntryType::Link, "a hard link"),
        (EntryType::Char, "a character device"),
        (EntryType::Block, "a block device"),
        (EntryType::Fifo, "a FIFO"),
        (EntryType::Directory, "a directory"),
    ];
    for (kind, said) in cases {
        let bytes = gzip(&raw_tar(&[raw_entry(b"evidence/x", kind, 0, b"")]));
        let message = refused(&bytes).to_string();
        assert!(message.contains(said), "{kind:?}: {message}");
    }
}

#[test]
fn a_name_that_appears_twice_is_refused() {
    let bytes = gzip(&raw_tar(&[
        raw_entry(b"evidence/a.txt", EntryType::Regular, 1, b"a"),
        raw_entry(b"evidence/a.txt", EntryType::Regular, 1, b"b"),
    ]));
    assert_eq!(
        refused(&bytes),
        ArchiveError::Duplicate {
            path: "evidence/a.txt".to_owned()
        }
    );
}

#[test]
fn a_decompression_bomb_stops_at_the_ratio() {
    let bomb = written(&files(&[("evidence/zeros", &vec![0u8; 8 << 20])]));
    assert!(
        bomb.len() < 64 << 10,
        "the test's bomb compresses to {} bytes",
        bomb.len()
    );
    assert_eq!(refused(&bomb), ArchiveError::Ratio { ratio: 200 });
}

#[test]
fn an_archive_that_inflates_past_the_limit_is_refused_even_at_a_modest_ratio() {
    let limits = Limits {
        inflated_bytes: 1 << 20,
        ratio: u64::MAX,
        ..Limits::default()
    };
    let bytes = written(&files(&[("evidence/big", &vec![1u8; 2 << 20])]));
    assert_eq!(
        read(bytes.as_slice(), limits).unwrap_err(),
        ArchiveError::InflatesTooMuch { limit: 1 << 20 }
    );
}

#[test]
fn a_header_claiming_a_huge_file_is_refused_before_it_is_read() {
    let bytes = gzip(&raw_tar(&[raw_entry(
        b"evidence/huge",
        EntryType::Regular,
        1 << 40,
        b"",
    )]));
    assert!(matches!(
        refused(&bytes),
        ArchiveError::EntryTooLarge { size, .. } if size == 1 << 40
    ));
}

#[test]
fn too_many_entries_are_refused_at_the_first_one_over() {
    let limits = Limits {
        entries: 100,
        ..Limits::default()
    };
    let many: Files = (0..101)
        .map(|i| (format!("evidence/f{i}"), Vec::new()))
        .collect();
    let bytes = written(&many);
    assert_eq!(
        read(bytes.as_slice(), limits).unwrap_err(),
        ArchiveError::TooManyEntries { limit: 100 }
    );
    let fewer: Files = many.into_iter().take(100).collect();
    assert_eq!(read(written(&fewer).as_slice(), limits).unwrap().len(), 100);
}

#[test]
fn a_file_larger_than_allowed_compressed_is_refused() {
    let limits = Limits {
        compressed_bytes: 1000,
        ..Limits::default()
    };
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let bytes = written(&files(&[("evidence/noise", &noise)]));
    assert_eq!(
        read(bytes.as_slice(), limits).unwrap_err(),
        ArchiveError::TooLarge { limit: 1000 }
    );
}

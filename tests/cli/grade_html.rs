//! `lab grade --format html` opened in a real browser, Debian's headless Chromium, on a machine
//! with no network: the page logs nothing to the console (a CSP violation would be logged
//! there), asks the network for nothing (Chromium's own net log is read), draws its histogram
//! (the screenshot's pixels are decoded and looked at), and shows a `<script>` learner id as
//! text. And `--anonymize` through the real binary: no report of any format names a learner,
//! and a rerun with the same reveal map draws the same pseudonyms.

use std::path::Path;
use std::process::Command;

use courselab::submission::archive::{read, write};
use serde_json::Value;

use super::ch14_class::finished;
use super::{lab, output, repo};

/// The hostile learner id: rendered as text, it is harmless; parsed as HTML, it runs.
const SCRIPT_ID: &str = "<script>alert(1)</script>";

/// A class of ch14: two finished learners (sharing the TEST key, so each is flagged as the
/// other's copy), one whose evidence files were removed after sealing (tampered, and a lower
/// score), a file whose learner id is a script, and a roster with a fourth learner who handed
/// nothing in and a name that is an HTML tag.
fn class(dir: &Path) {
    let class = dir.join("class");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::write(class.join("zed-ada.tar.gz"), finished("zed-ada", &[])).unwrap();
    std::fs::write(class.join("zed-bob.tar.gz"), finished("zed-bob", &[])).unwrap();
    let mut files = read(finished("zed-cy", &[]).as_slice(), Default::default()).unwrap();
    files.retain(|name, _| !name.starts_with("work/evidence/"));
    let mut partial = Vec::new();
    write(&files, &mut partial).unwrap();
    std::fs::write(class.join("zed-cy.tar.gz"), partial).unwrap();
    std::fs::write(class.join("hostile-id.tar.gz"), finished(SCRIPT_ID, &[])).unwrap();
    std::fs::write(
        dir.join("roster.csv"),
        "id,name,email,section\n\
         zed-ada,Ada Lovelace,ada@example.edu,A1\n\
         zed-bob,\"<img src=x onerror=alert(2)>\",bob@example.edu,A1\n\
         zed-cy,Cy Young,cy@example.edu,B2\n\
         zed-dee,Dee Dee,dee@example.edu,B2\n",
    )
    .unwrap();
}

fn grade(dir: &Path, args: &[&str]) -> (i32, String, String) {
    output(
        lab(dir)
            .arg("--course")
            .arg(repo())
            .args(["grade", "class", "--roster", "roster.csv"])
            .args(args),
    )
}

/// What Chromium did with a page.
struct Browsed {
    /// What it printed (the DOM, with --dump-dom).
    stdout: String,
    /// The lines the page logged to the console, CSP violations included.
    console: Vec<String>,
    /// The URLs the page asked the network for, from Chromium's net log.
    requested: Vec<String>,
}

/// Opens `page` in Debian's headless Chromium, as root on a machine with no network: no
/// sandbox, no GPU, no background networking, a fresh profile, every host name unresolvable;
/// the console logged to stderr and every request to a net log. Fails (never skips) when
/// Chromium is missing.
fn chromium(page: &Path, args: &[&str]) -> Browsed {
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&browser).arg("--version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "this test opens the HTML report in Debian's headless Chromium, and `{browser} --version` did not run ({found:?}): as root run `apt-get install -y chromium` (.ci/test installs it), or set CHROMIUM to its path"
    );
    let profile = tempfile::tempdir().unwrap();
    let netlog = profile.path().join("netlog.json");
    let out = Command::new("timeout")
        .arg("120")
        .arg(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("p").display()
        ))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Browsed {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        requested: page_requests(&std::fs::read_to_string(&netlog).unwrap()),
    }
}

/// The URLs of the net log's requests made on behalf of a `file://` page (Chromium's own
/// background requests, which the closed network refuses, have no page).
fn page_requests(netlog: &str) -> Vec<String> {
    let log: Value = serde_json::from_str(netlog).expect("chromium's net log is JSON");
    let start = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == *start)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.contains("file://"))
        })
        .map(|e| e["params"]["url"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The pixels of a PNG, as RGB.
fn pixels(png_bytes: &[u8]) -> (usize, Vec<[u8; 3]>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let samples = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(samples)
        .map(|p| match samples {
            1 | 2 => [p[0]; 3],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (info.width as usize, rgb)
}

fn near(p: [u8; 3], hex: u32) -> bool {
    let want = [(hex >> 16) as u8, (hex >> 8) as u8, hex as u8];
    p.iter()
        .zip(want)
        .all(|(a, b)| (i16::from(*a) - i16::from(b)).abs() <= 10)
}

#[test]
fn the_html_report_in_headless_chromium_logs_nothing_loads_nothing_and_draws_its_histogram() {
    let dir = tempfile::tempdir().unwrap();
    class(dir.path());
    // At a pass mark of 90 the tampered learner's 83% is a red bar beside the green ones.
    let (code, stdout, stderr) = grade(
        dir.path(),
        &["--format", "html", "-o", "report.html", "--pass-mark", "90"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let page = dir.path().join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("zed-cy"), "{html}");

    // The browser's own evidence first: that these detectors can fail. The same page with a
    // script and a remote image put in: the CSP blocks both, and says so on the console.
    let injected = dir.path().join("injected.html");
    let bad = "<img src=\"http://198.51.100.7/x.png\"><script>console.error('ran')</script>";
    std::fs::write(&injected, html.replace("</body>", &format!("{bad}</body>"))).unwrap();
    let blocked = chromium(&injected, &["--dump-dom"]);
    assert!(
        blocked
            .console
            .iter()
            .any(|l| l.contains("violates the following Content Security Policy")),
        "{:?}",
        blocked.console
    );
    // Without its CSP, the request is in the net log and the script's line on the console.
    let open = dir.path().join("open.html");
    std::fs::write(
        &open,
        html.replace("http-equiv=\"Content-Security-Policy\"", "name=\"x\"")
            .replace("</body>", &format!("{bad}</body>")),
    )
    .unwrap();
    let unguarded = chromium(&open, &["--dump-dom"]);
    assert_eq!(unguarded.requested, ["http://198.51.100.7/x.png"]);
    assert!(
        unguarded.console.iter().any(|l| l.contains("\"ran\"")),
        "{:?}",
        unguarded.console
    );

    // The report itself: no console line, no request, and the hostile strings are text.
    let dom = chromium(&page, &["--dump-dom"]);
    assert_eq!(dom.console, Vec::<String>::new());
    assert_eq!(dom.requested, Vec::<String>::new());
    assert!(
        dom.stdout.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the script id is not shown as text: {}",
        dom.stdout
    );
    assert!(
        dom.stdout.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{}",
        dom.stdout
    );
    let body = &dom.stdout[dom.stdout.find("<body").unwrap()..];
    for element in ["<script", "<img", "<iframe", "<object", "<link"] {
        assert!(!body.contains(element), "{element} in the DOM: {body}");
    }

    let shot = dir.path().join("shot.png");
    let drawn = chromium(
        &page,
        &[
            "--window-size=1000,1600",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(drawn.console, Vec::<String>::new());
    assert_eq!(drawn.requested, Vec::<String>::new());
    let (width, rgb) = pixels(&std::fs::read(&shot).unwrap());
    // The histogram's rows are where its bars' red (under the pass mark) is; only it uses
    // that red. In those rows: the passing bars' green, the pass mark's blue, and the axis.
    let rows: Vec<usize> = (0..rgb.len() / width)
        .filter(|y| {
            rgb[y * width..(y + 1) * width]
                .iter()
                .any(|p| near(*p, 0xc62828))
        })
        .collect();
    assert!(rows.len() > 40, "no red bar drawn: {} rows", rows.len());
    let region: Vec<[u8; 3]> = rows
        .iter()
        .flat_map(|y| rgb[y * width..(y + 1) * width].iter().copied())
        .collect();
    let count = |hex| region.iter().filter(|p| near(**p, hex)).count();
    let (red, green, blue) = (count(0xc62828), count(0x2e7d32), count(0x1565c0));
    assert!(
        red > 200 && green > 200 && blue > 20,
        "red {red}, green {green}, blue {blue} pixels in the histogram's rows"
    );
}

#[test]
fn anonymized_reports_name_no_learner_in_any_format_and_a_rerun_keeps_the_pseudonyms() {
    let dir = tempfile::tempdir().unwrap();
    class(dir.path());
    let anonymized = [
        "--anonymize",
        "--reveal-map",
        "secret/reveal.json",
        "--format",
        "table",
        "--format",
        "json",
        "--format",
        "html",
        "-o",
        "reports",
    ];
    let (code, stdout, stderr) = grade(dir.path(), &anonymized);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let reports = [
        "reports/grades.txt",
        "reports/grades.json",
        "reports/report.html",
    ];
    let first: Vec<String> = reports.iter().map(|r| read(r)).collect();
    for (name, text) in reports.iter().zip(&first) {
        for secret in [
            "zed-",
            "Ada Lovelace",
            "onerror",
            "Cy Young",
            "Dee Dee",
            "example.edu",
            "hostile-id",
            "script",
            "roster.csv:",
        ] {
            assert!(!text.contains(secret), "{secret} in {name}:\n{text}");
        }
    }
    let doc: Value = serde_json::from_str(&first[1]).unwrap();
    let subs = doc["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 5, "{doc:#}");
    let map: Value = serde_json::from_str(&read("secret/reveal.json")).unwrap();
    let pseudonym_of = |id: &str| {
        map["learners"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, who)| who["id"] == id)
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| panic!("{id} not in the reveal map: {map:#}"))
    };
    let (ada, bob) = (pseudonym_of("zed-ada"), pseudonym_of("zed-bob"));
    assert_eq!(map["learners"][&ada]["email"], "ada@example.edu");
    let ada_row = subs.iter().find(|s| s["learner"] == ada.as_str()).unwrap();
    assert_eq!(ada_row["name"], ada.as_str());
    // The copy flag names the other learner, by pseudonym, and its file, by pseudonym.
    assert!(
        ada_row["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().contains(&format!("as {bob} (file-"))),
        "{ada_row:#}"
    );
    // The script id's file is rejected, naming its id by pseudonym; who it was is in the map.
    pseudonym_of(SCRIPT_ID);
    assert_eq!(
        subs.iter().filter(|s| s["outcome"] == "missing").count(),
        1,
        "{doc:#}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("secret/reveal.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the reveal map is readable by others: {mode:o}"
        );
    }

    // A rerun with the same reveal map: the same reports, byte for byte.
    let (code, stdout, stderr) = grade(dir.path(), &anonymized);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let again: Vec<String> = reports.iter().map(|r| read(r)).collect();
    assert_eq!(first, again);

    // The reveal map inside the reports' folder, or --anonymize alone: refused, nothing written.
    let (code, _, stderr) = grade(
        dir.path(),
        &[
            "--anonymize",
            "--reveal-map",
            "reports/reveal.json",
            "--format",
            "json",
            "--format",
            "html",
            "-o",
            "reports",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("inside the reports' output"), "{stderr}");
    assert!(!dir.path().join("reports/reveal.json").exists());
    let (code, _, stderr) = grade(dir.path(), &["--anonymize"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--reveal-map"), "{stderr}");
    // A file that is not a reveal map is not overwritten.
    let (code, _, stderr) = grade(
        dir.path(),
        &[
            "--anonymize",
            "--reveal-map",
            "roster.csv",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("roster.csv: not a reveal map"), "{stderr}");
    assert!(read("roster.csv").starts_with("id,name"));
}

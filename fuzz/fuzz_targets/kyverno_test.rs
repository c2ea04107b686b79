//! A `kyverno-test.yaml` file in the chapter's `tests/` folder: read and prepared as `lab test`
//! does (policies rendered in the mode it asks for, resources, values, expected results), then
//! its cases evaluated offline with no image artifacts at hand.

#![no_main]

use std::cell::RefCell;
use std::collections::BTreeMap;

use courselab::content::chapter::Chapter;
use courselab::content::files::CourseFiles;
use courselab::policy::evaluate::Artifacts;
use courselab::suite::prepare::prepare;
use courselab::suite::run::check;
use libfuzzer_sys::fuzz_target;

const REL: &str = "labs/ch14/tests/audit/kyverno-test.yaml";

thread_local! {
    /// The real chapter and its test values; each input replaces the audit test file.
    static CHAPTER: RefCell<(Chapter, BTreeMap<String, String>)> = RefCell::new({
        let root = courselab_fuzz::repo();
        let files = CourseFiles::from_disk(&root).expect("the course reads");
        let chapter = Chapter::find(files, "ch14").expect("ch14 is a chapter");
        let values = chapter.values(true, &[]).expect("the test values resolve");
        (chapter, values)
    });
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    CHAPTER.with_borrow_mut(|(chapter, values)| {
        chapter.files.insert_text(REL, text.to_owned());
        if let Ok(test) = prepare(chapter, REL, values, None) {
            let _ = check(&[test], &Artifacts::new());
        }
    });
});

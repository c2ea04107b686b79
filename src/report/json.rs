//! How every JSON document of `lab` is written: pretty, with one trailing newline, so that
//! all machine-readable output looks alike; a class's grade report indented only down to its
//! list of submissions, one line each ([`write_outline`]).

use serde::Serialize;

/// The document as pretty JSON and a newline, its keys in the order of its fields.
pub(crate) fn document(doc: &impl Serialize) -> String {
    serde_json::to_string_pretty(doc).expect("a report serializes") + "\n"
}

/// The document as [`document`] writes it, but with the keys of every object sorted: the
/// order of the documents that were first written through a `serde_json::Value` (`lab test`,
/// `lab doctor`), kept so that their output does not change.
pub(crate) fn sorted_document(doc: &impl Serialize) -> String {
    document(&serde_json::to_value(doc).expect("a report serializes"))
}

/// Writes the document as [`document`] does down to `levels` deep, and every value below that
/// on one line (compact): a class's report, one line per learner, which is what a person reads
/// it by (`grep learner-042`) and a little over half the bytes of the fully pretty document
/// (10,000 learners: 60 MB instead of 108). Any JSON reader reads both alike.
pub(crate) fn write_outline(
    out: &mut impl std::io::Write,
    doc: &impl Serialize,
    levels: usize,
) -> std::io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut *out,
        Outline {
            levels,
            depth: 0,
            has_value: false,
        },
    );
    doc.serialize(&mut serializer)
        .map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// The formatter of [`write_outline`]: serde_json's pretty layout (two spaces a level) for the
/// containers opened at most `levels` deep, its compact one inside them.
struct Outline {
    /// How deep containers are still laid out one value a line (the document itself is 1).
    levels: usize,
    /// How many containers are open.
    depth: usize,
    /// Whether the innermost open container has had a value (as serde_json's own pretty
    /// formatter keeps it: set when a value ends, reset when a container opens).
    has_value: bool,
}

impl Outline {
    fn pretty(&self) -> bool {
        self.depth <= self.levels
    }

    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        if self.pretty() && self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.depth - 1)?;
        }
        self.depth -= 1;
        w.write_all(bracket)
    }

    fn next<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if self.pretty() {
            w.write_all(if first { b"\n" } else { b",\n" })?;
            indent(w, self.depth)
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }
}

fn indent<W: ?Sized + std::io::Write>(w: &mut W, depth: usize) -> std::io::Result<()> {
    for _ in 0..depth {
        w.write_all(b"  ")?;
    }
    Ok(())
}

impl serde_json::ser::Formatter for Outline {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.next(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.next(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(if self.pretty() { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outline(doc: &serde_json::Value, levels: usize) -> String {
        let mut out = Vec::new();
        write_outline(&mut out, doc, levels).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sample() -> serde_json::Value {
        json!({
            "schema_version": 5,
            "empty": [],
            "none": {},
            "summary": {"mean": 1.5, "by": {"a": [1, 2]}},
            "submissions": [
                {"learner": "ada", "checks": [{"check": "x", "status": "pass"}], "flags": []},
                {"learner": "ben\n\"quoted\"", "checks": []}
            ]
        })
    }

    #[test]
    fn deep_enough_it_is_the_pretty_document_byte_for_byte() {
        let doc = sample();
        assert_eq!(outline(&doc, usize::MAX), document(&doc));
    }

    #[test]
    fn below_its_levels_each_value_is_one_compact_line_and_reads_back_the_same() {
        let doc = sample();
        let text = outline(&doc, 2);
        // (`json!` sorts an object's keys.)
        assert_eq!(
            text,
            r#"{
  "empty": [],
  "none": {},
  "schema_version": 5,
  "submissions": [
    {"checks":[{"check":"x","status":"pass"}],"flags":[],"learner":"ada"},
    {"checks":[],"learner":"ben\n\"quoted\""}
  ],
  "summary": {
    "by": {"a":[1,2]},
    "mean": 1.5
  }
}
"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
        assert_eq!(
            outline(&doc, 0),
            serde_json::to_string(&doc).unwrap() + "\n"
        );
    }
}

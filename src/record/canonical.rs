//! Canonical JSON (RFC 8785, JCS) written straight from a record's fields: a grader hashes
//! every record of every file of a class, and the general canonicalizer builds a property list
//! and a tree per object to do it. This writer sorts each object's members in place, in one
//! buffer, and handles what records hold: strings, booleans, integers and the objects and
//! lists made of them. For anything else (a non-integer number, an integer beyond 2^53 that
//! JCS writes as a float would be, bytes, a key that is not a string) it gives up, and the
//! caller falls back to the general canonicalizer, so the bytes are the same either way.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// The canonical JSON of `value`, or `None` when it holds something this writer leaves to the
/// general canonicalizer.
pub(crate) fn to_vec(value: &impl Serialize) -> Option<Vec<u8>> {
    let mut writer = Writer {
        out: Vec::with_capacity(512),
    };
    value.serialize(&mut writer).ok()?;
    Some(writer.out)
}

/// The largest integer JCS writes as its digits: every integer up to 2^53 is an exact IEEE
/// double, and ECMAScript prints it as it is.
const EXACT: u64 = 1 << 53;

/// Why the writer gave up; never shown, the caller falls back.
#[derive(Debug)]
pub(crate) struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to the general canonicalizer")
    }
}

impl std::error::Error for GiveUp {}

impl ser::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

struct Writer {
    out: Vec<u8>,
}

/// A string as ECMAScript's `JSON.stringify` writes it, as JCS requires: `"` and `\` escaped,
/// the control characters as `\b`, `\t`, `\n`, `\f`, `\r` or `\u00xx` (lower case), every
/// other character as itself.
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_unsigned(out: &mut Vec<u8>, n: u64) -> Result<(), GiveUp> {
    if n > EXACT {
        return Err(GiveUp);
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    Ok(())
}

fn write_signed(out: &mut Vec<u8>, n: i64) -> Result<(), GiveUp> {
    if n < 0 {
        out.push(b'-');
    }
    write_unsigned(out, n.unsigned_abs())
}

/// JCS orders an object's members by their names' UTF-16 code units (not by UTF-8 bytes, which
/// differ for characters beyond the Basic Multilingual Plane).
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// An object being written: its members' values go into the buffer as they come, after
/// `start`; at the end they are moved into place in canonical order.
struct Object<'a> {
    writer: &'a mut Writer,
    start: usize,
    /// Each member's name and where its value is in the buffer.
    members: Vec<(Cow<'static, str>, usize, usize)>,
    /// The name given by `serialize_key`, waiting for its value.
    key: Option<Cow<'static, str>>,
}

impl<'a> Object<'a> {
    fn new(writer: &'a mut Writer) -> Self {
        let start = writer.out.len();
        Object {
            writer,
            start,
            members: Vec::with_capacity(8),
            key: None,
        }
    }

    fn member(
        &mut self,
        name: Cow<'static, str>,
        value: &(impl Serialize + ?Sized),
    ) -> Result<(), GiveUp> {
        let from = self.writer.out.len();
        value.serialize(&mut *self.writer)?;
        let to = self.writer.out.len();
        self.members.push((name, from, to));
        Ok(())
    }

    fn finish(mut self) -> Result<(), GiveUp> {
        self.members.sort_by(|a, b| utf16_order(&a.0, &b.0));
        if self.members.windows(2).any(|w| w[0].0 == w[1].0) {
            // Two members of one name: left to the general canonicalizer.
            return Err(GiveUp);
        }
        let values = self.writer.out.split_off(self.start);
        let out = &mut self.writer.out;
        out.reserve(values.len() + self.members.len() * 16 + 2);
        out.push(b'{');
        for (i, (name, from, to)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, name);
            out.push(b':');
            out.extend_from_slice(&values[from - self.start..to - self.start]);
        }
        out.push(b'}');
        Ok(())
    }
}

/// A list being written, in order.
struct List<'a> {
    writer: &'a mut Writer,
    first: bool,
}

impl List<'_> {
    fn element(&mut self, value: &(impl Serialize + ?Sized)) -> Result<(), GiveUp> {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.writer)
    }

    fn finish(self) {
        self.writer.out.push(b']');
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = List<'a>;
    type SerializeTuple = List<'a>;
    type SerializeTupleStruct = List<'a>;
    type SerializeTupleVariant = Impossible<(), GiveUp>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Impossible<(), GiveUp>;

    fn serialize_bool(self, v: bool) -> Result<(), GiveUp> {
        self.out
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), GiveUp> {
        write_signed(&mut self.out, v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), GiveUp> {
        write_signed(&mut self.out, v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), GiveUp> {
        write_signed(&mut self.out, v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), GiveUp> {
        write_signed(&mut self.out, v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), GiveUp> {
        write_unsigned(&mut self.out, v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), GiveUp> {
        write_unsigned(&mut self.out, v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), GiveUp> {
        write_unsigned(&mut self.out, v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), GiveUp> {
        write_unsigned(&mut self.out, v)
    }
    fn serialize_f32(self, _: f32) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_f64(self, _: f64) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_char(self, v: char) -> Result<(), GiveUp> {
        write_str(&mut self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), GiveUp> {
        write_str(&mut self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_none(self) -> Result<(), GiveUp> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), GiveUp> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GiveUp> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        // One member: already in order.
        self.out.push(b'{');
        write_str(&mut self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<List<'a>, GiveUp> {
        self.out.push(b'[');
        Ok(List {
            writer: self,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<List<'a>, GiveUp> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<List<'a>, GiveUp> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'a>, GiveUp> {
        Ok(Object::new(self))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'a>, GiveUp> {
        Ok(Object::new(self))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, GiveUp> {
        Err(GiveUp)
    }
}

impl ser::SerializeSeq for List<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.element(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTuple for List<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.element(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for List<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.element(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.finish()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), GiveUp> {
        self.key = Some(key_name(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        let name = self.key.take().ok_or(GiveUp)?;
        self.member(name, value)
    }
    fn end(self) -> Result<(), GiveUp> {
        if self.key.is_some() {
            return Err(GiveUp);
        }
        self.finish()
    }
}

/// A map's key: what serializes as a JSON string (a string, a char, a unit variant's name),
/// nothing else. Only records' quiz answers have maps, so a key's detour through a JSON value
/// costs nothing that shows.
fn key_name(key: &(impl Serialize + ?Sized)) -> Result<Cow<'static, str>, GiveUp> {
    match serde_json::to_value(key) {
        Ok(serde_json::Value::String(name)) => Ok(Cow::Owned(name)),
        _ => Err(GiveUp),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// What the general canonicalizer writes, which this writer must equal byte for byte.
    fn general(value: &impl Serialize) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(value).unwrap()
    }

    fn same(value: &impl Serialize) {
        let fast = to_vec(value).expect("the writer handles it");
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&general(value))
        );
    }

    #[test]
    fn strings_are_escaped_as_ecmascript_does() {
        // Every control character, quotes, backslashes, DEL, the line separators JavaScript
        // once could not hold, and characters of one to four UTF-8 bytes.
        let mut every_control: String = (0u8..0x20).map(char::from).collect();
        every_control.push_str("\"\\/\u{7f}\u{2028}\u{2029}\u{e9}\u{20ac}\u{1f600}");
        same(&every_control);
        same(&"");
        same(&"plain");
        same(&'\n');
        same(&vec!["a\"b", "\\", "\u{0}\u{1f}"]);
    }

    #[test]
    fn members_are_ordered_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (0xD83D ...) in UTF-16, so JCS puts it before U+FB01,
        // where UTF-8 byte order (a BTreeMap's) puts it after.
        let mut map = BTreeMap::new();
        for key in [
            "\u{fb01}",
            "\u{1f600}",
            "b",
            "a",
            "A",
            "\u{e9}",
            "",
            "aa",
            "\u{10000}",
            "\u{ffff}",
        ] {
            map.insert(key.to_owned(), key.len());
        }
        same(&map);
        same(&json!({"z": {"b": [1, {"y": true, "x": null}], "a": "s"}, "m": []}));
    }

    #[test]
    fn integers_up_to_two_to_the_53_are_digits() {
        for n in [0u64, 1, 9, 10, 1 << 31, (1 << 53) - 1, 1 << 53] {
            same(&n);
        }
        for n in [-1i64, i64::from(i32::MIN), -(1 << 53)] {
            same(&n);
        }
        same(&(7u8, -7i8, 300u16, -300i16, 70_000u32, -70_000i32));
    }

    #[test]
    fn what_it_does_not_handle_it_leaves_to_the_general_canonicalizer() {
        // JCS writes such integers as doubles would be (`2^53 + 1` loses its last digit).
        assert!(to_vec(&((1u64 << 53) + 1)).is_none());
        assert!(to_vec(&-((1i64 << 53) + 1)).is_none());
        assert!(to_vec(&1.5f64).is_none());
        assert!(to_vec(&json!({"a": 0.5})).is_none());
        let mut numbered = BTreeMap::new();
        numbered.insert(1u32, "a");
        assert!(to_vec(&numbered).is_none());
    }

    #[test]
    fn enums_options_and_flattened_members_are_written_as_serde_json_writes_them() {
        #[derive(Serialize)]
        #[serde(rename_all = "kebab-case")]
        enum Unit {
            FirstOne,
        }
        #[derive(Serialize)]
        enum Wrapped {
            Inner(u8),
        }
        #[derive(Serialize)]
        struct Newtype(String);
        #[derive(Serialize)]
        #[serde(tag = "event", rename_all = "kebab-case")]
        enum Tagged {
            Happened { when: String, count: u32 },
            Nothing,
        }
        #[derive(Serialize)]
        struct Outer {
            zeta: Option<u8>,
            alpha: Option<Unit>,
            #[serde(flatten)]
            tagged: Tagged,
            wrapped: Wrapped,
            newtype: Newtype,
            unit: (),
            tuple: (String, bool),
        }
        for tagged in [
            Tagged::Happened {
                when: "now".into(),
                count: 3,
            },
            Tagged::Nothing,
        ] {
            same(&Outer {
                zeta: None,
                alpha: Some(Unit::FirstOne),
                tagged,
                wrapped: Wrapped::Inner(4),
                newtype: Newtype("n".into()),
                unit: (),
                tuple: ("t".into(), false),
            });
        }
    }
}

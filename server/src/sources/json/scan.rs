//! A validating JSON scanner that records the shape of every record without building values:
//! the fast half of schema inference, and the check that decides whether a file may go
//! through arrow-json. It accepts exactly what serde_json (the per-row reader) accepts.
use super::shape::Shape;

/// serde_json's nesting limit.
const MAX_DEPTH: u32 = 128;

/// What a scan of some JSON Lines text (or one multiLine document) found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The merged shape of all rows (a `Shape::Struct`, or Null when there are none).
    pub shape: Shape,
    /// Rows found (an array record counts its objects).
    pub rows: usize,
    /// Records that are not JSON objects or arrays of them.
    pub malformed: usize,
    /// Every record is one object on its own line: arrow-json sees the same rows.
    pub simple: bool,
}

/// How one record parsed.
enum Record {
    Blank,
    Object,
    Objects(usize),
    Malformed,
}

/// Scans JSON Lines text: one record per line.
pub fn scan_lines(text: &str) -> Facts {
    let (mut facts, bad) = scan_lines_once(text, &[]);
    if !bad.is_empty() {
        // Malformed lines may have merged part of themselves before failing: scan again
        // without them (rare, so the first pass merges in place without undo).
        let (again, _) = scan_lines_once(text, &bad);
        facts.shape = again.shape;
    }
    facts
}

/// Lines with their byte offsets, without the line ends.
fn lines(text: &str) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p);
        let line = (start, &bytes[start..end]);
        start = end + 1;
        Some(line)
    })
}

/// One pass over the lines not in `skip`; also the offsets of the lines that did not parse.
fn scan_lines_once(text: &str, skip: &[usize]) -> (Facts, Vec<usize>) {
    let mut facts = Facts {
        simple: true,
        ..Facts::default()
    };
    let mut bad = vec![];
    for (start, line) in lines(text) {
        if skip.binary_search(&start).is_ok() {
            continue;
        }
        let outcome = record(line, &mut facts.shape);
        if matches!(outcome, Record::Malformed) {
            bad.push(start);
        }
        tally(&mut facts, outcome, line);
    }
    (facts, bad)
}

/// Scans one document (multiLine): a single record that may span lines.
pub fn scan_document(text: &str) -> Facts {
    let mut facts = Facts::default();
    let mut shape = Shape::Null;
    let outcome = record(text.as_bytes(), &mut shape);
    if !matches!(outcome, Record::Malformed) {
        facts.shape = shape;
    }
    tally(&mut facts, outcome, text.as_bytes());
    facts.simple = false;
    facts
}

fn tally(facts: &mut Facts, outcome: Record, line: &[u8]) {
    match outcome {
        Record::Blank => {}
        Record::Object => facts.rows += 1,
        Record::Objects(n) => {
            facts.rows += n;
            facts.simple = false;
        }
        // The per-row reader skips lines that are blank in Unicode's sense.
        Record::Malformed if std::str::from_utf8(line).is_ok_and(|l| l.trim().is_empty()) => {
            facts.simple = false;
        }
        Record::Malformed => {
            facts.malformed += 1;
            facts.simple = false;
        }
    }
}

/// Parses one record, merging its rows into `root`.
fn record(text: &[u8], root: &mut Shape) -> Record {
    let mut s = Scanner { b: text, i: 0 };
    s.ws();
    let outcome = match s.peek() {
        None => return Record::Blank,
        Some(b'{') => s.value(root, 0).map(|_| Record::Object),
        Some(b'[') => s.root_array(root),
        // Spark reads a `null` document as a row of NULLs.
        Some(b'n') => s.value(&mut Shape::Null, 0).map(|_| Record::Objects(1)),
        // Other JSON values are not rows.
        Some(_) => s.value(&mut Shape::Null, 0).map(|_| Record::Malformed),
    };
    s.ws();
    match outcome {
        Ok(r) if s.i == text.len() => r,
        _ => Record::Malformed,
    }
}

/// A cursor over JSON text that checks it as serde_json would.
pub struct Scanner<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

/// Ok, or Err when the text is not JSON.
pub type Step<T = ()> = Result<T, ()>;

impl Scanner<'_> {
    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Step {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    /// A top-level array: rows when every element is an object, else not a record of rows.
    fn root_array(&mut self, root: &mut Shape) -> Step<Record> {
        let mut elements = vec![];
        let mut all_objects = true;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Record::Objects(0));
        }
        loop {
            self.ws();
            all_objects &= self.peek() == Some(b'{');
            let mut shape = Shape::Null;
            self.value(&mut shape, 1)?;
            elements.push(shape);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(()),
            }
        }
        if !all_objects {
            return Ok(Record::Malformed);
        }
        let n = elements.len();
        for e in elements {
            root.merge(e);
        }
        Ok(Record::Objects(n))
    }

    /// One value, merged into `slot`.
    pub fn value(&mut self, slot: &mut Shape, depth: u32) -> Step {
        self.ws();
        match self.peek().ok_or(())? {
            b'{' => self.object(slot, depth + 1),
            b'[' => self.array(slot, depth + 1),
            b'"' => {
                self.string()?;
                merge_scalar(slot, Shape::Str);
                Ok(())
            }
            b't' => self.literal(b"true", Shape::Bool, slot),
            b'f' => self.literal(b"false", Shape::Bool, slot),
            b'n' => self.literal(b"null", Shape::Null, slot),
            b'-' | b'0'..=b'9' => {
                let n = self.number()?;
                merge_scalar(slot, n);
                Ok(())
            }
            _ => Err(()),
        }
    }

    fn literal(&mut self, word: &[u8], shape: Shape, slot: &mut Shape) -> Step {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            merge_scalar(slot, shape);
            Ok(())
        } else {
            Err(())
        }
    }

    fn object(&mut self, slot: &mut Shape, depth: u32) -> Step {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.i += 1;
        if matches!(slot, Shape::Null) {
            *slot = Shape::Struct(vec![]);
        }
        match slot {
            Shape::Struct(fields) => self.fields(fields, depth),
            _ => {
                let mut fields = vec![];
                self.fields(&mut fields, depth)?;
                slot.merge(Shape::Struct(fields));
                Ok(())
            }
        }
    }

    /// The members of an object after its `{`, merged into `fields`.
    fn fields(&mut self, fields: &mut Vec<(String, Shape)>, depth: u32) -> Step {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        // Rows usually repeat their keys in one order: try the next field first.
        let mut next = 0;
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(());
            }
            let (start, end, escaped) = self.string()?;
            let raw = &self.b[start..end];
            let at = match fields.get(next) {
                Some((name, _)) if !escaped && name.as_bytes() == raw => next,
                _ => {
                    let name = if escaped {
                        unescape(raw)
                    } else {
                        String::from_utf8_lossy(raw).into_owned()
                    };
                    match fields.iter().position(|(n, _)| *n == name) {
                        Some(at) => at,
                        None => {
                            fields.push((name, Shape::Null));
                            fields.len() - 1
                        }
                    }
                }
            };
            self.expect(b':')?;
            self.value(&mut fields[at].1, depth)?;
            next = at + 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
    }

    fn array(&mut self, slot: &mut Shape, depth: u32) -> Step {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.i += 1;
        if matches!(slot, Shape::Null) {
            *slot = Shape::List(Box::new(Shape::Null));
        }
        let mut other = Shape::Null;
        let element = match slot {
            Shape::List(element) => element.as_mut(),
            _ => &mut other,
        };
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.value(element, depth)?;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(()),
                }
            }
        }
        if !matches!(slot, Shape::List(_)) {
            slot.merge(Shape::List(Box::new(other)));
        }
        Ok(())
    }

    /// A string at its opening quote: the span of its contents and whether it has escapes.
    pub fn string(&mut self) -> Step<(usize, usize, bool)> {
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.peek().ok_or(())? {
                b'"' => {
                    self.i += 1;
                    return Ok((start, self.i - 1, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0..=0x1f => return Err(()),
                _ => self.i = plain_run(self.b, self.i + 1),
            }
        }
    }

    /// One escape at its backslash; surrogates must come in pairs.
    fn escape(&mut self) -> Step {
        match self.b.get(self.i + 1).ok_or(())? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                self.i += 2;
                Ok(())
            }
            b'u' => {
                let unit = self.hex4(self.i + 2)?;
                self.i += 6;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                            return Err(());
                        }
                        let low = self.hex4(self.i + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(());
                        }
                        self.i += 6;
                        Ok(())
                    }
                    0xDC00..=0xDFFF => Err(()),
                    _ => Ok(()),
                }
            }
            _ => Err(()),
        }
    }

    fn hex4(&self, at: usize) -> Step<u32> {
        let digits = self.b.get(at..at + 4).ok_or(())?;
        let text = std::str::from_utf8(digits).map_err(|_| ())?;
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(());
        }
        u32::from_str_radix(text, 16).map_err(|_| ())
    }

    /// A number as JSON spells it: Int when it is an integer that fits a long.
    pub fn number(&mut self) -> Step<Shape> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek().ok_or(())? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return Err(()),
        }
        let mut float = false;
        let mut exponent = false;
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.required_digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.required_digits()?;
            float = true;
            exponent = true;
        }
        let len = self.i - start;
        if !float && len - usize::from(self.b[start] == b'-') <= 18 {
            return Ok(Shape::Int);
        }
        // Digits and signs only, so this is UTF-8.
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| ())?;
        if !float && text.parse::<i64>().is_ok() {
            return Ok(Shape::Int);
        }
        // serde_json refuses numbers beyond a double's range.
        if (exponent || text.len() > 300) && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(());
        }
        Ok(Shape::Float)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn required_digits(&mut self) -> Step {
        let from = self.i;
        self.digits();
        if self.i == from {
            Err(())
        } else {
            Ok(())
        }
    }
}

/// Merges a scalar shape, skipping the common case of the same kind again.
fn merge_scalar(slot: &mut Shape, kind: Shape) {
    let same = matches!(
        (&*slot, &kind),
        (Shape::Str, Shape::Str)
            | (Shape::Int, Shape::Int)
            | (Shape::Float, Shape::Float | Shape::Int)
            | (Shape::Bool, Shape::Bool)
            | (_, Shape::Null)
    );
    if matches!(slot, Shape::Null) {
        *slot = kind;
    } else if !same {
        slot.merge(kind);
    }
}

/// The end of the run of string bytes from `i` that need no attention (not a quote, a
/// backslash or a control character), eight bytes at a time.
pub fn plain_run(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let v = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = v ^ (ONES * u64::from(b'"'));
        let slash = v ^ (ONES * u64::from(b'\\'));
        // Each term is non-zero exactly when some byte is zero (or below 0x20).
        let special = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (v.wrapping_sub(ONES * 0x20) & !v);
        if special & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// The text of a string's contents with escapes (already checked) resolved.
pub fn unescape(raw: &[u8]) -> String {
    let quoted = [b"\"", raw, b"\""].concat();
    serde_json::from_slice::<String>(&quoted)
        .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_of(text: &str) -> Facts {
        scan_lines(text)
    }

    #[test]
    fn accepts_what_serde_accepts() {
        let samples = [
            r#"{"a": 1}"#,
            r#"{"a": -0.5e3, "b": [true, null, "x\u00e9\n"]}"#,
            r#"{"a": "\ud83d\ude00"}"#,
            r#"{"a": "\ud83d"}"#,
            r#"{"a": "\udc00"}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": tru}"#,
            r#"[{"a": 1}, 2]"#,
            r#"{"a": {"b": [1, {"c": 2}]}}"#,
            r#"5"#,
            r#"{"a": "\x"}"#,
            r#"{"a": 123456789012345678901234567890}"#,
        ];
        for s in samples {
            let serde_ok = serde_json::from_str::<serde_json::Value>(s).is_ok();
            let mut sink = Shape::Null;
            let mut scanner = Scanner {
                b: s.as_bytes(),
                i: 0,
            };
            let ours = scanner.value(&mut sink, 0).is_ok() && {
                scanner.ws();
                scanner.i == s.len()
            };
            assert_eq!(ours, serde_ok, "{s}");
        }
    }

    #[test]
    fn scans_rows_and_malformed_lines() {
        let facts = shape_of("{\"b\": 1, \"a\": \"x\"}\n\n{\"a\": 2, \"b\": 1.5}\r\n{\"c\": \n");
        assert_eq!(facts.rows, 2);
        assert_eq!(facts.malformed, 1);
        assert!(!facts.simple);
        // The malformed line's `c` does not count.
        assert_eq!(
            facts.shape,
            Shape::Struct(vec![
                ("b".into(), Shape::Float),
                ("a".into(), Shape::Conflict)
            ])
        );
        let clean = shape_of("{\"a\": [1, 2.5]}\n{\"a\": []}\n");
        assert!(clean.simple);
        assert_eq!(
            clean.shape,
            Shape::Struct(vec![("a".into(), Shape::List(Box::new(Shape::Float)))])
        );
        let arrays = shape_of("[{\"a\": 1}, {\"a\": 2}]\n");
        assert_eq!((arrays.rows, arrays.simple), (2, false));
        let doc = scan_document("{\n \"a\": {\"n\": [1, 2]},\n \"b\": null\n}\n");
        assert_eq!(doc.rows, 1);
    }
}

//! Spark's JSON schema inference over every row (samplingRatio 1.0), fast: each file is
//! scanned for shapes without building values, files in parallel, and the shapes merged in
//! listing order.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use planner::PlanResult;

use super::super::convert::Mode;
use super::super::files;
use super::cache;
use super::scan::{self, Facts};
use super::shape::{sorted_fields, Shape};
use super::{malformed_in_inference, JsonOptions};

/// What one file's text says, as the reader sees it (per line, or one multiLine document).
pub fn facts_of(text: &str, o: &JsonOptions) -> Facts {
    if o.multi_line {
        if text.trim().is_empty() {
            return Facts::default();
        }
        scan::scan_document(text.trim_end_matches(['\n', '\r']))
    } else {
        scan::scan_lines(text)
    }
}

/// The facts of every file, scanned on all cores.
pub fn scan_files(paths: &[PathBuf], o: &JsonOptions) -> PlanResult<Vec<Facts>> {
    let scan = |path: &PathBuf| {
        cache::facts(path, o.multi_line, || {
            files::read_text(path).map(|text| facts_of(&text, o))
        })
    };
    // A streaming batch checks its one new file here: no thread for that.
    if let [path] = paths {
        return Ok(vec![scan(path)?]);
    }
    let workers = files::cores().min(paths.len()).max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PlanResult<Facts>>>> =
        Mutex::new((0..paths.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let facts = scan(path);
                results.lock().expect("no panics while holding")[i] = Some(facts);
            });
        }
    });
    results
        .into_inner()
        .expect("no panics while holding")
        .into_iter()
        .map(|r| r.expect("every file scanned"))
        .collect()
}

/// `JsonInferSchema`: the merged shape of every row, fields sorted by name, and
/// `_corrupt_record` first when some record is not an object (PERMISSIVE).
pub fn schema(facts: &[Facts], o: &JsonOptions) -> PlanResult<SchemaRef> {
    let mut merged = Shape::Null;
    let mut malformed = 0;
    for f in facts {
        merged.merge(f.shape.clone());
        malformed += f.malformed;
    }
    if malformed > 0 && o.mode == Mode::FailFast {
        return Err(malformed_in_inference(o));
    }
    let mut fields: Vec<Field> = match &merged {
        Shape::Struct(fields) => sorted_fields(fields, o.primitives_as_string)
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
        _ => vec![],
    };
    if malformed > 0
        && o.mode == Mode::Permissive
        && !fields.iter().any(|f| f.name() == &o.corrupt_column)
    {
        fields.insert(0, Field::new(&o.corrupt_column, DataType::Utf8, true));
    }
    Ok(Arc::new(Schema::new(fields)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_sorts_and_widens() {
        let o = JsonOptions::new(&Default::default()).unwrap();
        let facts = facts_of(
            "{\"b\": 1, \"a\": \"x\"}\n{\"b\": 1.5, \"a\": 2}\nnot json\n",
            &o,
        );
        let schema = schema(&[facts], &o).unwrap();
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, vec!["_corrupt_record", "a", "b"]);
        assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
        assert_eq!(schema.field(2).data_type(), &DataType::Float64);
    }
}

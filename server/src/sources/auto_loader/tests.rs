//! The public functions against real files in a temporary folder.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use planner::types::{list_type, simple_string};

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("sluice-autoloader-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn opts(pairs: &[(&str, &str)]) -> CloudFilesOptions {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    CloudFilesOptions::parse(&map, false).unwrap()
}

fn types(schema: &Schema) -> Vec<(String, String)> {
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), simple_string(f.data_type())))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Runs a plan on one partition, so rows come in file order.
async fn run(plan: LogicalPlan) -> RecordBatch {
    let config = datafusion::prelude::SessionConfig::new().with_target_partitions(1);
    let ctx = SessionContext::new_with_config(config);
    let batches = ctx
        .execute_logical_plan(plan)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let schema = batches[0].schema();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// Column `name` of `batch` as display strings ("NULL" for nulls).
fn column(batch: &RecordBatch, name: &str) -> Vec<String> {
    let array = batch.column_by_name(name).unwrap();
    let formatter =
        arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default()).unwrap();
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                "NULL".to_string()
            } else {
                formatter.value(i).to_string()
            }
        })
        .collect()
}

#[test]
fn json_columns_are_strings_by_default() {
    let dir = TempDir::new();
    let a = dir.file(
        "in/a.json",
        "{\"id\": 1, \"user\": {\"name\": \"x\", \"age\": 3}, \"tags\": [1, 2], \"price\": 1.5}\n",
    );
    let b = dir.file("in/b.json", "{\"id\": \"two\", \"flag\": true}\n");
    let location = dir.0.join("schema");
    let o = opts(&[
        ("cloudFiles.format", "json"),
        ("cloudFiles.schemaLocation", location.to_str().unwrap()),
    ]);
    let schema = stream_schema(&[a.clone(), b.clone()], &dir.0.join("in"), &o, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("flag", "string"),
            ("id", "string"),
            ("price", "string"),
            ("tags", "array<string>"),
            ("user", "struct<age:string,name:string>"),
            ("_rescued_data", "string"),
        ])
    );
    // Stored in Databricks' layout; read back (not re-inferred) by the next start.
    let log = std::fs::read_to_string(location.join("_schemas/0")).unwrap();
    assert!(log.starts_with("v1\n{\"dataSchemaJson\""), "{log}");
    std::fs::remove_file(&b).unwrap();
    let again = stream_schema(&[a], &dir.0.join("in"), &o, "UTC").unwrap();
    assert_eq!(again, schema);
}

#[test]
fn infer_column_types_and_hints() {
    let dir = TempDir::new();
    let a = dir.file(
        "a.json",
        "{\"id\": 1, \"user\": {\"dob\": \"2020-01-02\", \"n\": 2}, \"tags\": [1], \"x\": 1.5}\n",
    );
    let o = opts(&[
        ("cloudFiles.format", "json"),
        ("cloudFiles.inferColumnTypes", "true"),
        (
            "cloudFiles.schemaHints",
            "id int, user.dob date, tags.element string, extra map<string,int>",
        ),
    ]);
    let schema = stream_schema(&[a], &dir.0, &o, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("id", "int"),
            ("tags", "array<string>"),
            ("user", "struct<dob:date,n:bigint>"),
            ("x", "double"),
            ("extra", "map<string,int>"),
            ("_rescued_data", "string"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rescues_unknown_fields_mismatches_and_case() {
    let dir = TempDir::new();
    let a = dir.file("a.json", "{\"a\": 1, \"b\": \"x\", \"s\": {\"n\": 1}}\n");
    let o = opts(&[
        ("cloudFiles.format", "json"),
        ("cloudFiles.inferColumnTypes", "true"),
        ("cloudFiles.schemaEvolutionMode", "rescue"),
    ]);
    let schema = stream_schema(std::slice::from_ref(&a), &dir.0, &o, "UTC").unwrap();
    let b = dir.file(
        "b.json",
        "{\"a\": \"oops\", \"b\": \"y\", \"z\": 3, \"s\": {\"n\": \"no\", \"m\": 2}}\n{\"A\": 5, \"b\": \"z\"}\nnot json\n",
    );
    let batch = run(scan(&[a, b.clone()], &dir.0, schema, &o, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "a"), vec!["1", "NULL", "NULL", "NULL"]);
    assert_eq!(column(&batch, "b"), vec!["x", "y", "z", "NULL"]);
    assert_eq!(column(&batch, "s"), vec!["{n: 1}", "{n: }", "NULL", "NULL"]);
    let rescued = column(&batch, "_rescued_data");
    let uri = listing::file_uri(&b);
    assert_eq!(rescued[0], "NULL");
    let second: serde_json::Value = serde_json::from_str(&rescued[1]).unwrap();
    assert_eq!(
        second,
        serde_json::json!({"a": "oops", "z": 3, "s": {"n": "no", "m": 2}, "_file_path": uri})
    );
    let third: serde_json::Value = serde_json::from_str(&rescued[2]).unwrap();
    assert_eq!(third, serde_json::json!({"A": 5, "_file_path": uri}));
    // A line that is not JSON is a row of NULLs (PERMISSIVE) whose text is kept in the
    // rescue column (there is no corrupt record column), not lost.
    let fourth: serde_json::Value = serde_json::from_str(&rescued[3]).unwrap();
    assert_eq!(fourth["_file_path"], serde_json::json!(uri));
    assert!(fourth["_corrupt_record"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn flat_reader_matches_the_record_reader() {
    let dir = TempDir::new();
    let clean = dir.file(
        "a.json",
        "{\"s\": \"x\\ty\", \"n\": 7, \"f\": 1.50, \"b\": true}\n{\"s\": 12, \"n\": null, \"f\": 2, \"b\": false}\n\n{\"s\": {\"k\": [1, 2]}, \"f\": -0.0}\n",
    );
    let o = opts(&[("cloudFiles.format", "json")]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("_rescued_data", DataType::Utf8, true),
    ]));
    let batch = run(scan(&[clean], &dir.0, schema.clone(), &o, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "s"), vec!["x\ty", "12", "{\"k\":[1,2]}"]);
    assert_eq!(column(&batch, "n"), vec!["7", "NULL", "NULL"]);
    assert_eq!(column(&batch, "f"), vec!["1.5", "2.0", "-0.0"]);
    assert_eq!(column(&batch, "b"), vec!["true", "false", "NULL"]);
    assert_eq!(column(&batch, "_rescued_data"), vec!["NULL"; 3]);
    // Lines that need rescuing go through the record reader; the others stay fast.
    let mixed = dir.file(
        "b.json",
        "{\"n\": 1}\n{\"n\": \"one\", \"q\": 1}\n{\"n\": 3}\n",
    );
    let batch = run(scan(std::slice::from_ref(&mixed), &dir.0, schema, &o, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "n"), vec!["1", "NULL", "3"]);
    let rescued = column(&batch, "_rescued_data");
    assert_eq!(rescued[0], "NULL");
    assert!(rescued[1].contains("\"n\":\"one\"") && rescued[1].contains("\"q\":1"));
}

#[test]
fn new_columns_and_evolution() {
    let dir = TempDir::new();
    let a = dir.file("in/a.json", "{\"a\": 1}\n");
    let location = dir.0.join("schema");
    let o = opts(&[
        ("cloudFiles.format", "json"),
        ("cloudFiles.schemaLocation", location.to_str().unwrap()),
        ("cloudFiles.schemaHints", "c bigint"),
    ]);
    let root = dir.0.join("in");
    let schema = stream_schema(&[a], &root, &o, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("a", "string"),
            ("c", "bigint"),
            ("_rescued_data", "string")
        ])
    );
    let b = dir.file(
        "in/b.json",
        "{\"a\": 2, \"d\": {\"x\": 1}, \"C\": 3, \"A\": 4}\n{\"e\": 1}\n",
    );
    let added = new_columns(&schema, std::slice::from_ref(&b), &o, "UTC").unwrap();
    assert_eq!(
        types(&Schema::new(added.clone())),
        pairs(&[("d", "struct<x:string>"), ("e", "string")])
    );
    let err = evolve(&schema, &added, &b, &o).unwrap().to_string();
    assert!(
        err.starts_with("[UNKNOWN_FIELD_EXCEPTION.NEW_FIELDS_IN_RECORD_WITH_FILE_PATH]"),
        "{err}"
    );
    assert!(err.contains("[\"d\",\"e\"]") && err.contains("b.json") && err.contains("true"));
    assert!(location.join("_schemas/1").exists());
    let evolved = stream_schema(&[b], &root, &o, "UTC").unwrap();
    assert_eq!(
        types(&evolved),
        pairs(&[
            ("a", "string"),
            ("c", "bigint"),
            ("d", "struct<x:string>"),
            ("e", "string"),
            ("_rescued_data", "string")
        ])
    );
    // failOnNewColumns leaves the log alone.
    let strict = opts(&[
        ("cloudFiles.format", "json"),
        ("cloudFiles.schemaLocation", location.to_str().unwrap()),
        ("cloudFiles.schemaEvolutionMode", "failOnNewColumns"),
    ]);
    let err = evolve(
        &evolved,
        &[Field::new("f", DataType::Utf8, true)],
        &dir.0,
        &strict,
    )
    .unwrap()
    .to_string();
    assert!(err.contains("automatic retry: false"));
    assert!(!location.join("_schemas/2").exists());
}

#[test]
fn listing_filters_and_orders() {
    let dir = TempDir::new();
    let set_time = |p: &Path, secs: u64| {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    };
    let late = dir.file("in/z.json", "{}");
    let early = dir.file("in/day=1/y.json", "{}");
    let csv = dir.file("in/x.csv", "a");
    dir.file("in/_hidden.json", "{}");
    dir.file("in/.tmp/w.json", "{}");
    set_time(&late, 1_000);
    set_time(&early, 10);
    set_time(&csv, 500);
    let all = list(&dir.0.join("in"), &opts(&[("cloudFiles.format", "json")])).unwrap();
    let names: Vec<_> = all.iter().map(|(p, _, _)| p.clone()).collect();
    assert_eq!(names, vec![early.clone(), csv, late.clone()]);
    assert_eq!(all[0].1, 2);
    assert_eq!(all[0].2, 10_000);
    let json = list(
        &dir.0.join("in"),
        &opts(&[("cloudFiles.format", "json"), ("pathGlobFilter", "*.json")]),
    )
    .unwrap();
    assert_eq!(json.len(), 2);
    assert!(list(
        &dir.0.join("missing"),
        &opts(&[("cloudFiles.format", "json")])
    )
    .unwrap()
    .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_become_string_columns() {
    let dir = TempDir::new();
    let a = dir.file("in/day=2024-01-01/a.json", "{\"v\": 1}\n");
    let b = dir.file("in/day=2024-01-02/b.json", "{\"v\": 2}\n");
    let root = dir.0.join("in");
    let o = opts(&[("cloudFiles.format", "json")]);
    let files = [a, b];
    let schema = stream_schema(&files, &root, &o, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("v", "string"),
            ("day", "string"),
            ("_rescued_data", "string")
        ])
    );
    let batch = run(scan(&files, &root, schema, &o, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "day"), vec!["2024-01-01", "2024-01-02"]);
    assert_eq!(column(&batch, "v"), vec!["1", "2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_by_header_with_rescue() {
    let dir = TempDir::new();
    let a = dir.file("a.csv", "id,name\n1,x\n2,y\n");
    let o = opts(&[
        ("cloudFiles.format", "csv"),
        ("cloudFiles.inferColumnTypes", "true"),
    ]);
    let schema = stream_schema(std::slice::from_ref(&a), &dir.0, &o, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("id", "int"),
            ("name", "string"),
            ("_rescued_data", "string")
        ])
    );
    let b = dir.file("b.csv", "name,extra,id\nz,e,three\n");
    let batch = run(scan(&[a, b.clone()], &dir.0, schema, &o, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "id"), vec!["1", "2", "NULL"]);
    assert_eq!(column(&batch, "name"), vec!["x", "y", "z"]);
    let rescued: serde_json::Value =
        serde_json::from_str(&column(&batch, "_rescued_data")[2]).unwrap();
    assert_eq!(
        rescued,
        serde_json::json!({"extra": "e", "id": "three", "_file_path": listing::file_uri(&b)})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_schema_formats() {
    let dir = TempDir::new();
    let t = dir.file("in/t.txt", "one\ntwo\n");
    let root = dir.0.join("in");
    let text = opts(&[("cloudFiles.format", "text")]);
    let schema = stream_schema(std::slice::from_ref(&t), &root, &text, "UTC").unwrap();
    assert_eq!(types(&schema), pairs(&[("value", "string")]));
    let batch = run(scan(std::slice::from_ref(&t), &root, schema, &text, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "value"), vec!["one", "two"]);

    let binary = opts(&[("cloudFiles.format", "binaryFile")]);
    let schema = stream_schema(std::slice::from_ref(&t), &root, &binary, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("path", "string"),
            ("modificationTime", "timestamp"),
            ("length", "bigint"),
            ("content", "binary")
        ])
    );
    let batch = run(scan(std::slice::from_ref(&t), &root, schema, &binary, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "length"), vec!["8"]);
    assert_eq!(column(&batch, "path"), vec![listing::file_uri(&t)]);
    assert_eq!(
        batch
            .column_by_name("content")
            .unwrap()
            .as_binary::<i32>()
            .value(0),
        b"one\ntwo\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_columns_by_name_with_rescue() {
    use arrow::array::{Int32Array, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;
    let dir = TempDir::new();
    let write = |name: &str, batch: RecordBatch| {
        let path = dir.0.join(name);
        let file = std::fs::File::create(&path).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path
    };
    let a = write(
        "a.parquet",
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int32Array::from(vec![1, 2])) as _),
            ("name", Arc::new(StringArray::from(vec!["x", "y"])) as _),
        ])
        .unwrap(),
    );
    let o = opts(&[("cloudFiles.format", "parquet")]);
    let schema = stream_schema(std::slice::from_ref(&a), &dir.0, &o, "UTC").unwrap();
    assert_eq!(
        types(&schema),
        pairs(&[
            ("id", "int"),
            ("name", "string"),
            ("_rescued_data", "string")
        ])
    );
    let b = write(
        "b.parquet",
        RecordBatch::try_from_iter(vec![
            ("name", Arc::new(StringArray::from(vec!["z"])) as _),
            ("id", Arc::new(StringArray::from(vec!["three"])) as _),
            ("more", Arc::new(Int32Array::from(vec![7])) as _),
        ])
        .unwrap(),
    );
    let added = new_columns(&schema, std::slice::from_ref(&b), &o, "UTC").unwrap();
    assert_eq!(types(&Schema::new(added)), pairs(&[("more", "int")]));
    let batch = run(scan(&[a, b.clone()], &dir.0, schema, &o, "UTC").unwrap()).await;
    assert_eq!(column(&batch, "id"), vec!["1", "2", "NULL"]);
    assert_eq!(column(&batch, "name"), vec!["x", "y", "z"]);
    let rescued: serde_json::Value =
        serde_json::from_str(&column(&batch, "_rescued_data")[2]).unwrap();
    assert_eq!(
        rescued,
        serde_json::json!({"id": "three", "more": 7, "_file_path": listing::file_uri(&b)})
    );
    let _ = list_type(DataType::Utf8, true);
}

/// The streaming benchmark's shape: 1M JSON rows in 20 files, inferred, checked for new
/// columns and read (run with `--ignored --nocapture` for the timing).
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn ingest_speed() {
    let dir = TempDir::new();
    let mut files = vec![];
    for f in 0..20 {
        let mut text = String::new();
        for i in 0..50_000 {
            let n = f * 50_000 + i;
            text.push_str(&format!(
                "{{\"id\": {n}, \"name\": \"user{n}\", \"score\": {}.5, \"active\": {}, \"city\": \"c{}\"}}\n",
                n % 100,
                n % 2 == 0,
                n % 37
            ));
        }
        files.push(dir.file(&format!("in/part-{f:02}.json"), &text));
    }
    let root = dir.0.join("in");
    let o = opts(&[("cloudFiles.format", "json")]);
    let start = std::time::Instant::now();
    let schema = stream_schema(&files, &root, &o, "UTC").unwrap();
    let added = new_columns(&schema, &files, &o, "UTC").unwrap();
    assert!(added.is_empty());
    let batch = run(scan(&files, &root, schema, &o, "UTC").unwrap()).await;
    println!("1M rows in {:?}", start.elapsed());
    assert_eq!(batch.num_rows(), 1_000_000);
    assert_eq!(
        batch.column_by_name("_rescued_data").unwrap().null_count(),
        1_000_000
    );
}

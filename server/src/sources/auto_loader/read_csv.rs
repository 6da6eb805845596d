//! Reading CSV files by their own headers: each file's header names the columns its values
//! go to (files may order or omit columns differently). With a rescued data column, cells of
//! columns the schema lacks (or names with another case), cells that do not parse as their
//! column's type and cells beyond the header go to it (as strings, under the header name or
//! `_c<i>`); without one, such records follow the parse mode as in `spark.read`.
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;
use planner::PlanResult;
use serde_json::{Map, Value};

use super::super::convert::{self, Mode};
use super::super::csv::{self as spark_csv, CsvOptions};
use super::super::exec::{self, FileDecoder};
use super::super::{files, plan_to_df};
use super::listing::file_uri;

#[derive(Debug)]
pub struct CsvReader {
    /// Data columns, then the rescued data column if any.
    schema: SchemaRef,
    data: SchemaRef,
    rescue: Option<String>,
    options: CsvOptions,
    header: bool,
    case_sensitive: bool,
}

impl CsvReader {
    pub fn new(
        data: SchemaRef,
        rescue: Option<&str>,
        options: CsvOptions,
        header: bool,
        case_sensitive: bool,
    ) -> Self {
        let data = convert::nullable(&data);
        let mut fields: Vec<Field> = data.fields().iter().map(|f| f.as_ref().clone()).collect();
        if let Some(r) = rescue {
            fields.push(Field::new(r, DataType::Utf8, true));
        }
        CsvReader {
            schema: Arc::new(Schema::new(fields)),
            data,
            rescue: rescue.map(str::to_string),
            options,
            header,
            case_sensitive,
        }
    }

    fn corrupt(&self) -> Option<usize> {
        self.data.fields().iter().position(|f| {
            f.name() == &self.options.corrupt_column && f.data_type() == &DataType::Utf8
        })
    }

    /// The column each cell position goes to (None: no column), with the cell's name.
    fn targets(
        &self,
        header: Option<&Vec<Option<String>>>,
        width: usize,
    ) -> Vec<(String, Option<usize>)> {
        let fields = self.data.fields();
        match header {
            Some(h) => spark_csv::column_names(Some(h), h.len().max(width))
                .into_iter()
                .map(|name| {
                    let at = fields.iter().position(|f| f.name() == &name).or_else(|| {
                        (!self.case_sensitive)
                            .then(|| {
                                fields
                                    .iter()
                                    .position(|f| f.name().eq_ignore_ascii_case(&name))
                            })
                            .flatten()
                    });
                    (name, at)
                })
                .collect(),
            None => {
                let corrupt = self.corrupt();
                let positional: Vec<usize> =
                    (0..fields.len()).filter(|&i| Some(i) != corrupt).collect();
                (0..width.max(positional.len()))
                    .map(|i| (format!("_c{i}"), positional.get(i).copied()))
                    .collect()
            }
        }
    }

    fn convert(&self, text: &str, file: &Path) -> PlanResult<RecordBatch> {
        let o = &self.options;
        let mut recs = spark_csv::records(text, o);
        let header = if self.header && !recs.is_empty() {
            Some(recs.remove(0).fields)
        } else {
            None
        };
        let width = recs.iter().map(|r| r.fields.len()).max().unwrap_or(0);
        let mut targets = self.targets(header.as_ref(), width);
        // A column named twice in a header: the first cell wins, the others are rescued.
        let mut taken = vec![false; self.data.fields().len()];
        for (_, t) in targets.iter_mut() {
            if let Some(i) = *t {
                if std::mem::replace(&mut taken[i], true) {
                    *t = None;
                }
            }
        }
        let expected = header
            .as_ref()
            .map_or(taken.iter().filter(|t| **t).count(), Vec::len);
        let uri = file_uri(file);
        let mut rows = Vec::with_capacity(recs.len());
        for rec in &recs {
            let mut row = Map::new();
            let mut rescued = Map::new();
            let mut malformed = self.rescue.is_none() && rec.fields.len() != expected;
            for (cell, (name, target)) in rec.fields.iter().zip(&targets) {
                let Some(text) = cell.as_deref().filter(|t| *t != o.null_value) else {
                    continue;
                };
                let parsed = target.map(|i| {
                    let field = self.data.field(i);
                    (
                        field,
                        convert::parse_text(text, field.data_type(), &o.formats),
                    )
                });
                match parsed {
                    Some((field, Some(v))) => {
                        row.insert(field.name().clone(), v);
                    }
                    _ if self.rescue.is_some() => {
                        rescued.insert(name.clone(), Value::String(text.to_string()));
                    }
                    Some((_, None)) => malformed = true,
                    None => {}
                }
            }
            if malformed {
                match o.mode {
                    Mode::FailFast => return Err(convert::failed_read_file(file)),
                    Mode::DropMalformed => continue,
                    Mode::Permissive => {
                        if let Some(c) = self.corrupt() {
                            row.insert(
                                self.data.field(c).name().clone(),
                                Value::String(rec.raw.to_string()),
                            );
                        }
                    }
                }
            }
            if let (Some(r), false) = (&self.rescue, rescued.is_empty()) {
                rescued.insert("_file_path".into(), Value::String(uri.clone()));
                row.insert(r.clone(), Value::String(Value::Object(rescued).to_string()));
            }
            rows.push(row);
        }
        convert::to_batch(&self.schema, &rows)
    }
}

impl FileDecoder for CsvReader {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn decode(
        &self,
        file: &Path,
        projection: &[usize],
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let text = files::read_text(file).map_err(plan_to_df)?;
        let batch = self.convert(&text, file).map_err(plan_to_df)?;
        emit(exec::project(&batch, projection)?)
    }
}

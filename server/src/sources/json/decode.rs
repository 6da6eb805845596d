//! Decoding one JSON file at execution time: flat columns through sluice's one-pass decoder,
//! others through arrow-json when a scan shows that every record is one object per line
//! whose values convert exactly (see `Shape::fits`), and whatever either refuses through the
//! per-row reader with Spark's parse modes and `_corrupt_record`.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use datafusion::common::Result;

use super::super::exec::{self, FileDecoder};
use super::super::{files, plan_to_df};
use super::shape::fits_fields;
use super::{cache, flat};
use super::{convert_text, infer, JsonOptions};

/// Rows per batch out of arrow-json.
const BATCH_ROWS: usize = 8192;

#[derive(Debug)]
pub struct JsonDecoder {
    schema: SchemaRef,
    options: JsonOptions,
}

impl JsonDecoder {
    /// `schema` is read as nullable columns, as Spark does.
    pub fn new(schema: SchemaRef, options: JsonOptions) -> JsonDecoder {
        JsonDecoder {
            schema: super::super::convert::nullable(&schema),
            options,
        }
    }

    /// Whether arrow-json reads `text` as the per-row reader would.
    fn fast(&self, path: &Path, text: &str) -> bool {
        if self.options.multi_line {
            return false;
        }
        let facts = cache::facts(path, false, || {
            Ok::<_, ()>(infer::facts_of(text, &self.options))
        })
        .unwrap_or_default();
        facts.simple
            && match &facts.shape {
                super::shape::Shape::Struct(fields) => fits_fields(fields, self.schema.fields()),
                _ => true,
            }
    }

    fn decode_fast(&self, text: &str, projection: &[usize]) -> Result<Vec<RecordBatch>> {
        let schema = Arc::new(self.schema.project(projection)?);
        if projection.is_empty() {
            return Ok(count_only(&schema, count_rows(text)));
        }
        let mut decoder = arrow::json::ReaderBuilder::new(schema)
            .with_batch_size(BATCH_ROWS)
            .build_decoder()?;
        let mut batches = vec![];
        let mut rest = text.as_bytes();
        loop {
            let read = decoder.decode(rest)?;
            rest = &rest[read..];
            batches.extend(decoder.flush()?);
            if rest.is_empty() {
                return Ok(batches);
            }
        }
    }
}

/// Objects in a text arrow-json reads (one per non-blank line).
fn count_rows(text: &str) -> usize {
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

/// Batches of `rows` rows without columns.
fn count_only(schema: &SchemaRef, rows: usize) -> Vec<RecordBatch> {
    (0..rows)
        .step_by(BATCH_ROWS)
        .filter_map(|start| {
            let n = BATCH_ROWS.min(rows - start);
            RecordBatch::try_new_with_options(
                schema.clone(),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )
            .ok()
        })
        .collect()
}

impl FileDecoder for JsonDecoder {
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
        if !self.options.multi_line {
            if let Some(batches) = flat::decode(&text, &self.schema, projection, BATCH_ROWS) {
                return batches.into_iter().try_for_each(emit);
            }
        }
        if self.fast(file, &text) {
            // A decode error means the scan and arrow-json disagree: the per-row reader decides.
            if let Ok(batches) = self.decode_fast(&text, projection) {
                return batches.into_iter().try_for_each(emit);
            }
        }
        let batch = convert_text(&text, file, &self.schema, &self.options).map_err(plan_to_df)?;
        emit(exec::project(&batch, projection)?)
    }
}

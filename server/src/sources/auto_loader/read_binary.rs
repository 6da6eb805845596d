//! `binaryFile`: one row per file with Spark's columns `path`, `modificationTime`, `length`
//! and `content`.
use std::path::Path;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use arrow::array::{BinaryArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::Result;
use datafusion::error::DataFusionError;

use super::super::exec::{self, FileDecoder};
use super::super::files;
use super::infer::binary_fields;
use super::listing::file_uri;

#[derive(Debug)]
pub struct BinaryReader {
    schema: SchemaRef,
    time_zone: String,
}

impl BinaryReader {
    pub fn new(time_zone: &str) -> Self {
        BinaryReader {
            schema: Arc::new(Schema::new(binary_fields(time_zone))),
            time_zone: time_zone.to_string(),
        }
    }
}

impl FileDecoder for BinaryReader {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn decode(
        &self,
        file: &Path,
        projection: &[usize],
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let failed = |e: std::io::Error| {
            DataFusionError::Execution(format!("{}: {e}", files::absolute(file)))
        };
        let meta = std::fs::metadata(file).map_err(failed)?;
        let micros = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_micros() as i64);
        // The content is read only when asked for.
        let content = if projection.contains(&3) {
            Some(std::fs::read(file).map_err(failed)?)
        } else {
            None
        };
        let batch = RecordBatch::try_new(
            self.schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![file_uri(file)])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![micros])
                        .with_timezone(self.time_zone.as_str()),
                ),
                Arc::new(Int64Array::from(vec![meta.len() as i64])),
                Arc::new(BinaryArray::from(vec![content.as_deref()])),
            ],
        )?;
        emit(exec::project(&batch, projection)?)
    }
}

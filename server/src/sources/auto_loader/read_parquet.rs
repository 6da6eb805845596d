//! Reading Parquet files into the stream's schema, column by name: a file column of the
//! schema's type (or one that widens to it) is read; with a rescued data column, file columns
//! the schema lacks and columns of another type go to it as JSON, row by row. Without one, a
//! column of another type is an error naming the file and the column.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    new_null_array, ArrayBuilder, ArrayRef, RecordBatch, RecordBatchOptions, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};

use super::super::convert;
use super::super::exec::{self, FileDecoder};
use super::super::files;
use super::infer::{spark_type, widest};
use super::listing::file_uri;

const BATCH_ROWS: usize = 8192;

#[derive(Debug)]
pub struct ParquetReader {
    schema: SchemaRef,
    data: SchemaRef,
    rescue: bool,
    case_sensitive: bool,
    time_zone: String,
}

impl ParquetReader {
    pub fn new(
        data: SchemaRef,
        rescue: Option<&str>,
        case_sensitive: bool,
        time_zone: &str,
    ) -> Self {
        let data = convert::nullable(&data);
        let mut fields: Vec<Field> = data.fields().iter().map(|f| f.as_ref().clone()).collect();
        if let Some(r) = rescue {
            fields.push(Field::new(r, DataType::Utf8, true));
        }
        ParquetReader {
            schema: Arc::new(Schema::new(fields)),
            data,
            rescue: rescue.is_some(),
            case_sensitive,
            time_zone: time_zone.to_string(),
        }
    }

    /// Whether a file column of type `from` reads into a column of type `to`.
    fn reads_as(&self, from: &DataType, to: &DataType) -> bool {
        let from = spark_type(from, &self.time_zone);
        &from == to
            || &widest(&from, to) == to && !matches!(to, DataType::Struct(_) | DataType::List(_))
    }

    fn convert(&self, batch: &RecordBatch, uri: &str, file: &Path) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let file_schema = batch.schema();
        let mut used = vec![false; batch.num_columns()];
        let mut rescued: Vec<usize> = vec![];
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.data.fields() {
            let at = file_schema
                .fields()
                .iter()
                .position(|f| f.name() == field.name())
                .or_else(|| {
                    (!self.case_sensitive)
                        .then(|| {
                            file_schema
                                .fields()
                                .iter()
                                .position(|f| f.name().eq_ignore_ascii_case(field.name()))
                        })
                        .flatten()
                });
            let Some(at) = at else {
                columns.push(new_null_array(field.data_type(), rows));
                continue;
            };
            used[at] = true;
            let column = batch.column(at);
            if self.reads_as(column.data_type(), field.data_type()) {
                columns.push(arrow::compute::cast(column, field.data_type())?);
            } else if self.rescue {
                rescued.push(at);
                columns.push(new_null_array(field.data_type(), rows));
            } else {
                return Err(DataFusionError::Execution(format!(
                    "[CANNOT_READ_FILE.DATA_TYPE_MISMATCH] Cannot read parquet file at path: {}. Column types do not match the read schema. You can use the 'rescuedDataColumn' option when reading to rescue the data. Mismatching columns: [{}: {} vs {}] SQLSTATE: KD003",
                    files::absolute(file),
                    field.name(),
                    column.data_type(),
                    field.data_type()
                )));
            }
        }
        if self.rescue {
            rescued.extend((0..batch.num_columns()).filter(|&i| !used[i]));
            columns.push(rescue_column(batch, &rescued, uri)?);
        }
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }
}

/// Columns `which` of `batch` as one JSON object per row (NULL where all are NULL).
fn rescue_column(batch: &RecordBatch, which: &[usize], uri: &str) -> Result<ArrayRef> {
    let rows = batch.num_rows();
    if which.is_empty() {
        return Ok(new_null_array(&DataType::Utf8, rows));
    }
    let part = batch.project(which)?;
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    writer.write(&part)?;
    writer.finish()?;
    let bytes = writer.into_inner();
    let text = String::from_utf8_lossy(&bytes);
    let mut out = StringBuilder::new();
    for line in text.lines().take(rows) {
        match serde_json::from_str::<Map<String, Value>>(line) {
            Ok(mut object) if !object.is_empty() => {
                object.insert("_file_path".into(), Value::String(uri.to_string()));
                out.append_value(Value::Object(object).to_string());
            }
            _ => out.append_null(),
        }
    }
    while out.len() < rows {
        out.append_null();
    }
    Ok(Arc::new(out.finish()))
}

impl FileDecoder for ParquetReader {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn decode(
        &self,
        file: &Path,
        projection: &[usize],
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let external = |e: datafusion::parquet::errors::ParquetError| {
            DataFusionError::Execution(format!(
                "Cannot read the Parquet file {}: {e}",
                files::absolute(file)
            ))
        };
        let handle = std::fs::File::open(file)
            .map_err(|e| DataFusionError::Execution(format!("{}: {e}", files::absolute(file))))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(handle)
            .map_err(external)?
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(external)?;
        let uri = file_uri(file);
        for batch in reader {
            let batch = self.convert(&batch?, &uri, file)?;
            emit(exec::project(&batch, projection)?)?;
        }
        Ok(())
    }
}

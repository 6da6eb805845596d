//! `spark.read.text`: one `value` row per line (`lineSep`, or any of `\n`, `\r\n`, `\r`), or
//! one per file with `wholetext`.
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;

use super::exec::{self, FileDecoder};
use super::{files, plan_to_df};

#[derive(Debug)]
pub struct TextDecoder {
    schema: SchemaRef,
    whole: bool,
    separator: Option<String>,
}

impl TextDecoder {
    pub fn new(options: &HashMap<String, String>) -> TextDecoder {
        TextDecoder {
            schema: Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)])),
            whole: options
                .get("wholetext")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            separator: options.get("linesep").filter(|s| !s.is_empty()).cloned(),
        }
    }

    fn lines<'a>(&self, text: &'a str) -> Vec<&'a str> {
        match (self.whole, &self.separator) {
            (true, _) => vec![text],
            (false, Some(sep)) => {
                let mut parts: Vec<&str> = text.split(sep.as_str()).collect();
                if parts.last() == Some(&"") {
                    parts.pop();
                }
                parts
            }
            (false, None) => text.lines().flat_map(|l| l.split('\r')).collect(),
        }
    }
}

impl FileDecoder for TextDecoder {
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
        let values = StringArray::from(self.lines(&text));
        let batch = RecordBatch::try_new(self.schema.clone(), vec![Arc::new(values)])?;
        emit(exec::project(&batch, projection)?)
    }
}

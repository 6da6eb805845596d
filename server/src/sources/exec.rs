//! Reading files at execution time: a table of files whose scan decodes them in parallel
//! (contiguous groups of files, one group per partition, in listing order), adds the
//! `key=value` folder columns, and streams the batches.
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};

/// Turns one file into batches of the reader's data columns.
pub trait FileDecoder: fmt::Debug + Send + Sync {
    /// The data columns (without folder columns).
    fn schema(&self) -> &SchemaRef;

    /// Decodes `file`, handing `emit` batches of the data columns `projection` (in that order).
    fn decode(
        &self,
        file: &Path,
        projection: &[usize],
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()>;
}

/// One file of the table and the values of its folder columns.
#[derive(Debug, Clone)]
pub struct ScanFile {
    pub path: PathBuf,
    pub size: u64,
    pub partition_values: Vec<ScalarValue>,
}

/// The hidden column every file scan ends with: each row's file URL, for
/// `input_file_name()` (see `planner::input_file`).
pub fn input_file_field() -> Field {
    Field::new(
        planner::input_file::INPUT_FILE_COLUMN,
        DataType::Utf8,
        false,
    )
}

/// `file:///...`, as Spark names a local file in `input_file_name()`.
pub fn file_url(path: &Path) -> ScalarValue {
    ScalarValue::Utf8(Some(format!("file://{}", super::files::absolute(path))))
}

/// Files read by one decoder; the table's schema is the decoder's columns, then the folder
/// columns.
#[derive(Debug)]
pub struct FileTable {
    name: String,
    schema: SchemaRef,
    decoder: Arc<dyn FileDecoder>,
    files: Arc<[ScanFile]>,
}

impl FileTable {
    pub fn new(
        name: &str,
        schema: SchemaRef,
        decoder: Arc<dyn FileDecoder>,
        files: Vec<ScanFile>,
    ) -> FileTable {
        FileTable {
            name: name.to_string(),
            schema,
            decoder,
            files: files.into(),
        }
    }

    /// The scan of the columns `projection` (all when None), in up to `partitions` partitions.
    pub fn exec(
        &self,
        projection: Option<&Vec<usize>>,
        partitions: usize,
        limit: Option<usize>,
    ) -> Result<Arc<FileScanExec>> {
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&projection)?);
        let groups = group_files(&self.files, partitions.max(1));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(groups.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(FileScanExec {
            name: self.name.clone(),
            schema,
            data_width: self.decoder.schema().fields().len(),
            projection,
            decoder: self.decoder.clone(),
            files: self.files.clone(),
            groups,
            limit,
            properties: Arc::new(properties),
        }))
    }
}

/// Splits the files, in order, into up to `n` contiguous groups of similar byte size.
fn group_files(files: &[ScanFile], n: usize) -> Vec<Vec<usize>> {
    let total: u64 = files.iter().map(|f| f.size.max(1)).sum();
    let per_group = total.div_ceil(n.min(files.len()).max(1) as u64);
    let mut groups: Vec<Vec<usize>> = vec![vec![]];
    let mut filled = 0;
    for (i, f) in files.iter().enumerate() {
        let size = f.size.max(1);
        if filled > 0 && filled + size / 2 > per_group && groups.len() < n {
            groups.push(vec![]);
            filled = 0;
        }
        groups.last_mut().expect("one group").push(i);
        filled += size;
    }
    groups
}

#[async_trait]
impl TableProvider for FileTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partitions = state.config_options().execution.target_partitions;
        Ok(self.exec(projection, partitions, limit)?)
    }
}

/// The physical scan of a [`FileTable`].
#[derive(Debug)]
pub struct FileScanExec {
    name: String,
    schema: SchemaRef,
    data_width: usize,
    /// Table columns in output order: data columns first, then folder columns.
    projection: Vec<usize>,
    decoder: Arc<dyn FileDecoder>,
    files: Arc<[ScanFile]>,
    groups: Vec<Vec<usize>>,
    limit: Option<usize>,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for FileScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "FileScanExec: format={}, files={}, partitions={}",
            self.name,
            self.files.len(),
            self.groups.len()
        )
    }
}

impl ExecutionPlan for FileScanExec {
    fn name(&self) -> &str {
        "FileScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), 2);
        let tx = builder.tx();
        let decoder = self.decoder.clone();
        let files = self.files.clone();
        let group = self.groups.get(partition).cloned().unwrap_or_default();
        let schema = self.schema.clone();
        let data_width = self.data_width;
        let projection = self.projection.clone();
        let mut left = self.limit.unwrap_or(usize::MAX);
        builder.spawn_blocking(move || {
            let data: Vec<usize> = projection
                .iter()
                .copied()
                .filter(|&i| i < data_width)
                .collect();
            for i in group {
                if left == 0 {
                    break;
                }
                let file = &files[i];
                let mut emit = |batch: RecordBatch| {
                    let batch = with_folder_columns(&schema, &projection, data_width, file, batch)?;
                    let batch = batch.slice(0, batch.num_rows().min(left));
                    left -= batch.num_rows();
                    // A closed channel means the consumer is gone: stop quietly.
                    if tx.blocking_send(Ok(batch)).is_err() || left == 0 {
                        return Err(datafusion::error::DataFusionError::External(Box::new(Stop)));
                    }
                    Ok(())
                };
                match decoder.decode(&file.path, &data, &mut emit) {
                    Err(datafusion::error::DataFusionError::External(e)) if e.is::<Stop>() => {}
                    other => other?,
                }
            }
            Ok(())
        });
        Ok(builder.build())
    }
}

/// Raised by `emit` to end a decode early (limit reached, consumer gone).
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "scan stopped")
    }
}

impl std::error::Error for Stop {}

/// The output batch: the decoded data columns and the file's folder values, in `projection` order.
fn with_folder_columns(
    schema: &SchemaRef,
    projection: &[usize],
    data_width: usize,
    file: &ScanFile,
    batch: RecordBatch,
) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let mut data = batch.columns().iter();
    let columns = projection
        .iter()
        .map(|&i| match i.checked_sub(data_width) {
            None => Ok(data.next().expect("a decoded column").clone()),
            Some(k) => file.partition_values[k].to_array_of_size(rows),
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// Projects a decoded batch of all data columns to `projection` (for decoders that cannot skip
/// columns).
pub fn project(batch: &RecordBatch, projection: &[usize]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(
        projection
            .iter()
            .map(|&i| batch.schema().field(i).clone())
            .collect::<Vec<_>>(),
    ));
    let columns = projection
        .iter()
        .map(|&i| batch.column(i).clone())
        .collect();
    Ok(RecordBatch::try_new_with_options(
        schema,
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(sizes: &[u64]) -> Vec<ScanFile> {
        sizes
            .iter()
            .map(|&size| ScanFile {
                path: PathBuf::from("x"),
                size,
                partition_values: vec![],
            })
            .collect()
    }

    #[test]
    fn groups_are_contiguous_and_balanced() {
        assert_eq!(
            group_files(&files(&[10; 4]), 2),
            vec![vec![0, 1], vec![2, 3]]
        );
        assert_eq!(
            group_files(&files(&[10; 3]), 8),
            vec![vec![0], vec![1], vec![2]]
        );
        assert_eq!(group_files(&files(&[]), 4), vec![Vec::<usize>::new()]);
        assert_eq!(
            group_files(&files(&[100, 1, 1, 1]), 2),
            vec![vec![0], vec![1, 2, 3]]
        );
    }
}

//! A stateful operator's state in the checkpoint: `state/<operator>/<batch>.arrow` is the
//! state after that batch. A batch starts from the file of the batch before it, so a batch
//! run again after a crash (offsets logged, no commit) starts from the same state as the
//! first time, whatever that run had saved for itself.
use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::SparkResult;

pub struct StateStore {
    dir: PathBuf,
    /// The state after the batch with this id, as last saved or loaded.
    cache: Option<(i64, SchemaRef, Vec<RecordBatch>)>,
}

impl StateStore {
    pub fn new(dir: PathBuf) -> StateStore {
        StateStore { dir, cache: None }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn file(&self, batch: i64) -> PathBuf {
        self.dir.join(format!("{batch}.arrow"))
    }

    /// The state the batch before `batch` left (none before the first batch).
    pub fn load(&mut self, batch: i64) -> SparkResult<Option<(SchemaRef, Vec<RecordBatch>)>> {
        if let Some((id, schema, rows)) = &self.cache {
            if *id == batch - 1 {
                return Ok(Some((schema.clone(), rows.clone())));
            }
        }
        let path = self.file(batch - 1);
        if batch == 0 || !path.exists() {
            return Ok(None);
        }
        let f = std::fs::File::open(&path)?;
        let reader = arrow::ipc::reader::FileReader::try_new(f, None)?;
        let schema = reader.schema();
        let rows = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(Some((schema, rows)))
    }

    /// Writes the state after `batch` (whole, under a temporary name first).
    pub fn save(
        &mut self,
        batch: i64,
        schema: SchemaRef,
        rows: Vec<RecordBatch>,
    ) -> SparkResult<()> {
        let mut buf = vec![];
        {
            let mut w = arrow::ipc::writer::FileWriter::try_new(&mut buf, &schema)?;
            for r in &rows {
                w.write(r)?;
            }
            w.finish()?;
        }
        super::checkpoint::write_bytes_atomic(&self.file(batch), &buf)?;
        self.cache = Some((batch, schema, rows));
        Ok(())
    }

    /// The batch committed: only its state and the one before are still needed (a replay of
    /// the next batch reads this one's).
    pub fn commit(&mut self, batch: i64) -> SparkResult<()> {
        for old in super::checkpoint::batch_ids_with_ext(&self.dir, "arrow")? {
            if old < batch - 1 {
                let _ = std::fs::remove_file(self.file(old));
            }
        }
        Ok(())
    }
}

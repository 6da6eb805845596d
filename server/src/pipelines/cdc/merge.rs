//! The in-memory merge algorithm behind `APPLY CHANGES INTO` / `AUTO CDC`.
//!
//! One call to [`apply`] merges one micro-batch of change events into the
//! complete current target table (SCD type 1 or type 2) and returns the new
//! table plus the per-key bookkeeping ("state") that the next batch needs to
//! recognise out-of-order events.
//!
//! Sequences are compared with arrow's row format (a total order for every
//! orderable type, floats included); column values are compared with
//! [`ScalarValue`]; output columns are gathered with `interleave` / `take`, so
//! any Arrow type can be carried through.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    new_empty_array, new_null_array, Array, ArrayRef, AsArray, BooleanArray, StringArray,
    UInt64Array,
};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, concat, interleave, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::ScalarValue;

/// Internal column of `changes`: the SEQUENCE BY value.
pub const SEQ_COL: &str = "__sluice_seq";
/// Internal column of `changes`: the row is a delete (NULL = false).
pub const DELETE_COL: &str = "__sluice_delete";
/// Internal column of `changes`: the row truncates the table (NULL = false).
pub const TRUNCATE_COL: &str = "__sluice_truncate";
/// SCD2 target column: sequence of the event that opened the version.
pub const START_AT: &str = "__START_AT";
/// SCD2 target column: sequence of the event that closed the version (NULL = current).
pub const END_AT: &str = "__END_AT";
/// State column: canonical text encoding of the key values.
pub const STATE_KEY: &str = "key";
/// State column: latest sequence applied for the key (deletes included).
pub const STATE_SEQ: &str = "seq";
/// State column: the key's latest event was a delete (tombstone).
pub const STATE_DELETED: &str = "deleted";

/// A column selection: `*`, `(a, b)` or `* EXCEPT (a, b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Columns {
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

/// The `APPLY CHANGES` clauses that shape the merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// KEYS (..): column names, matched case-insensitively.
    pub keys: Vec<String>,
    /// COLUMNS: which data columns the target keeps.
    pub columns: Columns,
    /// 1 or 2.
    pub scd_type: u8,
    /// SCD2 only: TRACK HISTORY ON (must be `Columns::All` for SCD1).
    pub track_history: Columns,
    /// A NULL in an update keeps the target's value for that column.
    pub ignore_null_updates: bool,
}

/// The result of merging one batch.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The complete new target table.
    pub target: RecordBatch,
    /// The complete new per-key bookkeeping (schema: [`state_schema`]).
    pub state: RecordBatch,
    /// Applied (non-stale) upsert events.
    pub upserted: u64,
    /// Applied (non-stale) delete events.
    pub deleted: u64,
}

fn invalid(msg: impl Into<String>) -> ArrowError {
    ArrowError::InvalidArgumentError(msg.into())
}

/// Schema of the bookkeeping batch: `key` Utf8, `seq` (the sequence type),
/// `deleted` Boolean.
pub fn state_schema(seq_type: &DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(STATE_KEY, DataType::Utf8, false),
        Field::new(STATE_SEQ, seq_type.clone(), false),
        Field::new(STATE_DELETED, DataType::Boolean, false),
    ]))
}

/// The target table's schema: the kept data columns of `changes` in source
/// order (all made nullable), plus `__START_AT` / `__END_AT` (nullable, of the
/// sequence type) for SCD type 2.
pub fn target_schema(spec: &Spec, changes: &Schema) -> Result<SchemaRef, ArrowError> {
    Ok(layout(spec, changes)?.schema)
}

/// How the columns of `changes` map onto the target.
struct Layout {
    schema: SchemaRef,
    /// Index in `changes` of each kept column (position = target position).
    kept: Vec<usize>,
    /// Positions (among kept columns) of the key columns.
    keys: Vec<usize>,
    /// Positions (among kept columns) of the columns whose change makes a
    /// new SCD2 version.
    tracked: Vec<usize>,
    seq: usize,
    delete: Option<usize>,
    truncate: Option<usize>,
    seq_type: DataType,
}

/// Exact match first, then a unique case-insensitive match.
fn find_col(names: &[&str], wanted: &str) -> Result<Option<usize>, ArrowError> {
    if let Some(i) = names.iter().position(|n| *n == wanted) {
        return Ok(Some(i));
    }
    let lower = wanted.to_lowercase();
    let hits: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.to_lowercase() == lower)
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [i] => Ok(Some(*i)),
        _ => Err(invalid(format!(
            "column name `{wanted}` is ambiguous: it matches {}",
            hits.iter()
                .map(|&i| format!("`{}`", names[i]))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Resolves every name of `list` among `names`; errors naming all unknown
/// ones. Returns distinct positions in list order.
fn resolve_list(names: &[&str], list: &[String], clause: &str) -> Result<Vec<usize>, ArrowError> {
    let mut out = Vec::with_capacity(list.len());
    let mut unknown = Vec::new();
    for name in list {
        match find_col(names, name)? {
            Some(i) => {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
            None => unknown.push(format!("`{name}`")),
        }
    }
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(invalid(format!(
            "{clause}: unknown column(s) {}; available columns: {}",
            unknown.join(", "),
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// Positions `0..len` selected by `cols` (source order kept).
fn select(names: &[&str], cols: &Columns, clause: &str) -> Result<Vec<usize>, ArrowError> {
    Ok(match cols {
        Columns::All => (0..names.len()).collect(),
        Columns::Only(list) => {
            let set: HashSet<usize> = resolve_list(names, list, clause)?.into_iter().collect();
            (0..names.len()).filter(|p| set.contains(p)).collect()
        }
        Columns::Except(list) => {
            let set: HashSet<usize> = resolve_list(names, list, clause)?.into_iter().collect();
            (0..names.len()).filter(|p| !set.contains(p)).collect()
        }
    })
}

fn layout(spec: &Spec, changes: &Schema) -> Result<Layout, ArrowError> {
    if spec.scd_type != 1 && spec.scd_type != 2 {
        return Err(invalid(format!(
            "STORED AS SCD TYPE {} is not supported (expected 1 or 2)",
            spec.scd_type
        )));
    }
    let names: Vec<&str> = changes.fields().iter().map(|f| f.name().as_str()).collect();
    let seq = find_col(&names, SEQ_COL)?
        .ok_or_else(|| invalid(format!("the change feed has no `{SEQ_COL}` column")))?;
    let delete = find_col(&names, DELETE_COL)?;
    let truncate = find_col(&names, TRUNCATE_COL)?;
    for (idx, name) in [(delete, DELETE_COL), (truncate, TRUNCATE_COL)] {
        if let Some(i) = idx {
            let dt = changes.field(i).data_type();
            if !matches!(dt, DataType::Boolean | DataType::Null) {
                return Err(invalid(format!("`{name}` must be Boolean, found {dt}")));
            }
        }
    }
    let seq_type = changes.field(seq).data_type().clone();
    if !RowConverter::supports_fields(&[SortField::new(seq_type.clone())]) {
        return Err(invalid(format!(
            "SEQUENCE BY column has type {seq_type}, which is not orderable"
        )));
    }

    let data: Vec<usize> = (0..names.len())
        .filter(|i| *i != seq && Some(*i) != delete && Some(*i) != truncate)
        .collect();
    let data_names: Vec<&str> = data.iter().map(|&i| names[i]).collect();
    let kept_pos = select(&data_names, &spec.columns, "COLUMNS")?;
    let kept: Vec<usize> = kept_pos.iter().map(|&p| data[p]).collect();
    let kept_names: Vec<&str> = kept.iter().map(|&i| names[i]).collect();

    if spec.keys.is_empty() {
        return Err(invalid("KEYS must name at least one column"));
    }
    let mut keys = Vec::with_capacity(spec.keys.len());
    for p in resolve_list(&data_names, &spec.keys, "KEYS")? {
        match kept_pos.iter().position(|q| *q == p) {
            Some(j) => keys.push(j),
            None => {
                return Err(invalid(format!(
                    "KEYS: key column `{}` is excluded by COLUMNS; keys must be kept in the target",
                    data_names[p]
                )));
            }
        }
    }

    let tracked = match (spec.scd_type, &spec.track_history) {
        (1, Columns::All) => Vec::new(),
        (1, _) => {
            return Err(invalid("TRACK HISTORY is only supported with SCD type 2"));
        }
        (_, cols) => select(&kept_names, cols, "TRACK HISTORY ON")?,
    };

    // Every target column is nullable: a micro-batch's nullability says
    // nothing about the rows earlier batches wrote.
    let mut fields: Vec<Field> = kept
        .iter()
        .map(|&i| changes.field(i).clone().with_nullable(true))
        .collect();
    if spec.scd_type == 2 {
        for reserved in [START_AT, END_AT] {
            if kept_names.iter().any(|n| n.eq_ignore_ascii_case(reserved)) {
                return Err(invalid(format!(
                    "column `{reserved}` is reserved for SCD type 2 targets; exclude it with COLUMNS * EXCEPT"
                )));
            }
            fields.push(Field::new(reserved, seq_type.clone(), true));
        }
    }
    Ok(Layout {
        schema: Arc::new(Schema::new(fields)),
        kept,
        keys,
        tracked,
        seq,
        delete,
        truncate,
        seq_type,
    })
}

/// The target's columns reordered / cast to `schema`; a column the target
/// lacks (added to the source later) is filled with NULLs.
fn normalize_target(
    schema: &Schema,
    target: Option<&RecordBatch>,
) -> Result<(Vec<ArrayRef>, usize), ArrowError> {
    let Some(batch) = target else {
        let cols = schema
            .fields()
            .iter()
            .map(|f| new_empty_array(f.data_type()))
            .collect();
        return Ok((cols, 0));
    };
    let rows = batch.num_rows();
    let batch_schema = batch.schema();
    let names: Vec<&str> = batch_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let mut cols = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let col = match find_col(&names, f.name())? {
            Some(i) => {
                let c = batch.column(i);
                if c.data_type() == f.data_type() {
                    Arc::clone(c)
                } else {
                    cast(c, f.data_type()).map_err(|e| {
                        invalid(format!(
                            "target column `{}` has type {}, which cannot be cast to {}: {e}",
                            f.name(),
                            c.data_type(),
                            f.data_type()
                        ))
                    })?
                }
            }
            None => new_null_array(f.data_type(), rows),
        };
        cols.push(col);
    }
    Ok((cols, rows))
}

/// The previous batch's bookkeeping, with `seq` cast to the sequence type.
struct PrevState {
    keys: Vec<String>,
    seq: ArrayRef,
    deleted: Vec<bool>,
}

fn load_state(state: Option<&RecordBatch>, seq_type: &DataType) -> Result<PrevState, ArrowError> {
    let Some(batch) = state else {
        return Ok(PrevState {
            keys: Vec::new(),
            seq: new_empty_array(seq_type),
            deleted: Vec::new(),
        });
    };
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let column = |name: &str| -> Result<&ArrayRef, ArrowError> {
        find_col(&names, name)?
            .map(|i| batch.column(i))
            .ok_or_else(|| invalid(format!("CDC state has no `{name}` column")))
    };
    let key = cast(column(STATE_KEY)?, &DataType::Utf8)?;
    let key = key
        .as_string_opt::<i32>()
        .ok_or_else(|| invalid("CDC state `key` column is not a string column"))?;
    let seq_raw = column(STATE_SEQ)?;
    let seq = cast(seq_raw, seq_type).map_err(|e| {
        invalid(format!(
            "CDC state `seq` has type {}, which cannot be cast to the sequence type {seq_type}: {e}",
            seq_raw.data_type()
        ))
    })?;
    let deleted = column(STATE_DELETED)?
        .as_boolean_opt()
        .ok_or_else(|| invalid("CDC state `deleted` column is not Boolean"))?;
    let seq_nulls = seq.logical_nulls();
    let mut keys = Vec::with_capacity(batch.num_rows());
    let mut flags = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        if key.is_null(r) {
            return Err(invalid(format!("CDC state row {r} has a NULL key")));
        }
        let k = key.value(r).to_string();
        if seq_nulls.as_ref().is_some_and(|nb| nb.is_null(r)) {
            return Err(invalid(format!("CDC state for key {k} has a NULL seq")));
        }
        flags.push(deleted.is_valid(r) && deleted.value(r));
        keys.push(k);
    }
    Ok(PrevState {
        keys,
        seq,
        deleted: flags,
    })
}

/// Values printed bare in the key encoding (others become JSON strings).
fn bare_in_key(dt: &DataType) -> bool {
    match dt {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => true,
        DataType::Dictionary(_, v) => bare_in_key(v),
        _ => false,
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Canonical key text of each row: a JSON array with `null` for NULL,
/// integers and booleans bare, every other value as the JSON string of its
/// Arrow display form (so the string "null" is `"null"`, never `null`).
fn encode_keys(cols: &[ArrayRef], rows: usize) -> Result<Vec<String>, ArrowError> {
    let options = FormatOptions::default();
    let mut fmts = Vec::with_capacity(cols.len());
    for c in cols {
        fmts.push((
            ArrayFormatter::try_new(c.as_ref(), &options)?,
            c.logical_nulls(),
            bare_in_key(c.data_type()),
        ));
    }
    let mut out = Vec::with_capacity(rows);
    let mut buf = String::new();
    for r in 0..rows {
        let mut s = String::from("[");
        for (j, (fmt, nulls, bare)) in fmts.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            if nulls.as_ref().is_some_and(|nb| nb.is_null(r)) {
                s.push_str("null");
                continue;
            }
            buf.clear();
            write!(buf, "{}", fmt.value(r))
                .map_err(|e| ArrowError::ComputeError(format!("cannot format key: {e}")))?;
            if *bare {
                s.push_str(&buf);
            } else {
                push_json_string(&mut s, &buf);
            }
        }
        s.push(']');
        out.push(s);
    }
    Ok(out)
}

fn flags(batch: &RecordBatch, idx: Option<usize>) -> Result<Vec<bool>, ArrowError> {
    let rows = batch.num_rows();
    let Some(i) = idx else {
        return Ok(vec![false; rows]);
    };
    let col = batch.column(i);
    if col.data_type() == &DataType::Null {
        return Ok(vec![false; rows]);
    }
    let b: &BooleanArray = col
        .as_boolean_opt()
        .ok_or_else(|| invalid("CDC flag column is not Boolean"))?;
    Ok((0..rows).map(|r| b.is_valid(r) && b.value(r)).collect())
}

/// Every sequence value involved in a merge, in one array, compared through
/// the row format. Indices into the pool stand for sequence values.
struct Seqs {
    pool: ArrayRef,
    rows: Rows,
    nulls: Option<NullBuffer>,
}

impl Seqs {
    fn new(parts: &[ArrayRef], seq_type: &DataType) -> Result<Self, ArrowError> {
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        let pool = concat(&refs)?;
        let conv = RowConverter::new(vec![SortField::new(seq_type.clone())])?;
        let rows = conv.convert_columns(&[Arc::clone(&pool)])?;
        let nulls = pool.logical_nulls();
        Ok(Self { pool, rows, nulls })
    }

    fn cmp(&self, a: usize, b: usize) -> Ordering {
        self.rows.row(a).cmp(&self.rows.row(b))
    }

    fn is_null(&self, a: usize) -> bool {
        self.nulls.as_ref().is_some_and(|nb| nb.is_null(a))
    }

    fn gather(&self, idx: impl IntoIterator<Item = Option<usize>>) -> Result<ArrayRef, ArrowError> {
        let indices: UInt64Array = idx.into_iter().map(|i| i.map(|i| i as u64)).collect();
        take(self.pool.as_ref(), &indices, None)
    }
}

/// Where a row's cells come from: source 0 = target, 1 = changes.
#[derive(Debug, Clone)]
enum RowVal {
    Target(usize),
    Change(usize),
    Cells(Vec<(usize, usize)>),
}

impl RowVal {
    fn cell(&self, j: usize) -> (usize, usize) {
        match self {
            RowVal::Target(r) => (0, *r),
            RowVal::Change(r) => (1, *r),
            RowVal::Cells(c) => c[j],
        }
    }
}

struct Ctx<'a> {
    tgt: &'a [ArrayRef],
    ch: &'a [ArrayRef],
    ch_nulls: Vec<Option<NullBuffer>>,
    nkept: usize,
    ignore_null: bool,
    tracked: &'a [usize],
}

impl Ctx<'_> {
    /// The row after applying the upsert of change row `i` over `cur`.
    fn upsert(&self, cur: Option<&RowVal>, i: usize) -> RowVal {
        match cur {
            Some(c) if self.ignore_null => {
                let mut kept_any = false;
                let cells = (0..self.nkept)
                    .map(|j| {
                        if self.ch_nulls[j].as_ref().is_some_and(|nb| nb.is_null(i)) {
                            kept_any = true;
                            c.cell(j)
                        } else {
                            (1, i)
                        }
                    })
                    .collect();
                if kept_any {
                    RowVal::Cells(cells)
                } else {
                    RowVal::Change(i)
                }
            }
            _ => RowVal::Change(i),
        }
    }

    fn column(&self, src: usize, j: usize) -> &ArrayRef {
        if src == 0 {
            &self.tgt[j]
        } else {
            &self.ch[j]
        }
    }

    fn tracked_equal(&self, a: &RowVal, b: &RowVal) -> Result<bool, ArrowError> {
        for &j in self.tracked {
            let (sa, ra) = a.cell(j);
            let (sb, rb) = b.cell(j);
            if (sa, ra) == (sb, rb) {
                continue;
            }
            let va = ScalarValue::try_from_array(self.column(sa, j), ra)?;
            let vb = ScalarValue::try_from_array(self.column(sb, j), rb)?;
            if va != vb {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn build_columns(&self, rows: &[RowVal]) -> Result<Vec<ArrayRef>, ArrowError> {
        (0..self.nkept)
            .map(|j| {
                let idx: Vec<(usize, usize)> = rows.iter().map(|r| r.cell(j)).collect();
                interleave(&[self.tgt[j].as_ref(), self.ch[j].as_ref()], &idx)
            })
            .collect()
    }
}

/// Keys seen in the state, the target or the batch, in that order.
#[derive(Default)]
struct KeyInfo {
    /// Pool index of the state's seq, and its tombstone flag.
    prev: Option<(usize, bool)>,
    target_rows: Vec<usize>,
    events: Vec<usize>,
}

#[derive(Default)]
struct KeyTable {
    index: HashMap<String, usize>,
    keys: Vec<String>,
    info: Vec<KeyInfo>,
}

impl KeyTable {
    fn slot(&mut self, key: &str) -> usize {
        if let Some(&k) = self.index.get(key) {
            return k;
        }
        let k = self.keys.len();
        self.index.insert(key.to_string(), k);
        self.keys.push(key.to_string());
        self.info.push(KeyInfo::default());
        k
    }
}

/// One event of a key's SCD2 history replay.
struct Ev {
    seq: usize,
    rank: u8,
    ord: usize,
    kind: EvKind,
}

enum EvKind {
    /// An existing target row (replayed with its full values).
    Row(RowVal),
    /// An upsert from the batch (change row index).
    Upsert(usize),
    Delete,
}

/// Merges one micro-batch of change events into the target.
pub fn apply(
    spec: &Spec,
    target: Option<&RecordBatch>,
    state: Option<&RecordBatch>,
    changes: &RecordBatch,
) -> Result<Applied, ArrowError> {
    let lay = layout(spec, changes.schema_ref())?;
    let scd2 = spec.scd_type == 2;
    let n = changes.num_rows();
    let nkept = lay.kept.len();
    let (tgt_cols, t) = normalize_target(&lay.schema, target)?;
    let prev = load_state(state, &lay.seq_type)?;
    let ch_cols: Vec<ArrayRef> = lay
        .kept
        .iter()
        .map(|&i| Arc::clone(changes.column(i)))
        .collect();
    let deletes = flags(changes, lay.delete)?;
    let truncs = flags(changes, lay.truncate)?;
    let key_cols = |cols: &[ArrayRef]| -> Vec<ArrayRef> {
        lay.keys.iter().map(|&j| Arc::clone(&cols[j])).collect()
    };
    let ch_keys = encode_keys(&key_cols(&ch_cols), n)?;
    let tgt_keys = encode_keys(&key_cols(&tgt_cols), t)?;

    let seq_col = changes.column(lay.seq);
    let seq_nulls = seq_col.logical_nulls();
    for i in 0..n {
        if seq_nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
            return Err(if truncs[i] {
                invalid(format!(
                    "SEQUENCE BY value is NULL for the truncate event in change row {i}"
                ))
            } else {
                invalid(format!(
                    "SEQUENCE BY value is NULL for key {} (change row {i})",
                    ch_keys[i]
                ))
            });
        }
    }
    if scd2 && truncs.iter().any(|x| *x) {
        return Err(invalid(
            "APPLY AS TRUNCATE WHEN is only supported with SCD type 1",
        ));
    }

    // Sequence pool: changes | [target __START_AT | target __END_AT] | state.
    let mut parts: Vec<ArrayRef> = vec![Arc::clone(seq_col)];
    let (start_off, end_off) = if scd2 {
        parts.push(Arc::clone(&tgt_cols[nkept]));
        parts.push(Arc::clone(&tgt_cols[nkept + 1]));
        (n, n + t)
    } else {
        (0, 0)
    };
    let state_off = if scd2 { n + 2 * t } else { n };
    parts.push(Arc::clone(&prev.seq));
    let seqs = Seqs::new(&parts, &lay.seq_type)?;

    let mut table = KeyTable::default();
    for (s, key) in prev.keys.iter().enumerate() {
        let k = table.slot(key);
        table.info[k].prev = Some((state_off + s, prev.deleted[s]));
    }
    let mut tgt_slot = Vec::with_capacity(t);
    for (r, key) in tgt_keys.iter().enumerate() {
        let k = table.slot(key);
        table.info[k].target_rows.push(r);
        tgt_slot.push(k);
    }
    let mut ch_slot = vec![usize::MAX; n];
    for i in 0..n {
        if !truncs[i] {
            let k = table.slot(&ch_keys[i]);
            table.info[k].events.push(i);
            ch_slot[i] = k;
        }
    }

    let ctx = Ctx {
        tgt: &tgt_cols,
        ch: &ch_cols,
        ch_nulls: ch_cols.iter().map(|c| c.logical_nulls()).collect(),
        nkept,
        ignore_null: spec.ignore_null_updates,
        tracked: &lay.tracked,
    };
    let nk = table.keys.len();
    let mut new_state: Vec<Option<(usize, bool)>> = table.info.iter().map(|k| k.prev).collect();
    let mut upserted = 0u64;
    let mut deleted = 0u64;

    let target_cols: Vec<ArrayRef> = if scd2 {
        let mut rows: Vec<RowVal> = Vec::new();
        let mut starts: Vec<Option<usize>> = Vec::new();
        let mut ends: Vec<Option<usize>> = Vec::new();
        for (r, &k) in tgt_slot.iter().enumerate() {
            if table.info[k].events.is_empty() {
                rows.push(RowVal::Target(r));
                starts.push(Some(start_off + r));
                ends.push(Some(end_off + r));
            }
        }
        for (k, info) in table.info.iter().enumerate() {
            if info.events.is_empty() {
                continue;
            }
            let mut evs = history_events(info, &seqs, start_off, end_off, &table.keys[k])?;
            for &i in &info.events {
                let kind = if deletes[i] {
                    deleted += 1;
                    EvKind::Delete
                } else {
                    upserted += 1;
                    EvKind::Upsert(i)
                };
                evs.push(Ev {
                    seq: i,
                    rank: 1,
                    ord: i,
                    kind,
                });
            }
            evs.sort_by(|a, b| {
                seqs.cmp(a.seq, b.seq)
                    .then(a.rank.cmp(&b.rank))
                    .then(a.ord.cmp(&b.ord))
            });
            let mut latest = evs
                .last()
                .map(|e| (e.seq, matches!(e.kind, EvKind::Delete)));
            if let (Some((ps, pd)), Some((ls, _))) = (info.prev, latest) {
                if seqs.cmp(ps, ls) == Ordering::Greater {
                    latest = Some((ps, pd));
                }
            }
            new_state[k] = latest;
            for (v, s, e) in replay(&ctx, &seqs, evs)? {
                rows.push(v);
                starts.push(Some(s));
                ends.push(e);
            }
        }
        let mut cols = ctx.build_columns(&rows)?;
        cols.push(seqs.gather(starts)?);
        cols.push(seqs.gather(ends)?);
        cols
    } else {
        let mut cur: Vec<Option<RowVal>> = table
            .info
            .iter()
            .map(|k| k.target_rows.last().map(|&r| RowVal::Target(r)))
            .collect();
        let mut dirty = vec![false; nk];
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| seqs.cmp(a, b).then(a.cmp(&b)));
        for i in order {
            if truncs[i] {
                let all = cur
                    .iter_mut()
                    .zip(dirty.iter_mut())
                    .zip(new_state.iter_mut());
                for ((row, dirty), st) in all {
                    let newer = st.is_some_and(|(s, _)| seqs.cmp(s, i) == Ordering::Greater);
                    if !newer {
                        *row = None;
                        *dirty = true;
                        *st = Some((i, true));
                    }
                }
                continue;
            }
            let k = ch_slot[i];
            let stale = table.info[k]
                .prev
                .is_some_and(|(s, _)| seqs.cmp(i, s) != Ordering::Greater);
            if stale {
                continue; // the key already saw this or a newer event
            }
            if deletes[i] {
                cur[k] = None;
                new_state[k] = Some((i, true));
                deleted += 1;
            } else {
                cur[k] = Some(ctx.upsert(cur[k].as_ref(), i));
                new_state[k] = Some((i, false));
                upserted += 1;
            }
            dirty[k] = true;
        }
        let mut rows: Vec<RowVal> = (0..t)
            .filter(|&r| !dirty[tgt_slot[r]])
            .map(RowVal::Target)
            .collect();
        for (k, row) in cur.into_iter().enumerate() {
            if dirty[k] {
                rows.extend(row);
            }
        }
        ctx.build_columns(&rows)?
    };
    let target = RecordBatch::try_new(Arc::clone(&lay.schema), target_cols)?;

    let mut st_keys = Vec::new();
    let mut st_seq = Vec::new();
    let mut st_del = Vec::new();
    for (k, entry) in new_state.iter().enumerate() {
        if let Some((s, d)) = entry {
            st_keys.push(table.keys[k].as_str());
            st_seq.push(Some(*s));
            st_del.push(*d);
        }
    }
    let state = RecordBatch::try_new(
        state_schema(&lay.seq_type),
        vec![
            Arc::new(StringArray::from(st_keys)),
            seqs.gather(st_seq)?,
            Arc::new(BooleanArray::from(st_del)),
        ],
    )?;
    Ok(Applied {
        target,
        state,
        upserted,
        deleted,
    })
}

/// A key's existing SCD2 history as events: each row is an upsert at its
/// `__START_AT`; an `__END_AT` no row starts at is a delete there. The
/// state adds its latest event: a delete for a tombstone, otherwise a
/// re-assertion of the current row at the state's sequence (so that an
/// in-place update newer than an out-of-order event is not lost).
fn history_events(
    info: &KeyInfo,
    seqs: &Seqs,
    start_off: usize,
    end_off: usize,
    key: &str,
) -> Result<Vec<Ev>, ArrowError> {
    let rows = &info.target_rows;
    let mut evs = Vec::with_capacity(rows.len() * 2 + 1);
    for &r in rows {
        if seqs.is_null(start_off + r) {
            return Err(ArrowError::ComputeError(format!(
                "target row of key {key} has a NULL {START_AT}"
            )));
        }
    }
    let mut starts: Vec<usize> = rows.iter().map(|&r| start_off + r).collect();
    starts.sort_by(|a, b| seqs.cmp(*a, *b));
    for (o, &r) in rows.iter().enumerate() {
        let start = start_off + r;
        evs.push(Ev {
            seq: start,
            rank: 0,
            ord: o,
            kind: EvKind::Row(RowVal::Target(r)),
        });
        let end = end_off + r;
        if !seqs.is_null(end) {
            let reopened = starts.binary_search_by(|&s| seqs.cmp(s, end)).is_ok();
            if !reopened {
                evs.push(Ev {
                    seq: end,
                    rank: 0,
                    ord: o,
                    kind: EvKind::Delete,
                });
            }
        }
    }
    if let Some((s, tombstone)) = info.prev {
        if tombstone {
            evs.push(Ev {
                seq: s,
                rank: 0,
                ord: usize::MAX,
                kind: EvKind::Delete,
            });
        } else {
            for &r in rows {
                let current = seqs.is_null(end_off + r);
                if current && seqs.cmp(start_off + r, s) == Ordering::Less {
                    evs.push(Ev {
                        seq: s,
                        rank: 0,
                        ord: usize::MAX,
                        kind: EvKind::Row(RowVal::Target(r)),
                    });
                }
            }
        }
    }
    Ok(evs)
}

/// Regenerates a key's SCD2 rows `(values, start, end)` from its events
/// sorted by sequence. Zero-length versions (closed at their own start
/// sequence) are dropped.
fn replay(
    ctx: &Ctx<'_>,
    seqs: &Seqs,
    evs: Vec<Ev>,
) -> Result<Vec<(RowVal, usize, Option<usize>)>, ArrowError> {
    let mut out = Vec::new();
    let mut cur: Option<(RowVal, usize)> = None;
    let close = |out: &mut Vec<_>, v: RowVal, start: usize, end: usize| {
        if seqs.cmp(start, end) != Ordering::Equal {
            out.push((v, start, Some(end)));
        }
    };
    for ev in evs {
        let value = match ev.kind {
            EvKind::Delete => {
                if let Some((v, s)) = cur.take() {
                    close(&mut out, v, s, ev.seq);
                }
                continue;
            }
            EvKind::Row(v) => v,
            EvKind::Upsert(i) => ctx.upsert(cur.as_ref().map(|c| &c.0), i),
        };
        if let Some((cv, _)) = cur.as_mut() {
            if ctx.tracked_equal(cv, &value)? {
                *cv = value; // same tracked values: update in place
                continue;
            }
        }
        if let Some((v, s)) = cur.take() {
            close(&mut out, v, s, ev.seq);
        }
        cur = Some((value, ev.seq));
    }
    if let Some((v, s)) = cur {
        out.push((v, s, None));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMicrosecondArray};
    use arrow::util::display::array_value_to_string;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn spec(scd_type: u8, keys: &[&str]) -> Spec {
        Spec {
            keys: names(keys),
            columns: Columns::All,
            scd_type,
            track_history: Columns::All,
            ignore_null_updates: false,
        }
    }

    type Ev<'a> = (i64, Option<&'a str>, i64, bool);

    fn up(id: i64, v: &str, seq: i64) -> Ev<'_> {
        (id, Some(v), seq, false)
    }

    fn del(id: i64, seq: i64) -> Ev<'static> {
        (id, None, seq, true)
    }

    /// Changes with data columns `id` Int64, `v` Utf8 and Int64 sequences.
    fn ch(events: &[Ev<'_>]) -> RecordBatch {
        let ids: Vec<i64> = events.iter().map(|e| e.0).collect();
        let vs: Vec<Option<&str>> = events.iter().map(|e| e.1).collect();
        let seqs: Vec<i64> = events.iter().map(|e| e.2).collect();
        let dels: Vec<bool> = events.iter().map(|e| e.3).collect();
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("v", Arc::new(StringArray::from(vs))),
            (SEQ_COL, Arc::new(Int64Array::from(seqs))),
            (DELETE_COL, Arc::new(BooleanArray::from(dels))),
        ])
        .unwrap()
    }

    /// Rows rendered as `a|b|c` (NULL for nulls), sorted.
    fn rows(b: &RecordBatch) -> Vec<String> {
        let mut out: Vec<String> = (0..b.num_rows())
            .map(|r| {
                b.columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(r) {
                            "NULL".to_string()
                        } else {
                            array_value_to_string(c, r).unwrap()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        out.sort();
        out
    }

    fn strs(list: &[&str]) -> Vec<String> {
        let mut v = names(list);
        v.sort();
        v
    }

    /// A target table plus its state, fed batch after batch.
    struct Table {
        spec: Spec,
        target: Option<RecordBatch>,
        state: Option<RecordBatch>,
    }

    impl Table {
        fn new(spec: Spec) -> Self {
            Self {
                spec,
                target: None,
                state: None,
            }
        }

        fn try_apply(&mut self, changes: &RecordBatch) -> Result<Applied, ArrowError> {
            let a = apply(
                &self.spec,
                self.target.as_ref(),
                self.state.as_ref(),
                changes,
            )?;
            self.target = Some(a.target.clone());
            self.state = Some(a.state.clone());
            Ok(a)
        }

        fn apply(&mut self, changes: &RecordBatch) -> Applied {
            self.try_apply(changes).unwrap()
        }

        fn rows(&self) -> Vec<String> {
            rows(self.target.as_ref().unwrap())
        }

        fn state(&self) -> Vec<String> {
            rows(self.state.as_ref().unwrap())
        }
    }

    #[test]
    fn scd1_insert_update_delete() {
        let mut t = Table::new(spec(1, &["id"]));
        let a = t.apply(&ch(&[up(1, "a", 1), up(2, "b", 1), up(3, "c", 1)]));
        assert_eq!((a.upserted, a.deleted), (3, 0));
        assert_eq!(t.rows(), strs(&["1|a", "2|b", "3|c"]));
        let a = t.apply(&ch(&[up(2, "B", 2), del(3, 2), del(9, 2)]));
        assert_eq!((a.upserted, a.deleted), (1, 2));
        assert_eq!(t.rows(), strs(&["1|a", "2|B"]));
        assert_eq!(
            t.state(),
            strs(&["[1]|1|false", "[2]|2|false", "[3]|2|true", "[9]|2|true"])
        );
        assert_eq!(a.state.schema(), state_schema(&DataType::Int64));
    }

    #[test]
    fn scd1_out_of_order_update_is_ignored() {
        let mut t = Table::new(spec(1, &["id"]));
        t.apply(&ch(&[up(1, "new", 5), up(2, "b", 1)]));
        let a = t.apply(&ch(&[
            up(1, "old", 3),
            up(1, "same-seq", 5),
            up(2, "b2", 2),
        ]));
        assert_eq!((a.upserted, a.deleted), (1, 0));
        assert_eq!(t.rows(), strs(&["1|new", "2|b2"]));
        assert_eq!(t.state(), strs(&["[1]|5|false", "[2]|2|false"]));
    }

    #[test]
    fn scd1_update_after_newer_delete_stays_deleted() {
        let mut t = Table::new(spec(1, &["id"]));
        t.apply(&ch(&[up(1, "a", 1)]));
        t.apply(&ch(&[del(1, 5)]));
        assert!(t.rows().is_empty());
        let a = t.apply(&ch(&[up(1, "late", 3)]));
        assert_eq!((a.upserted, a.deleted), (0, 0));
        assert!(t.rows().is_empty());
        assert_eq!(t.state(), strs(&["[1]|5|true"]));
    }

    #[test]
    fn scd1_delete_then_reinsert() {
        let mut t = Table::new(spec(1, &["id"]));
        t.apply(&ch(&[up(1, "a", 1)]));
        t.apply(&ch(&[del(1, 2)]));
        t.apply(&ch(&[up(1, "b", 3)]));
        assert_eq!(t.rows(), strs(&["1|b"]));
        // Within one batch, in scrambled row order.
        t.apply(&ch(&[up(2, "y", 13), up(2, "x", 11), del(2, 12)]));
        assert_eq!(t.rows(), strs(&["1|b", "2|y"]));
        assert_eq!(t.state(), strs(&["[1]|3|false", "[2]|13|false"]));
    }

    #[test]
    fn scd1_duplicate_keys_in_one_batch() {
        let mut t = Table::new(spec(1, &["id"]));
        let a = t.apply(&ch(&[
            up(1, "b", 2),
            up(1, "c", 3),
            up(1, "a", 1),
            up(2, "first", 5),
            up(2, "second", 5),
            up(3, "x", 5),
            del(3, 5),
            del(4, 5),
            up(4, "y", 5),
        ]));
        assert_eq!(t.rows(), strs(&["1|c", "2|second", "4|y"]));
        assert_eq!((a.upserted, a.deleted), (7, 2));
        assert_eq!(
            t.state(),
            strs(&["[1]|3|false", "[2]|5|false", "[3]|5|true", "[4]|5|false"])
        );
    }

    /// `(id, a, b, seq, delete)`.
    type Ev3<'a> = (i64, Option<i64>, Option<&'a str>, i64, bool);

    fn ch3(events: &[Ev3<'_>]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.0))) as ArrayRef,
            ),
            (
                "a",
                Arc::new(Int64Array::from_iter(events.iter().map(|e| e.1))),
            ),
            (
                "b",
                Arc::new(StringArray::from_iter(events.iter().map(|e| e.2))),
            ),
            (
                SEQ_COL,
                Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.3))),
            ),
            (
                DELETE_COL,
                Arc::new(BooleanArray::from_iter(events.iter().map(|e| Some(e.4)))),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn scd1_ignore_null_updates() {
        let mut s = spec(1, &["id"]);
        s.ignore_null_updates = true;
        let mut t = Table::new(s);
        t.apply(&ch3(&[(1, None, Some("x"), 1, false)]));
        assert_eq!(t.rows(), strs(&["1|NULL|x"]));
        t.apply(&ch3(&[(1, Some(7), None, 2, false)]));
        assert_eq!(t.rows(), strs(&["1|7|x"]));
        // Two updates of one key in one batch merge in sequence order.
        t.apply(&ch3(&[
            (1, None, Some("z"), 4, false),
            (1, Some(8), None, 3, false),
        ]));
        assert_eq!(t.rows(), strs(&["1|8|z"]));
        // After a delete, nothing is carried over.
        t.apply(&ch3(&[
            (1, None, None, 5, true),
            (1, None, Some("w"), 6, false),
        ]));
        assert_eq!(t.rows(), strs(&["1|NULL|w"]));
        // Without the option NULLs overwrite.
        let mut t = Table::new(spec(1, &["id"]));
        t.apply(&ch3(&[(1, Some(1), Some("x"), 1, false)]));
        t.apply(&ch3(&[(1, None, Some("y"), 2, false)]));
        assert_eq!(t.rows(), strs(&["1|NULL|y"]));
    }

    #[test]
    fn columns_except_and_only() {
        let changes = ch3(&[(1, Some(5), Some("secret"), 1, false)]);
        let mut s = spec(1, &["ID"]);
        s.columns = Columns::Except(names(&["B"]));
        let schema = target_schema(&s, changes.schema_ref()).unwrap();
        let fields: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(fields, ["id", "a"]);
        let a = apply(&s, None, None, &changes).unwrap();
        assert_eq!(rows(&a.target), strs(&["1|5"]));

        s.columns = Columns::Only(names(&["b", "id"]));
        let a = apply(&s, None, None, &changes).unwrap();
        let fields: Vec<String> = a
            .target
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(fields, ["id", "b"]);
        assert_eq!(rows(&a.target), strs(&["1|secret"]));

        s.columns = Columns::Except(names(&["id"]));
        let err = target_schema(&s, changes.schema_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`id`") && err.contains("excluded"), "{err}");
        s.columns = Columns::Only(names(&["id", "nope", "zilch"]));
        let err = target_schema(&s, changes.schema_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`nope`") && err.contains("`zilch`"), "{err}");
    }

    #[test]
    fn composite_keys_with_null_part() {
        let batch = |k: Vec<Option<&str>>, n: Vec<Option<i64>>, v: Vec<&str>, seq: Vec<i64>| {
            RecordBatch::try_from_iter(vec![
                ("k", Arc::new(StringArray::from(k)) as ArrayRef),
                ("n", Arc::new(Int64Array::from(n))),
                ("v", Arc::new(StringArray::from(v))),
                (SEQ_COL, Arc::new(Int64Array::from(seq))),
            ])
            .unwrap()
        };
        let mut t = Table::new(spec(1, &["k", "N"]));
        t.apply(&batch(
            vec![None, Some("null"), None, Some("x")],
            vec![Some(1), Some(1), None, Some(1)],
            vec!["a", "b", "c", "d"],
            vec![1, 1, 1, 1],
        ));
        assert_eq!(
            t.rows(),
            strs(&["NULL|1|a", "null|1|b", "NULL|NULL|c", "x|1|d"])
        );
        t.apply(&batch(vec![None], vec![Some(1)], vec!["A"], vec![2]));
        assert_eq!(
            t.rows(),
            strs(&["NULL|1|A", "null|1|b", "NULL|NULL|c", "x|1|d"])
        );
        assert_eq!(
            t.state(),
            strs(&[
                "[null,1]|2|false",
                "[\"null\",1]|1|false",
                "[null,null]|1|false",
                "[\"x\",1]|1|false",
            ])
        );
    }

    #[test]
    fn string_sequences() {
        let batch = |ids: Vec<i64>, vs: Vec<&str>, seqs: Vec<&str>| {
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                ("v", Arc::new(StringArray::from(vs))),
                (SEQ_COL, Arc::new(StringArray::from(seqs))),
            ])
            .unwrap()
        };
        let mut t = Table::new(spec(1, &["id"]));
        // Lexicographic: "2024-01-10" > "2024-01-09".
        t.apply(&batch(
            vec![1, 1],
            vec!["newer", "older"],
            vec!["2024-01-10", "2024-01-09"],
        ));
        assert_eq!(t.rows(), strs(&["1|newer"]));
        let a = t.apply(&batch(vec![1], vec!["stale"], vec!["2024-01-02"]));
        assert_eq!(a.upserted, 0);
        assert_eq!(t.rows(), strs(&["1|newer"]));
        assert_eq!(t.state(), strs(&["[1]|2024-01-10|false"]));
    }

    #[test]
    fn scd2_timestamp_sequences() {
        let ts_type =
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
        let batch = |ids: Vec<i64>, vs: Vec<&str>, micros: Vec<i64>| {
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                ("v", Arc::new(StringArray::from(vs))),
                (
                    SEQ_COL,
                    Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC")),
                ),
            ])
            .unwrap()
        };
        let s = spec(2, &["id"]);
        let b1 = batch(vec![1, 1], vec!["b", "a"], vec![2_000_000, 1_000_000]);
        let schema = target_schema(&s, b1.schema_ref()).unwrap();
        assert_eq!(schema.field(2).name(), START_AT);
        assert_eq!(schema.field(2).data_type(), &ts_type);
        assert_eq!(schema.field(3).name(), END_AT);
        assert!(schema.field(3).is_nullable());
        let mut t = Table::new(s);
        t.apply(&b1);
        assert_eq!(
            t.rows(),
            strs(&[
                "1|a|1970-01-01T00:00:01Z|1970-01-01T00:00:02Z",
                "1|b|1970-01-01T00:00:02Z|NULL",
            ])
        );
        assert_eq!(
            t.state.as_ref().unwrap().schema().field(1).data_type(),
            &ts_type
        );
    }

    #[test]
    fn scd1_truncate() {
        let batch = |events: &[(i64, &str, i64, bool)]| {
            RecordBatch::try_from_iter(vec![
                (
                    "id",
                    Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.0))) as ArrayRef,
                ),
                (
                    "v",
                    Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.1))),
                ),
                (
                    SEQ_COL,
                    Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.2))),
                ),
                (
                    TRUNCATE_COL,
                    Arc::new(BooleanArray::from_iter(events.iter().map(|e| Some(e.3)))),
                ),
                (
                    DELETE_COL,
                    Arc::new(BooleanArray::from(vec![None; events.len()])),
                ),
            ])
            .unwrap()
        };
        let mut t = Table::new(spec(1, &["id"]));
        t.apply(&batch(&[
            (1, "a", 1, false),
            (2, "b", 2, false),
            (5, "e", 10, false),
        ]));
        let a = t.apply(&batch(&[
            (3, "c", 6, false),
            (0, "", 5, true),
            (4, "d", 4, false),
            (1, "z", 7, false),
        ]));
        // Row 5 (sequence 10) is newer than the truncate and survives it.
        assert_eq!(t.rows(), strs(&["1|z", "3|c", "5|e"]));
        assert_eq!((a.upserted, a.deleted), (3, 0));
        assert_eq!(
            t.state(),
            strs(&[
                "[1]|7|false",
                "[2]|5|true",
                "[3]|6|false",
                "[4]|5|true",
                "[5]|10|false"
            ])
        );
        // A late update older than the truncate does not come back.
        let a = t.apply(&batch(&[(2, "late", 3, false)]));
        assert_eq!(a.upserted, 0);
        assert_eq!(t.rows(), strs(&["1|z", "3|c", "5|e"]));
    }

    #[test]
    fn scd2_versions_open_and_close() {
        let mut t = Table::new(spec(2, &["id"]));
        t.apply(&ch(&[
            up(1, "a", 1),
            up(2, "x", 1),
            up(3, "q", 2),
            up(3, "p", 1),
        ]));
        t.apply(&ch(&[up(1, "b", 2)]));
        let a = t.apply(&ch(&[up(1, "c", 3)]));
        assert_eq!((a.upserted, a.deleted), (1, 0));
        assert_eq!(
            t.rows(),
            strs(&[
                "1|a|1|2",
                "1|b|2|3",
                "1|c|3|NULL",
                "2|x|1|NULL",
                "3|p|1|2",
                "3|q|2|NULL",
            ])
        );
        assert_eq!(
            t.state(),
            strs(&["[1]|3|false", "[2]|1|false", "[3]|2|false"])
        );
    }

    fn ch_vw(events: &[(i64, &str, &str, i64)]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.0))) as ArrayRef,
            ),
            (
                "v",
                Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.1))),
            ),
            (
                "w",
                Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.2))),
            ),
            (
                SEQ_COL,
                Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.3))),
            ),
        ])
        .unwrap()
    }

    fn track_subset(track: Columns) -> Vec<String> {
        let mut s = spec(2, &["id"]);
        s.track_history = track;
        let mut t = Table::new(s);
        t.apply(&ch_vw(&[(1, "a", "w1", 1)]));
        t.apply(&ch_vw(&[(1, "a", "w2", 2)]));
        t.apply(&ch_vw(&[(1, "b", "w3", 3)]));
        t.rows()
    }

    #[test]
    fn scd2_track_history_on_subset() {
        let expected = strs(&["1|a|w2|1|3", "1|b|w3|3|NULL"]);
        assert_eq!(track_subset(Columns::Only(names(&["V"]))), expected);
        assert_eq!(track_subset(Columns::Except(names(&["w"]))), expected);
        // Tracking every column, the change of `w` opens a version.
        assert_eq!(
            track_subset(Columns::All),
            strs(&["1|a|w1|1|2", "1|a|w2|2|3", "1|b|w3|3|NULL"])
        );
    }

    #[test]
    fn scd2_ignore_null_updates() {
        let batch = |v: Option<&str>, w: Option<&str>, seq: i64| {
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
                ("v", Arc::new(StringArray::from(vec![v]))),
                ("w", Arc::new(StringArray::from(vec![w]))),
                (SEQ_COL, Arc::new(Int64Array::from(vec![seq]))),
            ])
            .unwrap()
        };
        let mut s = spec(2, &["id"]);
        s.track_history = Columns::Only(names(&["v"]));
        s.ignore_null_updates = true;
        let mut t = Table::new(s);
        t.apply(&batch(Some("a"), Some("w1"), 1));
        // NULL tracked value: unchanged, so `w` is updated in place.
        t.apply(&batch(None, Some("w2"), 2));
        assert_eq!(t.rows(), strs(&["1|a|w2|1|NULL"]));
        // A new version carries the NULL column over from the previous one.
        t.apply(&batch(Some("b"), None, 3));
        assert_eq!(t.rows(), strs(&["1|a|w2|1|3", "1|b|w2|3|NULL"]));
    }

    #[test]
    fn scd2_unchanged_update_is_in_place() {
        let mut t = Table::new(spec(2, &["id"]));
        t.apply(&ch(&[up(1, "a", 1)]));
        let a = t.apply(&ch(&[up(1, "a", 2)]));
        assert_eq!(a.upserted, 1);
        assert_eq!(t.rows(), strs(&["1|a|1|NULL"]));
        assert_eq!(t.state(), strs(&["[1]|2|false"]));
    }

    #[test]
    fn scd2_delete_closes_version_and_reinsert_opens_one() {
        let mut t = Table::new(spec(2, &["id"]));
        t.apply(&ch(&[up(1, "a", 1), up(2, "b", 1)]));
        let a = t.apply(&ch(&[del(1, 4), del(7, 4)]));
        assert_eq!((a.upserted, a.deleted), (0, 2));
        assert_eq!(t.rows(), strs(&["1|a|1|4", "2|b|1|NULL"]));
        assert_eq!(
            t.state(),
            strs(&["[1]|4|true", "[2]|1|false", "[7]|4|true"])
        );
        // Re-insert with the same values still opens a new version.
        t.apply(&ch(&[up(1, "a", 6)]));
        assert_eq!(t.rows(), strs(&["1|a|1|4", "1|a|6|NULL", "2|b|1|NULL"]));
        assert_eq!(
            t.state(),
            strs(&["[1]|6|false", "[2]|1|false", "[7]|4|true"])
        );
    }

    #[test]
    fn scd2_out_of_order_events_rebuild_history() {
        let mut t = Table::new(spec(2, &["id"]));
        t.apply(&ch(&[up(1, "a", 10), up(1, "c", 30), up(2, "z", 1)]));
        assert_eq!(t.rows(), strs(&["1|a|10|30", "1|c|30|NULL", "2|z|1|NULL"]));
        let a = t.apply(&ch(&[up(1, "b", 20)]));
        assert_eq!(a.upserted, 1);
        assert_eq!(
            t.rows(),
            strs(&["1|a|10|20", "1|b|20|30", "1|c|30|NULL", "2|z|1|NULL"])
        );
        // A late delete in the middle of history.
        t.apply(&ch(&[del(1, 25)]));
        assert_eq!(
            t.rows(),
            strs(&["1|a|10|20", "1|b|20|25", "1|c|30|NULL", "2|z|1|NULL"])
        );
        // A late event before the first version with the same tracked values
        // extends it backwards.
        t.apply(&ch(&[up(1, "a", 5)]));
        assert_eq!(
            t.rows(),
            strs(&["1|a|5|20", "1|b|20|25", "1|c|30|NULL", "2|z|1|NULL"])
        );
        assert_eq!(t.state(), strs(&["[1]|30|false", "[2]|1|false"]));
        // Delete, then an update older than the delete: placed in history,
        // the key stays deleted.
        t.apply(&ch(&[del(1, 40)]));
        t.apply(&ch(&[up(1, "d", 35)]));
        assert_eq!(
            t.rows(),
            strs(&[
                "1|a|5|20",
                "1|b|20|25",
                "1|c|30|35",
                "1|d|35|40",
                "2|z|1|NULL",
            ])
        );
        assert_eq!(t.state(), strs(&["[1]|40|true", "[2]|1|false"]));
    }

    #[test]
    fn scd2_late_event_does_not_undo_newer_in_place_update() {
        let mut s = spec(2, &["id"]);
        s.track_history = Columns::Only(names(&["v"]));
        let mut t = Table::new(s);
        t.apply(&ch_vw(&[(1, "a", "w1", 1)]));
        t.apply(&ch_vw(&[(1, "a", "w3", 3)]));
        t.apply(&ch_vw(&[(1, "a", "w2", 2)]));
        assert_eq!(t.rows(), strs(&["1|a|w3|1|NULL"]));
        // A late delete before the in-place update: the update at 3 reopens.
        let del = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("v", Arc::new(StringArray::from(vec![None::<&str>]))),
            ("w", Arc::new(StringArray::from(vec![None::<&str>]))),
            (SEQ_COL, Arc::new(Int64Array::from(vec![2]))),
            (DELETE_COL, Arc::new(BooleanArray::from(vec![true]))),
        ])
        .unwrap();
        t.apply(&del);
        assert_eq!(t.rows(), strs(&["1|a|w3|1|2", "1|a|w3|3|NULL"]));
        assert_eq!(t.state(), strs(&["[1]|3|false"]));
    }

    #[test]
    fn scd2_redelivered_batch_is_idempotent() {
        let mut t = Table::new(spec(2, &["id"]));
        let batch = ch(&[
            up(1, "a", 1),
            up(1, "b", 2),
            del(1, 3),
            up(1, "c", 4),
            up(2, "x", 2),
        ]);
        t.apply(&batch);
        let first = t.rows();
        assert_eq!(
            first,
            strs(&["1|a|1|2", "1|b|2|3", "1|c|4|NULL", "2|x|2|NULL"])
        );
        t.apply(&batch);
        assert_eq!(t.rows(), first);
        assert_eq!(t.state(), strs(&["[1]|4|false", "[2]|2|false"]));
    }

    #[test]
    fn scd2_equal_sequence_later_row_wins() {
        let mut t = Table::new(spec(2, &["id"]));
        t.apply(&ch(&[
            up(1, "a", 1),
            up(1, "b", 1),
            up(2, "x", 1),
            del(2, 1),
        ]));
        assert_eq!(t.rows(), strs(&["1|b|1|NULL"]));
        assert_eq!(t.state(), strs(&["[1]|1|false", "[2]|1|true"]));
    }

    #[test]
    fn untouched_rows_are_kept_as_they_are() {
        let mut t = Table::new(spec(1, &["id"]));
        t.apply(&ch(&[up(1, "a", 1), up(2, "b", 1)]));
        // A target written without the state keeps working.
        t.state = None;
        let a = t.apply(&ch(&[]));
        assert_eq!((a.upserted, a.deleted), (0, 0));
        assert_eq!(t.rows(), strs(&["1|a", "2|b"]));
        assert_eq!(a.state.num_rows(), 0);
        t.apply(&ch(&[up(2, "c", 0)]));
        assert_eq!(t.rows(), strs(&["1|a", "2|c"]));
    }

    #[test]
    fn errors() {
        let changes = ch(&[up(1, "a", 1)]);
        let err = apply(&spec(1, &["nope"]), None, None, &changes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("KEYS") && err.contains("`nope`"), "{err}");

        let null_seq = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 42])) as ArrayRef),
            ("v", Arc::new(StringArray::from(vec!["a", "b"]))),
            (SEQ_COL, Arc::new(Int64Array::from(vec![Some(1), None]))),
        ])
        .unwrap();
        let err = apply(&spec(1, &["id"]), None, None, &null_seq)
            .unwrap_err()
            .to_string();
        assert!(err.contains("NULL") && err.contains("[42]"), "{err}");

        let trunc = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            (SEQ_COL, Arc::new(Int64Array::from(vec![1]))),
            (TRUNCATE_COL, Arc::new(BooleanArray::from(vec![true]))),
        ])
        .unwrap();
        let err = apply(&spec(2, &["id"]), None, None, &trunc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("APPLY AS TRUNCATE WHEN is only supported with SCD type 1"),
            "{err}"
        );

        let mut s = spec(2, &["id"]);
        s.track_history = Columns::Only(names(&["ghost"]));
        let err = apply(&s, None, None, &changes).unwrap_err().to_string();
        assert!(
            err.contains("TRACK HISTORY") && err.contains("`ghost`"),
            "{err}"
        );

        let mut s = spec(1, &["id"]);
        s.track_history = Columns::Only(names(&["v"]));
        assert!(apply(&s, None, None, &changes).is_err());

        let mut s = spec(1, &["id"]);
        s.scd_type = 3;
        assert!(apply(&s, None, None, &changes).is_err());

        let no_seq = RecordBatch::try_from_iter(vec![(
            "id",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        assert!(apply(&spec(1, &["id"]), None, None, &no_seq).is_err());
    }
}

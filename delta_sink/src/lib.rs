//! Delta Lake tables for sluice, on delta-rs: writes as atomic commits (save modes, schema
//! enforcement, replaceWhere, idempotent `txn`), reads with time travel, table history and
//! detail, DML and maintenance, and the warehouse catalog of table locations.
//!
//! The server sees only this crate's types and DataFusion's; delta-rs stays behind it.
mod append;
pub mod catalog;
mod checkpoint;
pub mod clustering;
pub mod describe;
pub mod dml;
pub mod error;
pub mod maintenance;
pub mod properties;
pub mod read;
mod scan;
pub mod schema;
pub mod store;
pub mod table;
pub mod write;

pub use error::{DeltaError, DeltaResult};
pub use schema::SchemaChange;
pub use table::{location, TimeTravel};
pub use url::Url;
pub use write::{OpenTable, Operation, ReplaceWhere, SaveMode, Txn, WriteSpec, Written};

/// The physical planner sessions must use so Delta's own plan nodes (writes, merges)
/// execute; every other node is planned as DataFusion's default planner does.
pub fn query_planner(
) -> std::sync::Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync> {
    deltalake::delta_datafusion::planner::DeltaPlanner::new()
}

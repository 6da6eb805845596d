//! Running queries as the client sees them: the per-session registry (Spark's
//! StreamingQueryManager) and each query's status, progress reports and termination.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::error::{SparkError, SparkResult};

/// Ended queries a session keeps for the client to look at.
const KEEP_ENDED: usize = 100;

/// Progress reports kept per query (`spark.sql.streaming.numRecentProgressUpdates`).
const RECENT_PROGRESS: usize = 100;

#[derive(Debug, Default)]
struct Status {
    message: String,
    data_available: bool,
    trigger_active: bool,
    progress: VecDeque<String>,
    /// Why the query stopped, when it failed (the cause's message).
    failure: Option<String>,
    cause_class: Option<String>,
}

#[derive(Debug)]
pub struct QueryHandle {
    pub id: String,
    pub run_id: String,
    pub name: Option<String>,
    pub explain: String,
    status: Mutex<Status>,
    stop: watch::Sender<bool>,
    done: watch::Sender<bool>,
    /// Wakes a query waiting for its next trigger (stop, processAllAvailable).
    pub wake: Notify,
    /// processAllAvailable: requests made, and the last request the query found no data for.
    requested: AtomicU64,
    drained: watch::Sender<u64>,
}

impl QueryHandle {
    pub fn new(id: String, name: Option<String>, explain: String) -> Arc<QueryHandle> {
        Arc::new(QueryHandle {
            id,
            run_id: uuid::Uuid::new_v4().to_string(),
            name,
            explain,
            status: Mutex::new(Status {
                message: "Initializing sources".into(),
                ..Default::default()
            }),
            stop: watch::channel(false).0,
            done: watch::channel(false).0,
            wake: Notify::new(),
            requested: AtomicU64::new(0),
            drained: watch::channel(0).0,
        })
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_status(&self, message: &str, data_available: bool, trigger_active: bool) {
        let mut s = self.status();
        s.message = message.to_string();
        s.data_available = data_available;
        s.trigger_active = trigger_active;
    }

    /// (message, isDataAvailable, isTriggerActive, isActive)
    pub fn snapshot(&self) -> (String, bool, bool, bool) {
        let s = self.status();
        (
            s.message.clone(),
            s.data_available,
            s.trigger_active,
            self.is_active(),
        )
    }

    pub fn push_progress(&self, json: String) {
        let mut s = self.status();
        if s.progress.len() == RECENT_PROGRESS {
            s.progress.pop_front();
        }
        s.progress.push_back(json);
    }

    pub fn recent_progress(&self) -> Vec<String> {
        self.status().progress.iter().cloned().collect()
    }

    pub fn last_progress(&self) -> Vec<String> {
        self.status().progress.back().cloned().into_iter().collect()
    }

    pub fn is_active(&self) -> bool {
        !*self.done.borrow()
    }

    pub fn stop_requested(&self) -> bool {
        *self.stop.borrow()
    }

    pub fn request_stop(&self) {
        self.stop.send_replace(true);
        self.wake.notify_one();
    }

    /// The query ended; `failure` is the cause's (class, message) when it failed.
    pub fn finish(&self, failure: Option<(String, String)>) {
        {
            let mut s = self.status();
            s.message = "Stopped".into();
            s.data_available = false;
            s.trigger_active = false;
            if let Some((class, message)) = failure {
                s.cause_class = Some(class);
                s.failure = Some(message);
            }
        }
        self.done.send_replace(true);
    }

    /// The failure as Spark reports it: `[STREAM_FAILED] Query [...] terminated with exception: ...`.
    pub fn exception(&self) -> Option<(String, Option<String>)> {
        let s = self.status();
        s.failure.as_ref().map(|m| {
            (
                format!(
                    "[STREAM_FAILED] Query [id = {}, runId = {}] terminated with exception: {m} SQLSTATE: XXKST",
                    self.id, self.run_id
                ),
                s.cause_class.clone(),
            )
        })
    }

    fn failed(&self) -> SparkResult<()> {
        match self.exception() {
            Some((message, _)) => Err(SparkError::StreamFailed(message)),
            None => Ok(()),
        }
    }

    /// Waits for the end (up to `timeout`); Ok(false) on timeout; the failure if it failed.
    pub async fn await_termination(&self, timeout: Option<Duration>) -> SparkResult<bool> {
        let mut rx = self.done.subscribe();
        let wait = rx.wait_for(|d| *d);
        let ended = match timeout {
            Some(t) => tokio::time::timeout(t, wait).await.is_ok(),
            None => {
                let _ = wait.await;
                true
            }
        };
        if ended {
            self.failed()?;
        }
        Ok(ended)
    }

    /// Returns once everything available when called has been processed (or the query ended).
    pub async fn process_all_available(&self) -> SparkResult<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        let mut drained = self.drained.subscribe();
        let mut done = self.done.subscribe();
        tokio::select! {
            _ = drained.wait_for(|d| *d >= ticket) => {}
            _ = done.wait_for(|d| *d) => {}
        }
        self.failed()
    }

    /// The query found no new data: requests made before this check are satisfied.
    pub fn mark_drained(&self, seen: u64) {
        self.drained.send_modify(|d| *d = (*d).max(seen));
    }

    pub fn requests(&self) -> u64 {
        self.requested.load(Ordering::SeqCst)
    }
}

/// The queries of one session.
#[derive(Debug)]
pub struct Registry {
    queries: Mutex<Vec<Arc<QueryHandle>>>,
    /// Terminations since the last `resetTerminated`.
    terminated: watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            queries: Mutex::new(vec![]),
            terminated: watch::channel(0).0,
        }
    }
}

impl Registry {
    fn queries(&self) -> MutexGuard<'_, Vec<Arc<QueryHandle>>> {
        self.queries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a starting query; Spark refuses a second active query with the same name
    /// or the same checkpoint (query id).
    pub fn register(&self, q: Arc<QueryHandle>) -> SparkResult<()> {
        let mut all = self.queries();
        for other in all.iter().filter(|o| o.is_active()) {
            if q.name.is_some() && other.name == q.name {
                return Err(SparkError::Plan(planner::PlanError::invalid(format!(
                    "Cannot start query with name {} as a query with that name is already active in this SparkSession",
                    q.name.as_deref().unwrap_or_default()
                ))));
            }
            if other.id == q.id {
                return Err(SparkError::Plan(planner::PlanError::invalid(format!(
                    "Cannot start query with id {} as another query with same id is already active. Perhaps you are attempting to restart a query from checkpoint that is already active.",
                    q.id
                ))));
            }
        }
        // Ended queries stay answerable (progress, exception) until many more have ended.
        let ended = all.iter().filter(|o| !o.is_active()).count();
        if ended >= KEEP_ENDED {
            if let Some(oldest) = all.iter().position(|o| !o.is_active()) {
                all.remove(oldest);
            }
        }
        all.push(q);
        Ok(())
    }

    pub fn terminated(&self) {
        self.terminated.send_modify(|n| *n += 1);
    }

    pub fn active(&self) -> Vec<Arc<QueryHandle>> {
        self.queries()
            .iter()
            .filter(|q| q.is_active())
            .cloned()
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<Arc<QueryHandle>> {
        self.queries().iter().rev().find(|q| q.id == id).cloned()
    }

    pub fn reset_terminated(&self) {
        self.terminated.send_replace(0);
    }

    pub async fn await_any(&self, timeout: Option<Duration>) -> SparkResult<bool> {
        let mut rx = self.terminated.subscribe();
        let wait = rx.wait_for(|n| *n > 0);
        let ended = match timeout {
            Some(t) => tokio::time::timeout(t, wait).await.is_ok(),
            None => {
                let _ = wait.await;
                true
            }
        };
        if ended {
            let failed = self.queries().iter().find_map(|q| q.exception());
            if let Some((message, _)) = failed {
                return Err(SparkError::StreamFailed(message));
            }
        }
        Ok(ended)
    }

    /// Stops every query (the session is closing).
    pub fn stop_all(&self) {
        for q in self.active() {
            q.request_stop();
        }
    }
}

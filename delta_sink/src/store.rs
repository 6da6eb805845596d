//! Object stores for table locations beyond the local file system: `s3://` and `s3a://`
//! through object_store's S3 client, configured from the usual `AWS_*` environment
//! variables (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a local S3-compatible server).
//! Commits use delta-rs' default log store, which writes each `_delta_log` entry with a
//! put-if-absent (S3's `If-None-Match: *`), so two writers never both commit a version.
use std::sync::{Arc, Once};

use deltalake::logstore::{
    default_logstore, logstore_factories, object_store_factories, LogStore, LogStoreFactory,
    ObjectStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::ObjectStoreScheme;
use url::Url;

/// URL schemes sluice reads and writes besides `file`.
pub const REMOTE_SCHEMES: &[&str] = &["s3", "s3a"];

struct S3Stores;

impl ObjectStoreFactory for S3Stores {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
        for (key, value) in config.raw.iter() {
            if let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        let (_, path) = ObjectStoreScheme::parse(url)
            .map_err(|e| DeltaTableError::Generic(format!("{url}: {e}")))?;
        let store = builder
            .build()
            .map_err(|e| DeltaTableError::Generic(format!("{url}: {e}")))?;
        Ok((Arc::new(store), path))
    }
}

struct DefaultLogs;

impl LogStoreFactory for DefaultLogs {
    fn with_options(
        &self,
        prefixed: ObjectStoreRef,
        root: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(prefixed, root, location, options))
    }
}

/// Registers the remote schemes with delta-rs (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in REMOTE_SCHEMES {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                object_store_factories().insert(url.clone(), Arc::new(S3Stores));
                logstore_factories().insert(url, Arc::new(DefaultLogs));
            }
        }
    });
}

//! Object stores for table locations beyond the local file system, through object_store's
//! clients, each configured from its cloud's usual environment variables as object_store
//! reads them:
//! - S3 (`s3://`, `s3a://`): `AWS_*` (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a
//!   local S3-compatible server);
//! - Google Cloud Storage (`gs://`): `GOOGLE_APPLICATION_CREDENTIALS`,
//!   `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_SERVICE_ACCOUNT_KEY`, `GOOGLE_*`;
//! - Azure (`abfss://container@account.dfs.core.windows.net/...`, and `abfs`, `az`, `azure`,
//!   `adl` as delta-rs accepts them): `AZURE_STORAGE_ACCOUNT_NAME`,
//!   `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`, `AZURE_CLIENT_*`, `AZURE_*`.
//!
//! Commits use delta-rs' default log store, which writes each `_delta_log` entry with a
//! put-if-absent (S3's `If-None-Match: *`, GCS's `x-goog-if-generation-match: 0`, Azure's
//! `If-None-Match: *`), so two writers never both commit a version.
use std::sync::{Arc, Once};
use std::time::Duration;

use deltalake::logstore::{
    default_logstore, logstore_factories, object_store_factories, LogStore, LogStoreFactory,
    ObjectStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreScheme, RetryConfig};
use url::Url;

/// The object_store client behind a URL scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cloud {
    S3,
    Gcs,
    Azure,
}

/// URL schemes sluice reads and writes besides `file`, and the client of each.
const SCHEMES: &[(&str, Cloud)] = &[
    ("s3", Cloud::S3),
    ("s3a", Cloud::S3),
    ("gs", Cloud::Gcs),
    ("abfss", Cloud::Azure),
    ("abfs", Cloud::Azure),
    ("az", Cloud::Azure),
    ("azure", Cloud::Azure),
    ("adl", Cloud::Azure),
];

/// Whether sluice has an object store client for this URL scheme.
pub fn is_remote(scheme: &str) -> bool {
    SCHEMES.iter().any(|(s, _)| *s == scheme)
}

/// The schemes as an error message lists them.
pub fn schemes_listed() -> String {
    SCHEMES
        .iter()
        .map(|(s, _)| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Retries of one request, bounded: object_store's default keeps retrying an unreachable
/// endpoint for up to 3 minutes, which a client sees as a hung query. Five retries with
/// backoff (about 3 s against a refused connection) still ride out a throttled request.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 5,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

/// Options given with the table (delta-rs' storage options) that name one of the client's
/// config keys; they win over the environment.
fn options<K: std::str::FromStr>(config: &StorageConfig) -> impl Iterator<Item = (K, &String)> {
    config
        .raw
        .iter()
        .filter_map(|(key, value)| Some((key.to_ascii_lowercase().parse::<K>().ok()?, value)))
}

fn build(
    cloud: Cloud,
    url: &Url,
    config: &StorageConfig,
) -> object_store::Result<Arc<dyn ObjectStore>> {
    Ok(match cloud {
        Cloud::S3 => {
            let mut b = AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_retry(retry());
            for (key, value) in options::<AmazonS3ConfigKey>(config) {
                b = b.with_config(key, value);
            }
            Arc::new(b.build()?)
        }
        Cloud::Gcs => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry());
            for (key, value) in options::<GoogleConfigKey>(config) {
                b = b.with_config(key, value);
            }
            Arc::new(b.build()?)
        }
        Cloud::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry());
            for (key, value) in options::<AzureConfigKey>(config) {
                b = b.with_config(key, value);
            }
            Arc::new(b.build()?)
        }
    })
}

struct Stores(Cloud);

impl ObjectStoreFactory for Stores {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let (_, path) = ObjectStoreScheme::parse(url)
            .map_err(|e| DeltaTableError::Generic(format!("{url}: {e}")))?;
        let store = build(self.0, url, config)
            .map_err(|e| DeltaTableError::Generic(format!("{url}: {e}")))?;
        Ok((store, path))
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
        for (scheme, cloud) in SCHEMES {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                object_store_factories().insert(url.clone(), Arc::new(Stores(*cloud)));
                logstore_factories().insert(url, Arc::new(DefaultLogs));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_to_its_cloud() {
        let cases = [
            ("s3://b/p/", ObjectStoreScheme::AmazonS3),
            ("gs://b/p/", ObjectStoreScheme::GoogleCloudStorage),
            (
                "abfss://c@acct.dfs.core.windows.net/p/",
                ObjectStoreScheme::MicrosoftAzure,
            ),
            ("az://c/p/", ObjectStoreScheme::MicrosoftAzure),
            ("azure://c/p/", ObjectStoreScheme::MicrosoftAzure),
        ];
        for (url, want) in cases {
            let url = Url::parse(url).unwrap();
            let (scheme, path) = ObjectStoreScheme::parse(&url).unwrap();
            assert_eq!(scheme, want, "{url}");
            assert_eq!(path.as_ref(), "p", "{url}");
            assert!(is_remote(url.scheme()));
        }
        assert!(!is_remote("hdfs"));
    }
}

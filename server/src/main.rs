//! `sluice`: a Spark Connect server on DataFusion.
mod analyze;
mod catalog;
mod catalog_ops;
mod compression;
mod config;
mod config_ops;
mod delta_ops;
mod error;
mod execute;
mod service;
mod session;
mod sources;
mod statements;
mod streaming;
mod tables;
mod writers;

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use proto::connect::spark_connect_service_server::SparkConnectServiceServer;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Status};

/// Largest gRPC message accepted or sent (PySpark's own limit is 128 MiB).
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "A Spark Connect server on Apache DataFusion"
)]
struct Args {
    /// Address to bind; loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1", env = "SLUICE_HOST")]
    host: String,
    #[arg(long, default_value_t = 15002, env = "SLUICE_PORT")]
    port: u16,
    /// Require this bearer token (`sc://host:port/;token=...`).
    #[arg(long, env = "SLUICE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// PEM certificate for TLS (`use_ssl=true` clients); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<String>,
    /// PEM private key for TLS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<String>,
    /// Directory for managed tables (`spark.sql.warehouse.dir`).
    #[arg(long, default_value = "spark-warehouse", env = "SLUICE_WAREHOUSE")]
    warehouse: String,
}

fn check_token(
    expected: Option<Arc<str>>,
) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |req: Request<()>| {
        let Some(expected) = &expected else {
            return Ok(req);
        };
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match given.and_then(|v| v.strip_prefix("Bearer ")) {
            Some(t) if t == expected.as_ref() => Ok(req),
            _ => Err(Status::unauthenticated(
                "sluice requires a valid bearer token (sc://host:port/;token=...)",
            )),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two TLS stacks are linked (tonic's ring, and object_store's via delta-rs); name one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sluice=info,server=info".into()),
        )
        .init();
    let args = Args::parse();
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|e| format!("invalid --host/--port {}:{}: {e}", args.host, args.port))?;
    let warehouse = std::path::absolute(&args.warehouse)?.display().to_string();
    let time_zone = std::env::var("TZ")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "UTC".into());
    let service = service::Service {
        sessions: Arc::new(session::Sessions::new(warehouse, time_zone)),
    };
    let grpc = SparkConnectServiceServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let token = args.token.filter(|t| !t.is_empty()).map(Arc::<str>::from);
    let mut builder = Server::builder();
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let identity = Identity::from_pem(std::fs::read(cert)?, std::fs::read(key)?);
        builder = builder.tls_config(ServerTlsConfig::new().identity(identity))?;
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("sluice {} listening on {addr}", env!("CARGO_PKG_VERSION"));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    builder
        .add_service(tonic::service::interceptor::InterceptedService::new(
            grpc,
            check_token(token),
        ))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    Ok(())
}

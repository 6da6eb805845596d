//! `sluice`: a Spark Connect server on DataFusion.
mod analyze;
mod catalog;
mod catalog_ops;
mod compression;
mod config;
mod config_ops;
mod delta_ops;
mod describe;
mod dml_exprs;
mod error;
mod execute;
mod pipelines;
mod service;
mod session;
mod sources;
mod statements;
mod streaming;
mod tables;
mod views;
mod write_to;
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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Declarative pipelines of SQL files, run in-process (no server, no Python).
    Pipeline {
        #[command(subcommand)]
        action: PipelineAction,
    },
}

/// A comma-separated list of dataset names.
fn names(text: &str) -> Result<Vec<String>, String> {
    Ok(text
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

#[derive(clap::Subcommand, Debug)]
enum PipelineAction {
    /// Runs an update: the spec file (spark-pipeline.yml) or folder given, or the current one.
    Run {
        path: Option<std::path::PathBuf>,
        #[arg(long)]
        spec: Option<std::path::PathBuf>,
        /// Datasets to reset and recompute (comma-separated).
        #[arg(long, value_parser = names, action = clap::ArgAction::Append)]
        full_refresh: Vec<Vec<String>>,
        /// Reset and recompute every dataset.
        #[arg(long, conflicts_with_all = ["full_refresh", "refresh"])]
        full_refresh_all: bool,
        /// Datasets to update (comma-separated).
        #[arg(long, value_parser = names, action = clap::ArgAction::Append)]
        refresh: Vec<Vec<String>>,
    },
    /// Checks the graph without writing anything.
    DryRun {
        path: Option<std::path::PathBuf>,
        #[arg(long)]
        spec: Option<std::path::PathBuf>,
    },
}

/// `sluice pipeline ...`: exit code 0 when the update completed.
async fn pipeline(args: &Args, action: &PipelineAction) -> std::process::ExitCode {
    let (path, how) = match action {
        PipelineAction::Run {
            path,
            spec,
            full_refresh,
            full_refresh_all,
            refresh,
        } => (
            spec.clone().or_else(|| path.clone()),
            pipelines::ProjectRun {
                full_refresh: full_refresh.concat(),
                full_refresh_all: *full_refresh_all,
                refresh: refresh.concat(),
                dry: false,
            },
        ),
        PipelineAction::DryRun { path, spec } => (
            spec.clone().or_else(|| path.clone()),
            pipelines::ProjectRun {
                dry: true,
                ..Default::default()
            },
        ),
    };
    let path = path.unwrap_or_else(|| std::path::PathBuf::from("."));
    let warehouse = match std::path::absolute(&args.warehouse) {
        Ok(w) => w.display().to_string(),
        Err(e) => {
            eprintln!("invalid --warehouse: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let sessions = session::Sessions::new(warehouse, time_zone());
    match pipelines::run_project(&sessions, &path, how).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn time_zone() -> String {
    std::env::var("TZ")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "UTC".into())
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
async fn main() -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    // Two TLS stacks are linked (tonic's ring, and object_store's via delta-rs); name one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sluice=info,server=info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(Command::Pipeline { action }) = &args.command {
        return Ok(pipeline(&args, action).await);
    }
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|e| format!("invalid --host/--port {}:{}: {e}", args.host, args.port))?;
    let warehouse = std::path::absolute(&args.warehouse)?.display().to_string();
    let time_zone = time_zone();
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
        // Without TCP_NODELAY every small response waits out the client's delayed ACK
        // (about 40 ms per request on Linux).
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    Ok(std::process::ExitCode::SUCCESS)
}

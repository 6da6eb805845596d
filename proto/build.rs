//! Compiles the Spark Connect protocol from the FileDescriptorSet in `descriptors/`
//! (extracted from the pinned pyspark-client release by `fetch.sh`); no protoc needed.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = "descriptors/spark-connect.fds";
    println!("cargo:rerun-if-changed={path}");
    let fds = prost_types::FileDescriptorSet::decode(std::fs::read(path)?.as_slice())?;
    // Clients are only needed by the Rust integration tests; keep them, they are small.
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}

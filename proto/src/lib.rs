//! The Spark Connect protocol (Spark 4.2), generated from the descriptors in `descriptors/`.
#![allow(clippy::all, clippy::pedantic)]

pub mod spark {
    pub mod connect {
        tonic::include_proto!("spark.connect");
    }
}

pub use spark::connect;

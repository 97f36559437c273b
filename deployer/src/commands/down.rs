//! `dashctl down`: drain and stop everything `dashctl up` started.

use std::time::Duration;

use super::{Failure, load, runtime};
use crate::cli::DownArgs;
use crate::local::client::Connection;

pub fn exec(args: &DownArgs) -> Result<(), Failure> {
    let loaded = load(&args.spec)?;
    runtime()?.block_on(async {
        Connection::open(&loaded)?
            .down(Duration::from_secs(120))
            .await
    })?;
    println!("stopped {} ({})", loaded.spec.app, loaded.spec.environment);
    Ok(())
}

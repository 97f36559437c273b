//! `dashctl validate`: check a spec offline.

use super::{Failure, load};
use crate::cli::ValidateArgs;

pub fn exec(args: &ValidateArgs) -> Result<(), Failure> {
    let loaded = load(&args.spec)?;
    let count = loaded.spec.services.len();
    println!(
        "{} is valid: app {}, environment {}, {count} service{}",
        loaded.path.display(),
        loaded.spec.app,
        loaded.spec.environment,
        if count == 1 { "" } else { "s" }
    );
    Ok(())
}

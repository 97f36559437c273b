//! `dashctl up`: run the spec on this machine until Ctrl-C or `dashctl down`.

use super::human::Human;
use super::{Failure, load, runtime, service_lacking};
use crate::cli::UpArgs;
use crate::local;

pub fn exec(args: &UpArgs) -> Result<(), Failure> {
    let loaded = load(&args.spec)?;
    if let Some(name) = service_lacking(&loaded, |service| service.local.is_none()) {
        return Err(Failure::Usage(format!(
            "{}: service `{name}` has no `local` section, so `dashctl up` cannot run it (add `local: {{ command: [...] }}`)",
            loaded.path.display()
        )));
    }
    let options = local::UpOptions {
        no_build: args.no_build,
        postgres_bin_dir: args.postgres_bin_dir.clone(),
    };
    runtime()?.block_on(local::up(loaded, options, &Human::events()))?;
    Ok(())
}

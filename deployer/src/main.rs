use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use dashctl::cli::Cli;
use dashctl::commands::{self, Failure};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DASHCTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws_config=error")),
        )
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let code = failure.exit_code();
            match failure {
                Failure::InvalidSpec(error) => eprintln!("{:?}", miette::Report::new(error)),
                Failure::Usage(message) => eprintln!("error: {message}"),
                Failure::Failed(error)
                | Failure::Reverted(error)
                | Failure::NeedsAttention(error) => {
                    eprintln!("error: {error:#}");
                }
            }
            ExitCode::from(code)
        }
    }
}

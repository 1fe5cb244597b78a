//! `kfp-gitops`: the command-line front end. It parses arguments, composes the library crates and is the
//! only place that prints or chooses an exit code (see [`failure`]).

// The binary is the one place in the workspace allowed to talk to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

mod args;
mod commands;
mod daemon;
mod failure;
mod kfp_args;
mod legacy;
mod logging;
mod output;
mod plan_output;
mod settings;

use std::process::ExitCode;

use crate::args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let ctx = output::Context::from_global(&cli.global);
    logging::init(&cli.global, cli.command.default_log_level());
    // The reference scripts' spellings work; say once how kfp-gitops spells them (as a log record when
    // stderr carries JSON log lines, so that every line there stays JSON).
    for line in legacy::notes(std::env::args_os()) {
        match cli.global.log_format {
            args::LogFormat::Text => eprintln!("{line}"),
            args::LogFormat::Json => tracing::warn!("{line}"),
        }
    }
    match commands::dispatch(cli.command, &ctx) {
        Ok(status) => status.into(),
        Err(failure) => {
            failure.report(&ctx);
            failure.exit_code()
        }
    }
}

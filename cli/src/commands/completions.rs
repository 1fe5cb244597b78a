//! `kfp-gitops completions <shell>`: shell completion scripts generated from the real command line.

use std::io;

use clap::Args;
use clap_complete::Shell;

use crate::args::Cli;
use crate::failure::{Failure, Status};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs) -> Result<Status, Failure> {
    let mut command = Cli::command_line();
    clap_complete::generate(args.shell, &mut command, "kfp-gitops", &mut io::stdout());
    Ok(Status::Ok)
}

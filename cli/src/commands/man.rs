//! `kfp-gitops man`: the manual page in roff, generated from the real command line.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::args::Cli;
use crate::failure::{Failure, Status};

pub fn run() -> Result<Status, Failure> {
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(|err| Failure::io("rendering the manual page", &err))?;
    // Subcommands get their own sections so the page documents every option.
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("kfp-gitops-{}", sub.get_name());
        let sub = sub.clone().name(name);
        clap_mangen::Man::new(sub)
            .render(&mut page)
            .map_err(|err| Failure::io("rendering the manual page", &err))?;
    }
    io::stdout()
        .write_all(&page)
        .map_err(|err| Failure::io("writing the manual page", &err))?;
    Ok(Status::Ok)
}

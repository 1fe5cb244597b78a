//! One module per subcommand; each exposes its clap `Args` and a `run` function.

pub mod apply;
pub mod completions;
pub mod import;
pub mod man;
pub mod ping;
pub mod plan;
pub mod render;
pub mod run;
pub mod schema;
pub mod status;
pub mod trigger;
pub mod validate;
pub mod watch;

use crate::args::Command;
use crate::failure::{Failure, Status};
use crate::output::Context;

/// Runs the chosen subcommand.
pub fn dispatch(command: Command, ctx: &Context) -> Result<Status, Failure> {
    match command {
        Command::Completions(args) => completions::run(&args),
        Command::Man => man::run(),
        Command::Render(args) => render::run(&args, ctx),
        Command::Run(args) => run::run(&args, ctx),
        Command::Ping(args) => ping::run(&args, ctx),
        Command::Watch(args) => watch::run(&args, ctx),
        Command::Plan(args) => plan::run(&args, ctx),
        Command::Apply(args) => apply::run(&args, ctx),
        Command::Validate(args) => validate::run(&args, ctx),
        Command::Schema(args) => schema::run(&args),
        Command::Trigger(args) => trigger::run(&args, ctx),
        Command::Import(args) => import::run(&args, ctx),
        Command::Status(args) => status::run(&args, ctx),
    }
    .map_err(|failure| failure.with_output(ctx.format))
}

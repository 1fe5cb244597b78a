//! The command line: global options shared by every subcommand and the subcommand list.

use clap::{
    ArgAction, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum,
};

/// GitOps for Kubeflow Pipelines v1: render pipelines to committed Argo Workflow YAML, run them once,
/// and reconcile declared experiments and recurring runs into the KFP API.
#[derive(Debug, Parser)]
#[command(name = "kfp-gitops", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line as `kfp-gitops` parses, shows and completes it: [`Cli`]'s, with the global
    /// options that mean nothing to `render` (the KFP API and namespace: rendering never talks to KFP)
    /// left out of its help and completions. They are still accepted there, as everywhere, so that one
    /// `KFP_API_URL`/`--api-url` set for a whole script never breaks a render.
    pub fn command_line() -> clap::Command {
        let command = Self::command();
        // Global options are copied into each subcommand when the command is built, unless the
        // subcommand already has an option of that id: give `render` hidden copies of its own. Their
        // values reach the global options all the same (clap carries global values up by id).
        let hidden: Vec<clap::Arg> = command
            .get_arguments()
            .filter(|arg| ["api_url", "namespaces"].contains(&arg.get_id().as_str()))
            .map(|arg| arg.clone().hide(true))
            .collect();
        // (`mut_subcommands` keeps the order of the subcommands, which completions follow.)
        command.mut_subcommands(|sub| {
            if sub.get_name() == "render" {
                sub.args(hidden.iter().cloned())
            } else {
                sub
            }
        })
    }

    /// Parses the process's arguments with [`Cli::command_line`]; on an error or `--help`, prints and
    /// exits as clap does.
    pub fn parse_args() -> Self {
        let matches = Self::command_line().get_matches();
        Self::from_arg_matches(&matches)
            .unwrap_or_else(|err| err.format(&mut Self::command_line()).exit())
    }
}

/// Options every subcommand understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Base URL of the KFP API, e.g. `https://kubeflow.example.com/pipeline` or `http://ml-pipeline:8888`
    // `hide_env_values`: `--help` must not print a URL that may carry credentials.
    #[arg(
        long,
        global = true,
        env = "KFP_API_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub api_url: Option<String>,

    /// Kubernetes namespace (Kubeflow profile) to work in. `plan`, `apply`, `validate` and `watch` take it
    /// once per `--config DIR` written without `NS=`, in the same order
    #[arg(
        long = "namespace",
        short = 'n',
        global = true,
        env = "KFP_NAMESPACE",
        value_name = "NS",
        action = ArgAction::Append
    )]
    pub namespaces: Vec<String>,

    /// Log level: error, warn, info, debug or trace (RUST_LOG, when set, takes precedence)
    /// [default: warn; info for `watch`]
    // Any case, and `warning`, as the reference scripts write it (`DEBUG`, `INFO`, `WARNING`).
    #[arg(long, global = true, value_name = "LEVEL", ignore_case = true)]
    pub log_level: Option<LogLevel>,

    /// Log line format on stderr: text, or json (one object per line, for log pipelines)
    #[arg(
        long,
        global = true,
        env = "KFP_GITOPS_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// More log output; repeat for more (-v = info, -vv = debug, -vvv = trace)
    #[arg(long, short = 'v', global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Output format for results
    #[arg(
        long,
        short = 'o',
        global = true,
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub output: OutputFormat,

    /// Never use colours (also when NO_COLOR is set)
    #[arg(long, global = true)]
    pub no_color: bool,
}

impl GlobalArgs {
    /// The namespace of a command that works in one namespace (`run`, `ping`); an empty value is none.
    pub fn single_namespace(&self) -> Result<Option<&str>, crate::failure::Failure> {
        match self.namespaces.as_slice() {
            [] => Ok(None),
            [namespace] => Ok(Some(namespace.as_str()).filter(|ns| !ns.is_empty())),
            several => Err(crate::failure::Failure::new(format!(
                "--namespace is given {} times, but this command works in one namespace",
                several.len()
            ))
            .hint("pass --namespace once")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LogLevel {
    Error,
    #[value(alias = "warning")]
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text
    Text,
    /// Machine-readable JSON on stdout
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the manual page (roff)
    Man,
    /// Render pipelines into their committed output folders, or check that those are current
    Render(crate::commands::render::RenderArgs),
    /// Run a rendered pipeline once in an experiment, and optionally watch it finish
    Run(crate::commands::run::RunArgs),
    /// Check the connection to KFP: the API answers, authentication works, the namespace is accessible
    Ping(crate::commands::ping::PingArgs),
    /// Show what `apply` would change in KFP: created, replaced, enabled, disabled and deleted versions
    Plan(crate::commands::plan::PlanArgs),
    /// Make KFP match the configs (or apply a plan saved with `plan --out`), and print what was done
    Apply(crate::commands::apply::ApplyArgs),
    /// Check the configs without KFP access: files, pipelines, parameter files, parameters against inputs
    Validate(crate::commands::validate::ValidateArgs),
    /// Print or write the JSON Schemas of experiments.yaml, recurring_runs.yaml and kfp-gitops.yaml
    Schema(crate::commands::schema::SchemaArgs),
    /// Reconcile every configured namespace continuously (the in-cluster daemon), or once with --once
    Watch(crate::commands::watch::WatchArgs),
}

impl Command {
    /// The log level when `--log-level` is not given.
    pub fn default_log_level(&self) -> LogLevel {
        match self {
            // A daemon reports every cycle.
            Self::Watch(_) => LogLevel::Info,
            _ => LogLevel::Warn,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{FromArgMatches as _, Parser as _};

    use super::Cli;

    fn namespace_of(argv: &[&str]) -> Result<Option<String>, String> {
        let cli = Cli::try_parse_from(argv).unwrap();
        cli.global
            .single_namespace()
            .map(|namespace| namespace.map(str::to_owned))
            .map_err(|failure| failure.message)
    }

    #[test]
    fn a_one_namespace_command_takes_one_namespace_and_treats_empty_as_none() {
        assert_eq!(
            namespace_of(&["kfp-gitops", "-n", "team-1", "ping"]),
            Ok(Some("team-1".to_owned()))
        );
        assert_eq!(
            namespace_of(&["kfp-gitops", "ping", "--namespace="]),
            Ok(None)
        );
        assert_eq!(namespace_of(&["kfp-gitops", "ping"]), Ok(None));
    }

    #[test]
    fn render_takes_but_does_not_show_the_kfp_options_and_other_commands_show_them() {
        let mut command = Cli::command_line();
        // As when parsing: the global options are copied into the subcommands.
        command.build();
        let render = command.find_subcommand_mut("render").unwrap();
        let help = render.render_long_help().to_string();
        assert!(
            !help.contains("--api-url") && !help.contains("--namespace"),
            "{help}"
        );
        assert!(help.contains("--log-level"), "{help}");
        for name in ["plan", "apply", "run", "ping", "watch", "validate"] {
            let sub = command.find_subcommand_mut(name).unwrap();
            let help = sub.render_long_help().to_string();
            assert!(
                help.contains("--api-url") && help.contains("--namespace"),
                "{name}: {help}"
            );
        }
        let matches = Cli::command_line()
            .try_get_matches_from(["kfp-gitops", "render", "--api-url", "http://h", "--check"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(cli.global.api_url.as_deref(), Some("http://h"));
    }

    #[test]
    fn a_one_namespace_command_refuses_several() {
        assert_eq!(
            namespace_of(&["kfp-gitops", "ping", "-n", "a", "-n", "b"]),
            Err("--namespace is given 2 times, but this command works in one namespace".to_owned())
        );
    }
}

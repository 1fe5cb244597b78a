//! `kfp-emulator`: the KFP v1beta1 API emulator (KFP 1.8.5, or a 2.x backend with `--kfp-profile`) as a process, for demos and for the Python SDK
//! compatibility check (`cargo xtask compat`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kfp_gitops_tests::emulator::{AuthMode, DexConfig, Emulator, EmulatorConfig, Profile};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Auth {
    None,
    Token,
    Dex,
}

/// Serve an emulated Kubeflow Pipelines v1beta1 API (KFP 1.8.5 or a 2.x backend) until interrupted.
#[derive(Debug, Parser)]
#[command(name = "kfp-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8888")]
    listen: SocketAddr,
    /// Emulate a multi-user (Kubeflow / deployKF) installation.
    #[arg(long)]
    multi_user: bool,
    /// Authentication in front of the API.
    #[arg(long, value_enum, default_value = "none")]
    auth: Auth,
    /// A bearer token accepted in `--auth token` mode (repeatable).
    #[arg(
        long = "token",
        env = "KFP_EMULATOR_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// Dex user (email) in `--auth dex` mode.
    #[arg(long, default_value = "user@example.com")]
    dex_user: String,
    /// Dex password in `--auth dex` mode.
    #[arg(
        long,
        env = "KFP_EMULATOR_DEX_PASSWORD",
        default_value = "12341234",
        hide_env_values = true
    )]
    dex_password: String,
    /// Show Dex's approval screen after login.
    #[arg(long)]
    dex_approval: bool,
    /// Show Dex's connector picker (local, ldap) before the login form.
    #[arg(long)]
    dex_connector_picker: bool,
    /// Answer unauthenticated browsers with oauth2-proxy's 403 sign-in page instead of a redirect.
    #[arg(long)]
    dex_sign_in_page: bool,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Time a run takes from creation to Succeeded, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    run_duration_ms: u64,
    /// A state file (JSON from `GET /_emulator/state`) to start from.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Which KFP API server to play: 1.8.5, 2.0 (2.0.0–2.3.x), 2.5 (2.4–2.5), 2.14 (2.14–2.16) or 2.17.
    #[arg(long, default_value = "1.8.5", value_parser = parse_profile)]
    kfp_profile: Profile,
    /// KFP 2.17 only: turn on BLOCK_V1_PIPELINES, allowing v1 pipelines only in these namespaces
    /// (V1_ALLOWED_NAMESPACES; comma-separated, may be empty).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    block_v1_except: Option<Vec<String>>,
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    text.parse()
}

/// In Dex mode the API is served behind the login under `/pipeline`, as Kubeflow's gateway serves it:
/// the start-up says so, since `--api-url` must name that path.
fn dex_note(args: &Args, base_url: &str) -> Option<String> {
    matches!(args.auth, Auth::Dex).then(|| {
        format!(
            "Dex mode: the KFP API is under {base_url}/pipeline (--api-url {base_url}/pipeline), behind a Dex \
             login as {}",
            args.dex_user
        )
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let auth = match args.auth {
        Auth::None => AuthMode::None,
        Auth::Token => {
            if args.tokens.is_empty() {
                eprintln!("kfp-emulator: --auth token needs at least one --token");
                return ExitCode::from(2);
            }
            AuthMode::Token(args.tokens.iter().cloned().collect::<BTreeSet<_>>())
        }
        Auth::Dex => AuthMode::Dex(DexConfig {
            username: args.dex_user.clone(),
            password: args.dex_password.clone(),
            approval_screen: args.dex_approval,
            connector_picker: args.dex_connector_picker,
            sign_in_page: args.dex_sign_in_page,
            ..DexConfig::default()
        }),
    };
    let config = EmulatorConfig {
        listen: args.listen,
        multi_user: args.multi_user,
        auth,
        latency: Duration::from_millis(args.latency_ms),
        run_duration: Duration::from_millis(args.run_duration_ms),
        state_file: args.state.clone(),
        profile: args.kfp_profile,
        block_v1_except: args.block_v1_except.as_ref().map(|allowed| {
            allowed
                .iter()
                .filter(|ns| !ns.is_empty())
                .cloned()
                .collect()
        }),
        ..EmulatorConfig::default()
    };
    let emulator = match Emulator::start(config) {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("kfp-emulator: cannot start on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!("kfp-emulator: playing KFP {}", emulator.profile());
    println!("listening on {}", emulator.base_url());
    if let Some(line) = dex_note(&args, &emulator.base_url()) {
        // The first line is the one scripts wait for (and may stop reading after): this one must never
        // fail the emulator.
        let _ = writeln!(std::io::stdout(), "{line}");
    }
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

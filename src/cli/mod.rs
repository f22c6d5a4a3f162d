//! Command-line definitions (clap derive); errors become `error:`/`hint:` lines and exit codes
//! ([`error`]), translated from the library's in [`hints`].

use clap::{CommandFactory, Parser, Subcommand};

use error::CliError;

mod assertion;
mod call;
mod credential;
mod credential_args;
mod decode;
mod error;
mod federation;
mod foreign_flags;
mod graph_session;
mod hints;
mod keycred;
#[cfg(test)]
mod man;
mod managed_identity;
mod new;
mod output;
mod proof;
mod rotate;
mod serve;
mod thumbprint;
mod token;
mod token_input;
mod verify;

/// Certificates, client assertions and tokens for the Microsoft Entra ID client-credentials flow.
#[derive(Debug, Parser)]
#[command(name = "certgen", version, about, propagate_version = true)]
#[command(
    after_help = "Start with `certgen new --cn my-daemon`, upload the .cer it writes to your app registration, \
then use the key with `certgen assertion` or `certgen token`."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    New(new::NewArgs),
    Thumbprint(thumbprint::ThumbprintArgs),
    Assertion(assertion::AssertionArgs),
    Token(token::TokenArgs),
    Call(call::CallArgs),
    Keycred(keycred::KeycredArgs),
    Proof(proof::ProofArgs),
    Credential(credential::CredentialCmd),
    Rotate(rotate::RotateArgs),
    Decode(decode::DecodeArgs),
    Verify(verify::VerifyArgs),
    Serve(serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    #[command(after_help = "Install (then open a new shell):\n  \
bash:        certgen completions bash > ~/.local/share/bash-completion/completions/certgen\n  \
zsh:         certgen completions zsh > ~/.zfunc/_certgen\n               \
(with fpath+=~/.zfunc before compinit in ~/.zshrc)\n  \
fish:        certgen completions fish > ~/.config/fish/completions/certgen.fish\n  \
powershell:  certgen completions powershell >> $PROFILE\n\n\
Or for the current shell only: source <(certgen completions bash)")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the command line and returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::New(args) => new::run(args),
        Command::Thumbprint(args) => thumbprint::run(args),
        Command::Assertion(args) => assertion::run(args),
        Command::Token(args) => token::run(args),
        Command::Call(args) => call::run(args),
        Command::Keycred(args) => keycred::run(args),
        Command::Proof(args) => proof::run(args),
        Command::Credential(args) => credential::run(args),
        Command::Rotate(args) => rotate::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails, and stdout fails
            // as soon as the reader goes away (`| head -1`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "certgen", &mut script);
            output::write_stdout(&String::from_utf8_lossy(&script))
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => e.report(),
    }
}

/// clap's own errors, reduced to the contract's `error:` line plus a usage hint (exit 2);
/// `--help` and `--version` go to stdout with exit 0.
fn clap_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind as K;
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            }
        }
        K::UnknownArgument => {
            let flag = match e.get(clap::error::ContextKind::InvalidArg) {
                Some(clap::error::ContextValue::String(f)) => f.clone(),
                _ => String::new(),
            };
            let command = std::env::args().nth(1);
            match foreign_flags::hint(command.as_deref(), &flag) {
                Some(hint) => {
                    let name = flag.split_once('=').map_or(flag.as_str(), |(n, _)| n);
                    CliError::usage(format!("unexpected argument '{name}'"))
                        .with_hint(hint)
                        .report()
                }
                None => clap_usage_error(e),
            }
        }
        _ => clap_usage_error(e),
    }
}

/// clap's message reduced to one `error:` line, with its possible values, tip and usage as hints.
fn clap_usage_error(e: clap::Error) -> i32 {
    let rendered = e.render().to_string();
    // clap puts details on indented lines under the first: the missing arguments
    // after "…were not provided:", and "[possible values: …]".
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let mut first = lines
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    let mut possible = None;
    for detail in lines.take_while(|l| !l.trim().is_empty()).map(str::trim) {
        if let Some(values) = detail.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            possible = Some(values.to_string());
        } else if first.ends_with(':') || first.ends_with(',') {
            first = format!("{first} {detail}");
        }
    }
    let tip = rendered
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("tip: "))
        .map(|l| l.trim_start_matches("tip: ").to_string());
    let usage = rendered
        .lines()
        .find(|l| l.starts_with("Usage: "))
        .map(|l| l.trim_start_matches("Usage: ").to_string());
    let mut err = CliError::usage(first);
    if let Some(p) = possible {
        err = err.with_hint(p);
    }
    if let Some(t) = tip {
        err = err.with_hint(t);
    }
    if let Some(u) = usage {
        err = err.with_hint(format!("usage: {u} (see --help)"));
    }
    err.report()
}

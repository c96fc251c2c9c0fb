//! The `xoev-router` command line: one binary, one subcommand per task.
//!
//! Every failure exits non-zero with a one-line cause on stderr. `verify` and `validate` exit 1
//! when the document is invalid and 2 when they cannot run (bad arguments, unreadable files,
//! a schema that does not compile).

/// `println!` for command output, which may go to a pipe whose reader left early
/// (`xoev-router dead list | head`). That is not our error: the rest of the output is dropped
/// instead of panicking with "failed printing to stdout", and the exit status stays the
/// command's own.
macro_rules! say {
    () => {
        say!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod admin_client;
mod operator;
mod serve_cmd;
mod sign;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "xoev-router",
    version,
    about = "Interstate secure message router for signed XÖV messages"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the router (on the embedded development configuration unless --config is given).
    Serve {
        /// Configuration file (TOML). Without it, the embedded development default is used.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override `router.data_dir`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Override `public.listen`, e.g. `0.0.0.0:8443` in a container.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Override `admin.listen` (it must stay a loopback address).
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<SocketAddr>,
    },
    /// Sign an XML document: appends an enveloped XML signature to the root element.
    Sign {
        /// PKCS#8 private key (PEM "PRIVATE KEY").
        #[arg(long)]
        key: PathBuf,
        /// Certificate (PEM) to put into KeyInfo; the verifier needs it to find the trusted key.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Canonicalization: exclusive (default) or inclusive.
        #[arg(long, default_value = "exclusive")]
        c14n: String,
        /// Digest: sha256 (default), sha384, sha512.
        #[arg(long, default_value = "sha256")]
        digest: String,
        /// Reference the root by its Id attribute (URI="#id") instead of URI="".
        #[arg(long)]
        id_reference: bool,
        /// The document to sign; the signed document goes to standard output.
        input: PathBuf,
    },
    /// Verify the XML signature of a document against trusted certificates.
    Verify {
        /// A PEM certificate file, or a directory of them (*.crt, *.pem), to trust.
        #[arg(long)]
        trust: PathBuf,
        input: PathBuf,
    },
    /// Validate a document against an XSD (exit 0 valid, 1 invalid, 2 schema error).
    Validate {
        /// The root XSD.
        #[arg(long)]
        schema: PathBuf,
        /// OASIS XML catalog mapping absolute import URLs to local files.
        #[arg(long)]
        catalog: Option<PathBuf>,
        file: PathBuf,
    },
    /// Generate a development PKI (never for production).
    Certs {
        /// Output directory.
        #[arg(long, default_value = "dev-pki")]
        out: PathBuf,
        /// Identity (DNS name) of the router certificate.
        #[arg(long, default_value = "dev.xoev-router.local")]
        router_id: String,
    },
    /// Router overview: readiness and queue depths (exit 0 ready, 1 not ready, 2 no answer).
    Status {
        #[command(flatten)]
        admin: AdminArg,
    },
    /// Queue depths per destination.
    Queue {
        #[command(flatten)]
        admin: AdminArg,
    },
    /// Dead letters: list, show, replay, purge.
    Dead {
        #[command(subcommand)]
        action: DeadAction,
        #[command(flatten)]
        admin: AdminArg,
    },
    /// Routing: which destination a reader and message type resolve to; reload the directory.
    Routes {
        #[command(subcommand)]
        action: RoutesAction,
        #[command(flatten)]
        admin: AdminArg,
    },
    /// Values the queue moved aside because they failed their check (corruption): list them,
    /// or forget one once looked at.
    Quarantine {
        #[command(subcommand)]
        action: Option<QuarantineAction>,
        #[command(flatten)]
        admin: AdminArg,
    },
    /// Show one message's state and history.
    Message {
        id: String,
        #[command(flatten)]
        admin: AdminArg,
    },
}

#[derive(clap::Args, Debug)]
pub struct AdminArg {
    /// Base URL of the router's admin listener.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:9464",
        env = "XOEV_ROUTER_ADMIN"
    )]
    pub admin: String,
}

#[derive(Subcommand, Debug)]
pub enum DeadAction {
    /// List dead letters (oldest first).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show a dead letter with its reason and full attempt history.
    Show { id: String },
    /// Queue a dead letter again (attempts start over).
    Replay { id: String },
    /// Delete a dead letter for good.
    Purge { id: String },
}

#[derive(Subcommand, Debug)]
pub enum QuarantineAction {
    /// List the quarantined values (the default).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Remove one value for good, so a damaged payload's segment file can be reclaimed.
    Forget {
        /// The tree, as listed (e.g. payloads).
        tree: String,
        /// The key in hex, as listed.
        key: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RoutesAction {
    /// Resolve a reader kennung (and optional message type) to its destination.
    Resolve {
        leser: String,
        #[arg(long)]
        nachrichtentyp: Option<String>,
    },
    /// Re-read the configuration (routes, senders, schemas) without restart.
    Reload,
}

/// Runs the command; the binary's `main` only parses arguments and calls this.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            listen,
            admin_listen,
        } => serve_cmd::run(
            config,
            serve_cmd::Overrides {
                data_dir,
                listen,
                admin_listen,
            },
        ),
        Command::Sign {
            key,
            cert,
            c14n,
            digest,
            id_reference,
            input,
        } => sign::sign(&key, cert.as_deref(), &c14n, &digest, id_reference, &input),
        Command::Verify { trust, input } => sign::verify(&trust, &input),
        Command::Validate {
            schema,
            catalog,
            file,
        } => sign::validate(&schema, catalog.as_deref(), &file),
        Command::Certs { out, router_id } => match crate::pki::generate(&out, &router_id) {
            Ok(()) => {
                say!("development PKI written to {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        Command::Status { admin } => operator::status(&admin.admin),
        Command::Queue { admin } => operator::queue(&admin.admin),
        Command::Dead { action, admin } => operator::dead(&admin.admin, action),
        Command::Routes { action, admin } => operator::routes(&admin.admin, action),
        Command::Quarantine { action, admin } => operator::quarantine(
            &admin.admin,
            action.unwrap_or(QuarantineAction::List { limit: 100 }),
        ),
        Command::Message { id, admin } => operator::message(&admin.admin, &id),
    }
}

/// Prints a one-line cause and returns exit status 2 (the command could not do its job).
pub fn fail(cause: &str) -> ExitCode {
    eprintln!("xoev-router: {}", cause.lines().next().unwrap_or(cause));
    ExitCode::from(2)
}

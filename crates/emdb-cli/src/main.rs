//! `emdb`: inspect, verify, repair and edit emdb databases from the command line.
//!
//! Every error is one line on stderr starting with `emdb: ` and a non-zero exit status; `verify`
//! exits 0 for a clean file, 1 for corruption and 2 when the file cannot be read.
#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit,
    reason = "command-line tool: it reports on the terminal and exits with a status"
)]

mod admin;
mod demo;
mod dump;
mod encoding;
mod kv;
mod migrate;
mod progress;
mod secrets;
mod stat;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::encoding::Format;

#[derive(Parser)]
#[command(
    name = "emdb",
    version,
    about = "Inspect, verify, repair and edit emdb databases"
)]
struct Cli {
    /// No progress bars (they are also hidden when stdout is not a terminal).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Header, frame counts by kind, live records per namespace, sizes, garbage ratio, snapshot.
    Stat {
        /// Database file.
        path: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Walk every frame with the format layer alone and report each problem with its offset.
    Verify {
        /// Database file.
        path: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy every intact record into a fresh file; the original is kept beside it.
    Repair {
        /// Database file.
        path: PathBuf,
    },
    /// Print the value of a key.
    Get {
        /// Database file.
        path: PathBuf,
        /// Key (as text, or hex with `--key-format hex`).
        key: String,
        /// Namespace (default: the default namespace).
        #[arg(long)]
        ns: Option<String>,
        /// How to print the value.
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
        /// How to read the key argument.
        #[arg(long, value_enum, default_value_t = Format::Utf8)]
        key_format: Format,
    },
    /// Set a key to a value (durably).
    Put {
        /// Database file.
        path: PathBuf,
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Namespace.
        #[arg(long)]
        ns: Option<String>,
        /// How to read the key and value arguments.
        #[arg(long, value_enum, default_value_t = Format::Utf8)]
        input_format: Format,
    },
    /// Remove a key (durably). Exit 1 if it was absent.
    Del {
        /// Database file.
        path: PathBuf,
        /// Key.
        key: String,
        /// Namespace.
        #[arg(long)]
        ns: Option<String>,
        /// How to read the key argument.
        #[arg(long, value_enum, default_value_t = Format::Utf8)]
        key_format: Format,
    },
    /// List records, in key order.
    Scan {
        /// Database file.
        path: PathBuf,
        /// Namespace.
        #[arg(long)]
        ns: Option<String>,
        /// Only keys starting with this prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Only keys at or after this one.
        #[arg(long)]
        from: Option<String>,
        /// At most this many records.
        #[arg(long)]
        limit: Option<usize>,
        /// How to print keys and values.
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
    },
    /// Write records as `mdb_dump` text (readable by LMDB's `mdb_load`) or JSON lines.
    Dump {
        /// Database file.
        path: PathBuf,
        /// Namespace to dump (default: the default namespace).
        #[arg(long)]
        ns: Option<String>,
        /// Dump every namespace, one section each.
        #[arg(long, conflicts_with = "ns")]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = dump::DumpFormat::Bytevalue)]
        format: dump::DumpFormat,
    },
    /// Load `mdb_dump` text (bytevalue or print) or JSON lines from stdin or a file.
    Load {
        /// Database file (created if absent).
        path: PathBuf,
        /// Read this file instead of standard input.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Rewrite the file with only live records.
    Compact {
        /// Database file.
        path: PathBuf,
    },
    /// Write a consistent copy of the database to TARGET.
    Backup {
        /// Database file.
        path: PathBuf,
        /// Where to write the copy (replaced atomically).
        target: PathBuf,
    },
    /// Show who holds the database's lock, or break a dead holder's lock.
    Lock {
        /// Database file.
        path: PathBuf,
        /// Remove the lock files (only when the holder is dead).
        #[arg(long = "break")]
        break_lock: bool,
    },
    /// Read an emdb 0.8.5 database and write an equivalent one in the current format.
    Migrate {
        /// The 0.8.5 database.
        old: PathBuf,
        /// The new database (must not exist).
        new: PathBuf,
    },
    /// Encrypt a closed database in place (new secret from `EMDB_NEW_PASSPHRASE`, `EMDB_NEW_KEY` or
    /// a prompt).
    Encrypt {
        /// Database file.
        path: PathBuf,
    },
    /// Decrypt a closed database in place (secret from `EMDB_PASSPHRASE`, `EMDB_KEY` or a prompt).
    Decrypt {
        /// Database file.
        path: PathBuf,
    },
    /// Re-encrypt a closed database under a new secret, keeping its cipher.
    Rekey {
        /// Database file.
        path: PathBuf,
    },
    /// Create a database in a temporary directory, load a data set, and show stat, scan and
    /// verify on it.
    Demo {
        /// Records to load.
        #[arg(long, default_value_t = 200_000)]
        records: u64,
    },
}

/// An error for the user: one line, and the exit status.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) status: u8,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: 1,
        }
    }
}

impl From<emdb::Error> for Failure {
    fn from(e: emdb::Error) -> Self {
        // Library messages already start with "emdb: ".
        Failure {
            message: e.to_string().trim_start_matches("emdb: ").to_owned(),
            status: 1,
        }
    }
}

impl From<emdb_engine::EngineError> for Failure {
    fn from(e: emdb_engine::EngineError) -> Self {
        Failure::new(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new(format!("i/o error: {e}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = progress::Progress::new(cli.quiet);
    let result = match cli.command {
        Command::Stat { path, json } => stat::run(&path, json),
        Command::Verify { path, json } => verify::run(&path, json, &progress),
        Command::Repair { path } => admin::repair(&path, &progress),
        Command::Get {
            path,
            key,
            ns,
            format,
            key_format,
        } => kv::get(&path, ns.as_deref(), &key, key_format, format),
        Command::Put {
            path,
            key,
            value,
            ns,
            input_format,
        } => kv::put(&path, ns.as_deref(), &key, &value, input_format),
        Command::Del {
            path,
            key,
            ns,
            key_format,
        } => kv::del(&path, ns.as_deref(), &key, key_format),
        Command::Scan {
            path,
            ns,
            prefix,
            from,
            limit,
            format,
        } => kv::scan(
            &path,
            ns.as_deref(),
            prefix.as_deref(),
            from.as_deref(),
            limit,
            format,
        ),
        Command::Dump {
            path,
            ns,
            all,
            format,
        } => dump::dump(&path, ns.as_deref(), all, format),
        Command::Load { path, input } => dump::load(&path, input.as_deref(), &progress),
        Command::Compact { path } => admin::compact(&path, &progress),
        Command::Backup { path, target } => admin::backup(&path, &target, &progress),
        Command::Lock { path, break_lock } => admin::lock(&path, break_lock),
        Command::Migrate { old, new } => migrate::run(&old, &new, &progress),
        Command::Encrypt { path } => admin::encrypt(&path, &progress),
        Command::Decrypt { path } => admin::decrypt(&path, &progress),
        Command::Rekey { path } => admin::rekey(&path, &progress),
        Command::Demo { records } => demo::run(records, &progress),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("emdb: {}", f.message.lines().next().unwrap_or_default());
            }
            ExitCode::from(f.status)
        }
    }
}

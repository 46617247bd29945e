//! `panah`: one binary for the hub and for the people around it.
//!
//! - `serve`, `demo`: run a hub (operator).
//! - `admin`: manage collectives and coordinators' public keys on the hub's host (operator).
//! - `id`: create and read a coordinator's keyring (coordinator, on their own device).
//! - `team`, `profile`: talk to a hub's API as a coordinator, signing with the keyring.
//! - `ledger`: keep the collective's fund ledger (coordinator; signs checkpoints).
//! - `needs`, `cases`, `summary`, `sync`: the encrypted tracker (coordinator).
//! - `panic`: erase Panah from this device.
//! - `verify`, `mirror`: check and copy a ledger (anyone; no keyring).
//!
//! Secret keys are handled only by `id` and the API client, never by `serve`.

#![forbid(unsafe_code)]

mod admin;
mod appeal_file;
mod backup;
mod client;
mod config;
mod demo;
mod demo_tracker;
mod desk;
mod id;
mod inbox;
mod ledger;
mod panic;
mod private;
mod profile;
mod serve;
mod team;
mod tracker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "panah",
    version,
    about = "Panah: a zero-knowledge solidarity hub",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the hub.
    Serve(config::ServeArgs),
    /// Run a demo hub with a sample collective and a coordinator keyring.
    Demo(demo::DemoArgs),
    /// Operator commands, run on the hub's host against its database.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Copy a running hub (database and blobs, SQLite or PostgreSQL) to a folder or a .tar
    /// file, in one consistent snapshot. Only what the hub holds: ciphertext and public data.
    Backup(backup::BackupArgs),
    /// Make a new hub from a backup, on SQLite or PostgreSQL, after checking every file.
    Restore(backup::RestoreArgs),
    /// A coordinator's keyring: create it, show its public line, export the age identity.
    #[command(subcommand)]
    Id(id::IdCommand),
    /// The contact drop's inbox: read, reply, export and delete conversations.
    Inbox(inbox::InboxArgs),
    /// The fund ledger: start it, add entries, reverse mistakes, set goals (coordinators).
    Ledger(ledger::LedgerArgs),
    /// Check a ledger or a donation receipt yourself (anyone).
    #[command(subcommand)]
    Verify(ledger::VerifyCommand),
    /// Keep a verified copy of a ledger that any web server can serve (anyone).
    #[command(subcommand)]
    Mirror(ledger::MirrorCommand),
    /// The collective's team as its signed log shows it; add or remove coordinators.
    Team(team::TeamArgs),
    /// Members' needs (food, power, medicine, documents…), encrypted for the team only.
    Needs(tracker::NeedsArgs),
    /// Members' paths to safety through lawful and humanitarian routes (visas, referrals,
    /// family reunion), encrypted for the team only. Not for irregular border crossings.
    Cases(tracker::CasesArgs),
    /// What needs and cases add up to, computed on this device.
    Summary(tracker::SummaryArgs),
    /// Send and receive needs and cases; re-wrap them after a coordinator was removed.
    Sync(tracker::SyncArgs),
    /// Erase your keyring, the tracker's cache and Panah's saved settings from this device
    /// now. No passphrase and no network needed.
    Panic(panic::PanicArgs),
    /// The coordinators' desk: inbox, books, needs and cases in your browser, served from
    /// this device on 127.0.0.1 only (the keyring stays in this program's memory).
    Desk(desk::DeskArgs),
    /// Saved hub and collective settings, so other commands need fewer options.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Admin(cmd) => admin::run(cmd).await,
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
            Command::Id(cmd) => id::run(cmd),
            Command::Team(args) => team::run(args).await,
            Command::Inbox(args) => inbox::run(args).await,
            Command::Profile(cmd) => profile::run(cmd),
            Command::Needs(args) => tracker::needs(args).await,
            Command::Cases(args) => tracker::cases(args).await,
            Command::Summary(args) => tracker::summary(args).await,
            Command::Sync(args) => tracker::sync(args).await,
            Command::Panic(args) => panic::run(args),
            Command::Desk(args) => desk::run(args).await,
            Command::Ledger(args) => ledger::run(args).await,
            Command::Verify(cmd) => ledger::verify(cmd).await,
            Command::Mirror(cmd) => ledger::mirror(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An error may carry a hub's or a mirror's own words: shown, never obeyed.
            eprintln!("{}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `panah needs list | head` closes the pipe early: the standard library then panics on
/// the next print. That is no error of the person's: end quietly, as other tools do, with
/// the status of a process stopped by SIGPIPE.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") && message.starts_with("failed printing to std") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// The last words of a failed command: the commonest failures in the reader's language
/// (from `PANAH_LANG` or `LANG`), the rest as the error says it, made safe to print.
fn error_line(e: &anyhow::Error) -> String {
    match tracker::Words::new(None) {
        Ok(words) => error_text(e, &words),
        Err(_) => format!(
            "error: {}",
            panah_client::terminal::sanitize(&format!("{e:#}"))
        ),
    }
}

/// An error in the reader's language: the commonest failures (a wrong passphrase, an
/// unreachable site) in plain words with the details after, others as they were said.
pub(crate) fn error_text(e: &anyhow::Error, words: &tracker::Words) -> String {
    let said = panah_client::terminal::sanitize(&format!("{e:#}"));
    let known = e.chain().find_map(|cause| {
        if let Some(panah_keyring::KeyringError::WrongPassphrase) = cause.downcast_ref() {
            return Some(words.t("cli-error-passphrase"));
        }
        match cause.downcast_ref::<panah_client::ClientError>() {
            Some(panah_client::ClientError::Unreachable { .. }) => {
                Some(words.t("cli-error-offline"))
            }
            _ => None,
        }
    });
    let prefix = words.t("cli-error-prefix");
    match known {
        // The details stay, for whoever helps: after the plain sentence.
        Some(plain) if words.lang != panah_core::Lang::English => {
            format!("{prefix} {plain}\n  ({said})")
        }
        _ => format!("{prefix} {said}"),
    }
}

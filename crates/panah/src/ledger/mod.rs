//! The fund ledger on the command line, from the coordinator's side (`panah ledger …`,
//! on `panah_client::ledger`) and from everyone else's (`panah verify …`, `panah mirror
//! …`, on `panah_client::verify`).
//!
//! Appending: the CLI first verifies the published ledger itself (the hub's checkpoint
//! against the team's keys, every tile, consistency with what this machine saw before),
//! adds the new entries to that tree, asks the hub which root it gets, refuses to sign if
//! the hub disagrees, then signs the checkpoint and sends entries and signature together.

pub mod check;
pub mod mirror;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use panah_client::ledger::draft::{self, Draft};
use panah_client::ledger::{self, Added};
use panah_client::terminal::sanitize;
use panah_client::{ClientError, Session};
use panah_core::ledger::{Currency, Kind};
use panah_keyring::Keyring;

use crate::client::HubArgs;

#[derive(Args, Debug)]
pub struct LedgerArgs {
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Start the collective's ledger (once) in its base currency. The hub names the log
    /// (HOST/c/SLUG/ledger).
    Init {
        /// ISO 4217 code of the currency totals and goals are kept in, e.g. AFN or USD.
        #[arg(long)]
        base: String,
    },
    /// Add one entry.
    Add(Box<AddArgs>),
    /// Cancel an earlier entry with a reversal (entries are never edited).
    Reverse {
        /// The number of the entry to cancel.
        index: u64,
        /// Why (public; never a name).
        #[arg(long, default_value = "correction")]
        memo: String,
        /// Date of the correction (YYYY-MM-DD; default today).
        #[arg(long)]
        date: Option<String>,
    },
    /// Add entries from a CSV file (columns: date, kind, category, amount, currency,
    /// base_amount, rail, memo, and optionally memo_fa, memo_ps, memo_en, precision,
    /// counter_amount, counter_currency, reverses, receipt).
    Import {
        file: std::path::PathBuf,
        /// Entries per signed checkpoint.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
        batch: u16,
        /// Add them even if a memo looks like a name, a phone or an ID number.
        #[arg(long)]
        anyway: bool,
    },
    /// Show the latest entries with their numbers (after verifying the ledger).
    List {
        /// How many of the latest entries.
        #[arg(long, default_value_t = 20)]
        last: usize,
    },
    /// Set the goals shown on the appeal: an overall target and per-need budgets, in the
    /// base currency. Replaces the previous goals.
    Goals {
        #[arg(long)]
        target: Option<String>,
        /// CATEGORY=AMOUNT, e.g. food=250000. May be repeated.
        #[arg(long = "budget", value_name = "CATEGORY=AMOUNT")]
        budgets: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// income, expense or exchange (corrections: `panah ledger reverse`).
    pub kind: String,
    /// The amount and its currency, e.g. "500 USD" (the base currency if left out).
    #[arg(long)]
    pub amount: String,
    /// The same amount in the base currency, at the rate you used.
    #[arg(long)]
    pub base: Option<String>,
    /// For an exchange: what came out on the other side, e.g. "39500 AFN".
    #[arg(long)]
    pub counter: Option<String>,
    #[arg(long)]
    pub category: String,
    /// bank, crypto, cash or transfer-agent.
    #[arg(long)]
    pub rail: String,
    /// A short public note. Never a name, a phone number or an ID number.
    #[arg(long, default_value = "")]
    pub memo: String,
    /// The note in Dari, shown to Dari readers instead of --memo.
    #[arg(long)]
    pub memo_fa: Option<String>,
    /// The note in Pashto, shown to Pashto readers instead of --memo.
    #[arg(long)]
    pub memo_ps: Option<String>,
    /// The note in English, shown to English readers instead of --memo.
    #[arg(long)]
    pub memo_en: Option<String>,
    /// YYYY-MM-DD (default today).
    #[arg(long)]
    pub date: Option<String>,
    /// How exactly the date is published: day, week or month (relocation, documents and
    /// medical expenses default to week).
    #[arg(long)]
    pub precision: Option<String>,
    /// Make a receipt code for the donor (income only); shown once.
    #[arg(long)]
    pub receipt: bool,
    /// Add it even if the memo looks like a name, a phone or an ID number.
    #[arg(long)]
    pub anyway: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum VerifyCommand {
    /// Check a ledger: signatures, every entry and hash, consistency with your last check,
    /// and the totals.
    Ledger(check::VerifyLedgerArgs),
    /// Check on your own machine that a gift with this receipt code is in the ledger.
    Receipt(check::VerifyReceiptArgs),
}

#[derive(clap::Subcommand, Debug)]
pub enum MirrorCommand {
    /// Copy a ledger into a folder any web server can serve, refusing inconsistent updates.
    Ledger(mirror::MirrorArgs),
}

pub async fn verify(cmd: VerifyCommand) -> anyhow::Result<()> {
    match cmd {
        VerifyCommand::Ledger(a) => check::verify_ledger(a).await,
        VerifyCommand::Receipt(a) => check::verify_receipt(a).await,
    }
}

pub async fn mirror(cmd: MirrorCommand) -> anyhow::Result<()> {
    match cmd {
        MirrorCommand::Ledger(a) => mirror::run(a).await,
    }
}

fn print_receipts(added: &Added) {
    let (entries, first_index) = (&added.entries, added.first);
    for (i, (e, code)) in entries.iter().enumerate() {
        if let Some(code) = code {
            println!(
                "receipt code for entry {} ({} {}): {}",
                first_index + i as u64,
                e.amount.decimal(),
                e.amount.currency(),
                code.grouped()
            );
        }
    }
    if entries.iter().any(|(_, c)| c.is_some()) {
        println!("Give each code to its donor now, by a safe channel; it is not stored anywhere and cannot be shown again.");
    }
}

fn warn_timing(added: &Added) {
    if added.timing_visible() {
        eprintln!(
            "note: the hub keeps and shows the new checkpoint's date only to the week or month, like these entries, but anyone watching the ledger can see the day it changed. If that day matters, add them later together with others."
        );
    }
}

/// Shows memo warnings that were passed over, or explains a refusal because of them.
fn memo_refusal(e: ClientError, flag: &str) -> anyhow::Error {
    if let ClientError::MemoWarnings(warnings) = &e {
        for w in warnings {
            eprintln!("warning: {}", sanitize(w));
        }
        anyhow::anyhow!("{e} ({flag})")
    } else {
        e.into()
    }
}

fn show_warnings(added: &Added) {
    for w in &added.warnings {
        eprintln!("warning: {}", sanitize(w));
    }
    if !added.warnings.is_empty() {
        eprintln!("adding anyway (--anyway)");
    }
}

pub async fn run(args: LedgerArgs) -> anyhow::Result<()> {
    let (session, keyring) = args.hub.login_keeping_keyring().await?;
    let result = run_logged_in(&session, &keyring, args.command).await;
    session.logout().await;
    result
}

async fn run_logged_in(
    session: &Session,
    keyring: &Keyring,
    command: LedgerCommand,
) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Init { base } => {
            let base = Currency::parse(&base)?;
            let team = crate::team::verified(session, keyring).await?;
            let started = ledger::init(session, keyring, &team, base).await?;
            println!("ok: started the ledger {} in {base}", started.origin);
            println!("Verifier key (give it to supporters who will check the ledger):");
            println!("  {}", started.verifier_key);
            Ok(())
        }
        LedgerCommand::Add(a) => {
            let kind = Kind::parse(&a.kind).filter(|k| *k != Kind::Reversal).with_context(|| {
                format!("{:?} is not income, expense or exchange (to correct an entry: panah ledger reverse N)", a.kind)
            })?;
            let draft = Draft {
                date: a.date.unwrap_or_default(),
                kind: kind.word().into(),
                category: a.category,
                amount: a.amount,
                currency: String::new(),
                base_amount: a.base.unwrap_or_default(),
                precision: a.precision.unwrap_or_default(),
                counter_amount: a.counter.unwrap_or_default(),
                counter_currency: String::new(),
                reverses: String::new(),
                rail: a.rail,
                memo: a.memo,
                memo_fa: a.memo_fa.unwrap_or_default(),
                memo_ps: a.memo_ps.unwrap_or_default(),
                memo_en: a.memo_en.unwrap_or_default(),
                receipt: if a.receipt {
                    "yes".into()
                } else {
                    String::new()
                },
            };
            let team = crate::team::verified(session, keyring).await?;
            let added = ledger::add(session, keyring, &[draft], &team, 1, a.anyway)
                .await
                .map_err(|e| memo_refusal(e, "pass --anyway if you are sure"))?;
            show_warnings(&added);
            warn_timing(&added);
            println!(
                "ok: entry {} added and signed; the ledger has {} entries",
                added.first, added.size
            );
            print_receipts(&added);
            Ok(())
        }
        LedgerCommand::Reverse { index, memo, date } => {
            let date = date.as_deref().map(draft::parse_date).transpose()?;
            let team = crate::team::verified(session, keyring).await?;
            let added = ledger::reverse(session, keyring, &team, index, memo, date)
                .await
                .map_err(|e| memo_refusal(e, "reword it"))?;
            println!("ok: entry {} cancels entry {index}", added.first);
            Ok(())
        }
        LedgerCommand::Import {
            file,
            batch,
            anyway,
        } => {
            let meta = std::fs::metadata(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if meta.len() > draft::MAX_CSV {
                bail!(
                    "{} is larger than {} bytes; split it",
                    file.display(),
                    draft::MAX_CSV
                );
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
            let drafts = draft::read_csv(&text).with_context(|| file.display().to_string())?;
            let team = crate::team::verified(session, keyring).await?;
            let added = ledger::add(session, keyring, &drafts, &team, usize::from(batch), anyway)
                .await
                .map_err(|e| match e {
                    ClientError::Invalid(why) => {
                        anyhow::anyhow!("{}: {why}", file.display())
                    }
                    e => memo_refusal(e, "pass --anyway if you are sure"),
                })?;
            show_warnings(&added);
            warn_timing(&added);
            println!(
                "ok: {} entries added ({} checkpoints); the ledger has {}",
                added.entries.len(),
                added.checkpoints,
                added.size
            );
            print_receipts(&added);
            Ok(())
        }
        LedgerCommand::List { last } => {
            let team = crate::team::verified(session, keyring).await?;
            let synced = ledger::sync(session, &team).await?;
            let n = synced.entries.len();
            println!(
                "{} — {n} entries, verified against the signed checkpoint",
                sanitize(&synced.origin)
            );
            for (i, e) in synced
                .entries
                .iter()
                .enumerate()
                .skip(n.saturating_sub(last))
            {
                let reversed = if synced.entries.iter().any(|r| r.reverses == Some(i as u64)) {
                    " (reversed)"
                } else {
                    ""
                };
                println!(
                    "{i}\t{} {}\t{} {}\t{} {}\t{}\t{:?}{reversed}",
                    e.date,
                    e.precision.word(),
                    e.kind.word(),
                    e.category.word(),
                    e.amount.decimal(),
                    e.amount.currency(),
                    e.rail.word(),
                    e.memo
                );
            }
            Ok(())
        }
        LedgerCommand::Goals { target, budgets } => {
            ledger::set_goals(session, target.as_deref(), &budgets).await?;
            println!("ok: goals set");
            Ok(())
        }
    }
}

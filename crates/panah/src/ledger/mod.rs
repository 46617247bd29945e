//! The fund ledger from the coordinator's side (`panah ledger …`) and from everyone else's
//! (`panah verify …`, `panah mirror …`).
//!
//! Appending: the CLI first verifies the published ledger itself (the hub's checkpoint
//! against the team's keys, every tile, consistency with what this machine saw before),
//! adds the new entries to that tree, asks the hub which root it gets, refuses to sign if
//! the hub disagrees, then signs the checkpoint and sends entries and signature together.

pub mod check;
pub mod draft;
pub mod mirror;
pub mod source;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use panah_api::{Batch, CreateLedger, Goals, LedgerInfo, TreeHead};
use panah_core::ledger::entry::check_against;
use panah_core::ledger::receipt::ReceiptCode;
use panah_core::ledger::{Amount, Category, Currency, Entry, Kind};
use panah_core::tlog::check::b64;
use panah_core::tlog::tree::{verifier_key, Tree};
use panah_core::tlog::LogKind;
use panah_keyring::Keyring;

use crate::client::{HubArgs, Session};
use check::State;
use draft::Draft;
use source::Source;

#[derive(Args, Debug)]
pub struct LedgerArgs {
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Start the collective's ledger (once): its base currency and log origin.
    Init {
        /// ISO 4217 code of the currency totals and goals are kept in, e.g. AFN or USD.
        #[arg(long)]
        base: String,
        /// The log's name in checkpoints (default: HOST/c/SLUG/ledger from --hub).
        #[arg(long)]
        origin: Option<String>,
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

/// The published ledger as this coordinator verified it, ready to extend.
struct Synced {
    origin: String,
    base: Currency,
    tree: Tree,
    entries: Vec<Entry>,
    keys: Vec<String>,
    state_path: std::path::PathBuf,
}

fn api(session: &Session, rest: &str) -> String {
    format!("/api/v1/c/{}/ledger{rest}", session.collective)
}

async fn sync(session: &Session) -> anyhow::Result<Synced> {
    let info: LedgerInfo = session.get(&api(session, "")).await?;
    let base = Currency::parse(&info.base_currency)?;
    let team = session.team().await?;
    let mut keys = Vec::new();
    for m in &team.coordinators {
        let key =
            panah_core::CoordinatorKey::from_parts(&m.recipient, &m.signing_key).map_err(|e| {
                anyhow::anyhow!("the hub lists a coordinator key that does not parse: {e}")
            })?;
        keys.push(verifier_key(&info.origin, key.signing()));
    }
    let source = Source::parse(
        &format!("{}/c/{}/ledger", session.base(), session.collective),
        LogKind::Ledger,
    )?;
    let state_path = check::default_state_path(&info.origin)?;
    let state = State::load(&state_path)?;
    for k in state.iter().flat_map(|s| &s.keys) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let note = source.checkpoint().await?;
    let v = check::check(
        &source,
        &info.origin,
        note,
        &keys,
        state.map(|s| (s.size, s.root)),
    )
    .await
    .context("the hub's ledger does not verify; nothing was signed")?;
    if v.checkpoint.size != info.size {
        bail!("the ledger changed while it was being checked; run the command again");
    }
    Ok(Synced {
        origin: info.origin,
        base,
        tree: v.log.tree,
        entries: v.log.entries,
        keys,
        state_path,
    })
}

/// Appends `entries` in batches: for each, the hub's root must equal ours before we sign.
async fn publish(
    session: &Session,
    keyring: &Keyring,
    synced: &mut Synced,
    entries: &[Entry],
    batch: usize,
) -> anyhow::Result<()> {
    for chunk in entries.chunks(batch.max(1)) {
        let base_size = synced.tree.size();
        let mut tree = synced.tree.clone();
        let texts: Vec<String> = chunk
            .iter()
            .map(|e| {
                let leaf = e.to_leaf();
                tree.push(&leaf);
                // Leaves are built from `String` fields and ASCII, so always UTF-8.
                String::from_utf8_lossy(&leaf).into_owned()
            })
            .collect();
        let ours = (tree.size(), tree.root());
        let hub: TreeHead = session
            .send_json(
                reqwest::Method::POST,
                &api(session, "/prepare"),
                &Batch {
                    base_size,
                    entries: texts.clone(),
                    checkpoint: None,
                },
            )
            .await?;
        if (hub.size, hub.root.as_str()) != (ours.0, b64(&ours.1).as_str()) {
            bail!(
                "refused to sign: the hub says these entries make a tree of {} entries with root {}, but here they make {} with root {}",
                hub.size,
                hub.root,
                ours.0,
                b64(&ours.1)
            );
        }
        let note = keyring.sign_checkpoint(&synced.origin, &synced.origin, ours.0, &ours.1)?;
        let note = String::from_utf8(note).context("a signed note is text")?;
        let _: TreeHead = session
            .send_json(
                reqwest::Method::POST,
                &api(session, "/append"),
                &Batch {
                    base_size,
                    entries: texts,
                    checkpoint: Some(note),
                },
            )
            .await?;
        synced.tree = tree;
        synced.entries.extend(chunk.iter().cloned());
        State {
            origin: synced.origin.clone(),
            keys: synced.keys.clone(),
            size: ours.0,
            root: ours.1,
            checked: panah_core::Timestamp::now(),
        }
        .save(&synced.state_path)?;
    }
    Ok(())
}

fn money(text: &str, default: Currency) -> anyhow::Result<Amount> {
    let text = text.trim();
    let (number, currency) = match text.rsplit_once(' ') {
        Some((n, c)) if c.chars().all(|c| c.is_ascii_alphabetic()) => (n, Currency::parse(c)?),
        _ => (text, default),
    };
    Ok(Amount::parse(number, currency)?)
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Refuses entries whose memo looks like it names someone, unless told to go ahead.
fn check_memos(entries: &[(Entry, Option<ReceiptCode>)], anyway: bool) -> anyhow::Result<()> {
    let warnings = draft::warnings(entries, 1);
    if warnings.is_empty() {
        return Ok(());
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if anyway {
        eprintln!("adding anyway (--anyway)");
        Ok(())
    } else {
        bail!("the ledger is public and permanent: nothing in it may identify a person. Reword the memo, or pass --anyway if you are sure")
    }
}

fn print_receipts(entries: &[(Entry, Option<ReceiptCode>)], first_index: u64) {
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

fn warn_timing(entries: &[Entry]) {
    if entries
        .iter()
        .any(|e| e.precision != panah_core::ledger::DatePrecision::Day)
    {
        eprintln!(
            "note: the hub keeps and shows the new checkpoint's date only to the week or month, like these entries, but anyone watching the ledger can see the day it changed. If that day matters, add them later together with others."
        );
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
        LedgerCommand::Init { base, origin } => {
            let base = Currency::parse(&base)?;
            let origin = match origin {
                Some(o) => o,
                None => {
                    let host = session
                        .base()
                        .split("://")
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    format!("{host}/c/{}/ledger", session.collective)
                }
            };
            panah_core::tlog::tree::check_origin(&origin)?;
            let note = keyring.sign_checkpoint(&origin, &origin, 0, &Tree::new().root())?;
            let note = String::from_utf8(note).context("a signed note is text")?;
            let _: LedgerInfo = session
                .send_json(
                    reqwest::Method::POST,
                    &api(session, ""),
                    &CreateLedger {
                        origin: origin.clone(),
                        base_currency: base.code().to_owned(),
                        checkpoint: note,
                    },
                )
                .await?;
            println!("ok: started the ledger {origin} in {base}");
            println!("Verifier key (give it to supporters who will check the ledger):");
            println!(
                "  {}",
                verifier_key(&origin, &keyring.public().signing().to_owned())
            );
            Ok(())
        }
        LedgerCommand::Add(a) => {
            let mut synced = sync(session).await?;
            let kind = Kind::parse(&a.kind).filter(|k| *k != Kind::Reversal).with_context(|| {
                format!("{:?} is not income, expense or exchange (to correct an entry: panah ledger reverse N)", a.kind)
            })?;
            let amount = money(&a.amount, synced.base)?;
            let counter = a
                .counter
                .as_deref()
                .map(|c| money(c, synced.base))
                .transpose()?;
            let draft = Draft {
                date: a.date.unwrap_or_default(),
                kind: kind.word().into(),
                category: a.category,
                amount: amount.decimal(),
                currency: amount.currency().code().into(),
                base_amount: a.base.unwrap_or_default(),
                precision: a.precision.unwrap_or_default(),
                counter_amount: counter.map(|c| c.decimal()).unwrap_or_default(),
                counter_currency: counter
                    .map(|c| c.currency().code().to_owned())
                    .unwrap_or_default(),
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
            let made = draft.to_entry(synced.base, &session.fingerprint, today())?;
            check_memos(std::slice::from_ref(&made), a.anyway)?;
            let index = synced.tree.size();
            publish(
                session,
                keyring,
                &mut synced,
                std::slice::from_ref(&made.0),
                1,
            )
            .await?;
            warn_timing(std::slice::from_ref(&made.0));
            println!(
                "ok: entry {index} added and signed; the ledger has {} entries",
                synced.tree.size()
            );
            print_receipts(std::slice::from_ref(&made), index);
            Ok(())
        }
        LedgerCommand::Reverse { index, memo, date } => {
            let mut synced = sync(session).await?;
            let target = usize::try_from(index)
                .ok()
                .and_then(|i| synced.entries.get(i))
                .with_context(|| {
                    format!(
                        "there is no entry {index}; the ledger has {}",
                        synced.entries.len()
                    )
                })?
                .clone();
            let date = date
                .as_deref()
                .map(draft::parse_date)
                .transpose()?
                .unwrap_or_else(today);
            let reversal = Entry {
                kind: Kind::Reversal,
                date: target.precision.coarsen(date),
                reverses: Some(index),
                memo,
                translations: Default::default(),
                receipt: None,
                coordinator: session.fingerprint.clone(),
                ..target
            };
            reversal.validate(synced.base)?;
            check_against(&synced.entries, &reversal)?;
            check_memos(&[(reversal.clone(), None)], false)?;
            publish(
                session,
                keyring,
                &mut synced,
                std::slice::from_ref(&reversal),
                1,
            )
            .await?;
            println!("ok: entry {} cancels entry {index}", synced.tree.size() - 1);
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
            let drafts = draft::read_csv(&text)?;
            let mut synced = sync(session).await?;
            let mut made = Vec::with_capacity(drafts.len());
            let mut log = synced.entries.clone();
            for (i, d) in drafts.iter().enumerate() {
                let row = || format!("row {} of {}", i + 2, file.display());
                let (e, code) = d
                    .to_entry(synced.base, &session.fingerprint, today())
                    .with_context(row)?;
                check_against(&log, &e).with_context(row)?;
                log.push(e.clone());
                made.push((e, code));
            }
            check_memos(&made, anyway)?;
            let first = synced.tree.size();
            let entries: Vec<Entry> = made.iter().map(|(e, _)| e.clone()).collect();
            publish(session, keyring, &mut synced, &entries, usize::from(batch)).await?;
            warn_timing(&entries);
            println!(
                "ok: {} entries added ({} checkpoints); the ledger has {}",
                entries.len(),
                entries.len().div_ceil(usize::from(batch)),
                synced.tree.size()
            );
            print_receipts(&made, first);
            Ok(())
        }
        LedgerCommand::List { last } => {
            let synced = sync(session).await?;
            let n = synced.entries.len();
            println!(
                "{} — {n} entries, verified against the signed checkpoint",
                synced.origin
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
            let info: LedgerInfo = session.get(&api(session, "")).await?;
            let base = Currency::parse(&info.base_currency)?;
            let target = target
                .map(|t| Amount::parse(&t, base))
                .transpose()?
                .map(Amount::minor);
            let mut map = std::collections::BTreeMap::new();
            for b in budgets {
                let (c, v) = b
                    .split_once('=')
                    .with_context(|| format!("{b:?} is not CATEGORY=AMOUNT"))?;
                let category = Category::parse(c.trim())
                    .with_context(|| format!("{c:?} is not a category"))?;
                map.insert(category.word().to_owned(), Amount::parse(v, base)?.minor());
            }
            let _: LedgerInfo = session
                .send_json(
                    reqwest::Method::PUT,
                    &api(session, "/goals"),
                    &Goals {
                        target,
                        budgets: map,
                    },
                )
                .await?;
            println!("ok: goals set");
            Ok(())
        }
    }
}

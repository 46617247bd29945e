//! Verifying a ledger from anywhere: `panah verify ledger`, `panah verify receipt`, and the
//! check the coordinator's CLI runs before it signs anything.
//!
//! What the verifier remembers between runs (the state file, one per log origin): the keys
//! it trusts and the last checkpoint it checked. A new checkpoint must be signed by one of
//! those keys and its tree must extend the remembered one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_core::ledger::audit::{check_log, Checked};
use panah_core::ledger::money::decimal;
use panah_core::ledger::totals::Totals;
use panah_core::tlog::check::{b64, check_extends, MAX_CHECKED_SIZE};
use panah_core::tlog::tiles::{tiles_for, TileRef};
use panah_core::tlog::tree::{unverified_checkpoint, verify_checkpoint, VerifiedCheckpoint};
use panah_core::tlog::LogKind;
use panah_core::Timestamp;
use std::collections::HashMap;

use super::source::Source;

/// What a verifier remembers about one ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub origin: String,
    pub keys: Vec<String>,
    pub size: u64,
    pub root: [u8; 32],
    pub checked: Timestamp,
}

impl State {
    pub fn load(path: &Path) -> anyhow::Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let bad = || format!("{} is not a Panah ledger state file", path.display());
        let mut lines = text.lines();
        if lines.next() != Some("panah-ledger-state 1") {
            bail!(bad());
        }
        let (mut origin, mut keys, mut size, mut root, mut checked) =
            (None, Vec::new(), None, None, None);
        for line in lines {
            let (name, value) = line.split_once(' ').with_context(bad)?;
            match name {
                "origin" => origin = Some(value.to_owned()),
                "key" => keys.push(value.to_owned()),
                "size" => size = Some(value.parse::<u64>().ok().with_context(bad)?),
                "root" => {
                    let bytes = STANDARD.decode(value).ok().with_context(bad)?;
                    root = Some(<[u8; 32]>::try_from(bytes).ok().with_context(bad)?);
                }
                "checked" => checked = Some(Timestamp::parse(value).ok().with_context(bad)?),
                _ => bail!(bad()),
            }
        }
        Ok(Some(State {
            origin: origin.with_context(bad)?,
            keys,
            size: size.with_context(bad)?,
            root: root.with_context(bad)?,
            checked: checked.with_context(bad)?,
        }))
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = format!("panah-ledger-state 1\norigin {}\n", self.origin);
        for k in &self.keys {
            text.push_str(&format!("key {k}\n"));
        }
        text.push_str(&format!(
            "size {}\nroot {}\nchecked {}\n",
            self.size,
            b64(&self.root),
            self.checked
        ));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::files::write_atomic(path, text.as_bytes())
    }
}

/// Where the state for `origin` lives by default: `PANAH_LEDGER_STATE_DIR`, else
/// `panah/ledgers` in the user's data folder.
pub fn default_state_path(origin: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("PANAH_LEDGER_STATE_DIR") {
        Some(d) => PathBuf::from(d),
        None => dirs::data_dir()
            .context("cannot find your data folder; pass --state FILE")?
            .join("panah")
            .join("ledgers"),
    };
    let name: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(dir.join(format!("{name}.state")))
}

/// Verifier-key lines from a keys file (blank lines and `#` comments skipped).
pub fn key_lines(text: &[u8]) -> anyhow::Result<Vec<String>> {
    let text = std::str::from_utf8(text).context("the keys file is not text")?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// A ledger that verified.
pub struct Verified {
    pub checkpoint: VerifiedCheckpoint,
    pub note: Vec<u8>,
    pub log: Checked,
    /// Tiles fetched from the source (the rest were reused).
    pub downloaded: usize,
}

/// Checks `note` against `trusted` keys, downloads every tile of its tree from `source`,
/// audits them, and checks the tree extends `previous` (size, root).
pub async fn check(
    source: &Source,
    origin: &str,
    note: Vec<u8>,
    trusted: &[String],
    previous: Option<(u64, [u8; 32])>,
) -> anyhow::Result<Verified> {
    check_reusing(source, origin, note, trusted, previous, HashMap::new()).await
}

/// [`check`], downloading only the tiles not already in `have` (a mirror's full tiles:
/// a full tile never changes). Everything is checked against the new signed root, the
/// reused tiles included.
pub async fn check_reusing(
    source: &Source,
    origin: &str,
    note: Vec<u8>,
    trusted: &[String],
    previous: Option<(u64, [u8; 32])>,
    mut have: HashMap<TileRef, Vec<u8>>,
) -> anyhow::Result<Verified> {
    let checkpoint = verify_checkpoint(&note, trusted, origin).map_err(|e| match e {
        panah_core::tlog::tree::LogError::Untrusted => anyhow::anyhow!(
            "the checkpoint of {source} is not signed by any key you trust ({} keys). If the collective added a coordinator, check the new key with them another way and pass it with --key",
            trusted.len()
        ),
        other => anyhow::anyhow!("the checkpoint of {source} does not verify: {other}"),
    })?;
    if checkpoint.size > MAX_CHECKED_SIZE {
        bail!(
            "the checkpoint of {source} claims {} entries; this Panah checks at most {}",
            checkpoint.size,
            MAX_CHECKED_SIZE
        );
    }
    let all = tiles_for(checkpoint.size);
    let wanted: Vec<TileRef> = all
        .iter()
        .filter(|t| !have.contains_key(t))
        .copied()
        .collect();
    let needed: std::collections::HashSet<&TileRef> = all.iter().collect();
    have.retain(|t, _| needed.contains(t));
    let downloaded = wanted.len();
    have.extend(source.tiles(&wanted).await?);
    let files = have;
    let log = check_log(checkpoint.size, &checkpoint.root, &files).with_context(|| {
        format!(
            "{source} does not match its signed checkpoint ({} entries)",
            checkpoint.size
        )
    })?;
    if let Some((size, root)) = previous {
        check_extends(&log.tree, size, &root)
            .with_context(|| format!("{source} is not consistent with what you checked before"))?;
    }
    Ok(Verified {
        checkpoint,
        note,
        log,
        downloaded,
    })
}

/// What `verify` and `mirror` share: read the checkpoint, decide which keys to trust (the
/// ones remembered and given, or on first use the ones the source publishes), check.
pub struct Session {
    pub source: Source,
    pub origin: String,
    pub state_path: PathBuf,
    pub state: Option<State>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// A coordinator's verifier key (`name+hash+base64`) to trust, as the collective gave
    /// it to you. May be repeated. Without any, the first run trusts the keys the ledger
    /// publishes and remembers them.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// The state file (keys trusted and the last checkpoint checked).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The log origin to expect (refuses a checkpoint for another log).
    #[arg(long)]
    pub origin: Option<String>,
}

impl Session {
    pub async fn open(address: &str, trust: &TrustArgs) -> anyhow::Result<(Session, Vec<u8>)> {
        let source = Source::parse(address, LogKind::Ledger)?;
        let note = source.checkpoint().await?;
        let (origin, _, _) = unverified_checkpoint(&note).map_err(|e| {
            anyhow::anyhow!("the checkpoint of {source} is not a C2SP checkpoint: {e}")
        })?;
        if let Some(expected) = &trust.origin {
            if *expected != origin {
                bail!("{source} serves the log {origin:?}, not {expected:?}");
            }
        }
        let state_path = match &trust.state {
            Some(p) => p.clone(),
            None => default_state_path(&origin)?,
        };
        let state = State::load(&state_path)?;
        if let Some(s) = &state {
            if s.origin != origin {
                bail!(
                    "{} remembers the log {:?}, but {source} serves {origin:?}; pass another --state",
                    state_path.display(),
                    s.origin
                );
            }
        }
        Ok((
            Session {
                source,
                origin,
                state_path,
                state,
            },
            note,
        ))
    }

    /// The keys to check with: remembered and given ones, or (first use) the published ones.
    pub async fn trusted(&self, given: &[String], quiet: bool) -> anyhow::Result<Vec<String>> {
        let mut keys: Vec<String> = self.state.iter().flat_map(|s| s.keys.clone()).collect();
        for k in given {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        if keys.is_empty() {
            let published = self.source.keys().await?.with_context(|| {
                format!(
                    "{} publishes no keys; pass the coordinators' keys with --key",
                    self.source
                )
            })?;
            keys = key_lines(&published)?;
            if !quiet {
                eprintln!(
                    "First check of {}: trusting the {} coordinator key(s) it publishes, and remembering them in {}:",
                    self.origin,
                    keys.len(),
                    self.state_path.display()
                );
                for k in &keys {
                    eprintln!("  {k}");
                }
                eprintln!("Compare them with keys the collective gave you another way; real trust comes from that.");
            }
        }
        Ok(keys)
    }

    pub fn remember(&self, keys: Vec<String>, v: &Verified) -> anyhow::Result<()> {
        State {
            origin: self.origin.clone(),
            keys,
            size: v.checkpoint.size,
            root: v.checkpoint.root,
            checked: Timestamp::now(),
        }
        .save(&self.state_path)
    }

    pub fn previous(&self) -> Option<(u64, [u8; 32])> {
        self.state.as_ref().map(|s| (s.size, s.root))
    }
}

#[derive(clap::Args, Debug)]
pub struct VerifyLedgerArgs {
    /// The ledger: https://hub.example/c/SLUG/ledger, the address on the ledger page, or a
    /// mirror (a URL or a folder).
    pub address: String,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(clap::Args, Debug)]
pub struct VerifyReceiptArgs {
    /// The ledger, as for `verify ledger`.
    pub address: String,
    /// The receipt code the collective gave you (any digits, any spacing).
    pub code: String,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `panah verify ledger`.
pub async fn verify_ledger(args: VerifyLedgerArgs) -> anyhow::Result<()> {
    let (session, v) = verify_and_remember(&args.address, &args.trust).await?;
    print_report(&session, &v);
    Ok(())
}

/// Opens the ledger at `address`, checks it with the keys to trust and against what was
/// seen before, and remembers the new checkpoint.
async fn verify_and_remember(
    address: &str,
    trust: &TrustArgs,
) -> anyhow::Result<(Session, Verified)> {
    let (session, note) = Session::open(address, trust).await?;
    let keys = session.trusted(&trust.keys, false).await?;
    let v = check(
        &session.source,
        &session.origin,
        note,
        &keys,
        session.previous(),
    )
    .await?;
    session.remember(keys, &v)?;
    Ok((session, v))
}

fn print_report(session: &Session, v: &Verified) {
    println!(
        "ok: {} — {} entries, root {}, signed by {} trusted key(s)",
        session.origin,
        v.checkpoint.size,
        b64(&v.checkpoint.root),
        v.checkpoint.signers.len()
    );
    match &session.state {
        Some(s) => println!(
            "ok: it extends the {} entries you checked on {} (nothing before them changed)",
            s.size,
            s.checked.to_string().get(..10).unwrap_or_default()
        ),
        None => println!(
            "ok: first check; remembered in {}",
            session.state_path.display()
        ),
    }
    let totals = Totals::of(&v.log.entries);
    if let Some(first) = v.log.entries.first() {
        let base = first.base.currency();
        println!(
            "raised {} {base} - spent {} {base} - exchange costs {} {base} = held {} {base}",
            decimal(totals.raised, base),
            decimal(totals.spent, base),
            decimal(totals.exchange_costs, base),
            decimal(totals.balance(), base)
        );
        for (category, spent) in &totals.spent_by_category {
            println!(
                "  spent on {}: {} {base}",
                category.word(),
                decimal(*spent, base)
            );
        }
        let held: Vec<String> = totals
            .balances
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(c, v)| {
                let held = format!("{} {c}", decimal(*v, *c));
                match totals.book.get(c) {
                    Some(book) if *c != base => {
                        format!("{held} (counted as {} {base})", decimal(*book, base))
                    }
                    _ => held,
                }
            })
            .collect();
        println!("held: {}", held.join(", "));
        println!("reversed entries: {}", totals.reversed.len());
    }
}

/// `panah verify receipt`: the donor's own check that their gift is in the signed ledger.
pub async fn verify_receipt(args: VerifyReceiptArgs) -> anyhow::Result<()> {
    let code = panah_core::ledger::receipt::ReceiptCode::parse(&args.code)?;
    let (session, v) = verify_and_remember(&args.address, &args.trust).await?;
    let commitment = code.commitment();
    let Some(index) = v
        .log
        .entries
        .iter()
        .position(|e| e.receipt == Some(commitment))
    else {
        bail!(
            "no entry of {} ({} entries, verified) has this receipt code; check the digits, or ask the collective whether it was entered yet",
            session.origin,
            v.checkpoint.size
        );
    };
    let index = index as u64;
    let proof = v.log.tree.inclusion_proof(index, v.checkpoint.size)?;
    let leaf = &v.log.leaves[usize::try_from(index)?];
    panah_core::tlog::tree::check_inclusion(
        &proof,
        v.checkpoint.size,
        &v.checkpoint.root,
        index,
        leaf,
    )?;
    let e = &v.log.entries[usize::try_from(index)?];
    println!(
        "ok: your gift is entry {index} of {}: {} {} ({} {}) received {} by {}, memo {:?}",
        session.origin,
        e.amount.decimal(),
        e.amount.currency(),
        e.base.decimal(),
        e.base.currency(),
        e.date,
        e.rail.word(),
        e.memo
    );
    println!(
        "ok: its inclusion proof ({} hashes) checks against the signed root {} of {} entries",
        proof.len(),
        b64(&v.checkpoint.root),
        v.checkpoint.size
    );
    if v.log.entries.iter().any(|r| r.reverses == Some(index)) {
        println!("note: a later entry reverses (cancels) this one; ask the collective why");
    }
    Ok(())
}

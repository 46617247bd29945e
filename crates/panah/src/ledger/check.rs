//! `panah verify ledger` and `panah verify receipt` on the command line, on
//! `panah_client::verify`: the checks there, the report and the first-use warning here.

use std::path::PathBuf;

use panah_client::terminal::sanitize;
use panah_client::verify::stream::StreamedLedger;
use panah_client::verify::{self, Trust, Trusted};
use panah_core::ledger::money::decimal;
use panah_core::ledger::receipt::ReceiptCode;
use panah_core::tlog::check::b64;

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
    /// Accept this new origin at an address that served another log before: only when the
    /// collective told you, another way, that they moved their ledger. The keys you
    /// trusted must still sign it.
    #[arg(long, value_name = "ORIGIN")]
    pub accept_origin: Option<String>,
    /// The most entries to download and check [default: 500000]. Checking holds the log in
    /// memory (about 1.1 GB a million entries), so a server cannot make you download more
    /// than you expect.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_entries: Option<u64>,
}

impl From<&TrustArgs> for Trust {
    fn from(a: &TrustArgs) -> Self {
        Trust {
            keys: a.keys.clone(),
            state: a.state.clone(),
            origin: a.origin.clone(),
            accept_origin: a.accept_origin.clone(),
            max_entries: a.max_entries,
        }
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

/// Says which keys were taken on first use, and that real trust comes from elsewhere.
fn first_use_warning(trusted: &Trusted, origin: &str, state_path: &std::path::Path) {
    if !trusted.first_use {
        return;
    }
    let whence = if trusted.team.is_some() {
        "its signed team log shows"
    } else {
        "it publishes"
    };
    eprintln!(
        "First check of {}: trusting the {} coordinator key(s) {whence}, and remembering them in {}:",
        sanitize(origin),
        trusted.keys.len(),
        state_path.display()
    );
    for k in &trusted.keys {
        eprintln!("  {}", sanitize(k));
    }
    eprintln!(
        "Compare them with keys the collective gave you another way; real trust comes from that."
    );
}

/// `panah verify ledger`: streamed, in memory that does not grow with the ledger.
pub async fn verify_ledger(args: VerifyLedgerArgs) -> anyhow::Result<()> {
    let v = verify::stream::verify_ledger_streaming(&args.address, &(&args.trust).into()).await?;
    first_use_warning(&v.trusted, &v.verifier.origin, &v.verifier.state_path);
    print_report(&v);
    Ok(())
}

fn print_report(v: &StreamedLedger) {
    let (session, checked) = (&v.verifier, &v.checkpoint);
    println!(
        "ok: {} — {} entries, root {}, signed by {} trusted key(s)",
        sanitize(&session.origin),
        checked.size,
        b64(&checked.root),
        checked.signers.len()
    );
    if let Some(n) = v.trusted.team {
        println!("  the signers are checked against the collective's signed team log ({n} coordinator(s) now)");
    }
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
    let totals = &v.streamed.totals;
    if let Some(base) = v.streamed.base {
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
    let code = ReceiptCode::parse(&args.code)?;
    let v = verify::verify_ledger(&args.address, &(&args.trust).into()).await?;
    first_use_warning(&v.trusted, &v.verifier.origin, &v.verifier.state_path);
    let origin = &v.verifier.origin;
    let found = verify::find_receipt(&v.verified, origin, &code)?;
    let e = &found.entry;
    println!(
        "ok: your gift is entry {} of {}: {} {} ({} {}) received {} by {}, memo {:?}",
        found.index,
        sanitize(origin),
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
        found.proof_hashes,
        b64(&v.verified.checkpoint.root),
        v.verified.checkpoint.size
    );
    if found.reversed {
        println!("note: a later entry reverses (cancels) this one; ask the collective why");
    }
    Ok(())
}

//! `panah mirror ledger URL DIR` on the command line, on `panah_client::verify::mirror`.

use std::path::PathBuf;

use clap::Args;
use panah_client::terminal::sanitize;
use panah_client::verify::mirror::mirror;
use panah_core::tlog::LogKind;

#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// The ledger to copy: https://hub.example/c/SLUG/ledger (or another mirror).
    pub address: String,
    /// The folder to keep the copy in (served as the web root of the mirror).
    pub dir: PathBuf,
    /// A coordinator's verifier key to trust besides those the mirror already holds.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// The most entries to download and check [default: 10000000]; the check is streamed,
    /// so this bounds the download, not memory.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_entries: Option<u64>,
}

pub async fn run(args: MirrorArgs) -> anyhow::Result<()> {
    let m = mirror(
        &args.address,
        LogKind::Ledger,
        &args.dir,
        &args.keys,
        args.max_entries,
    )
    .await?;
    let origin = sanitize(&m.origin);
    if let Some(keys) = &m.first_use_keys {
        eprintln!(
            "First copy of {origin}: trusting the {} key(s) it publishes. Compare them with keys the collective gave you another way:",
            keys.len()
        );
        for k in keys {
            eprintln!("  {}", sanitize(k));
        }
    }
    println!(
        "ok: {} holds {origin} — {} entries ({} new), {} tiles downloaded, {} files written, verified",
        m.dir.display(),
        m.size,
        m.new_entries,
        m.downloaded,
        m.written
    );
    println!(
        "Serve {} with any web server; the ledger is at the same paths as on the hub.",
        args.dir.display()
    );
    Ok(())
}

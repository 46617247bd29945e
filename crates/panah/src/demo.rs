//! `panah demo`: a working hub with a sample collective, in one command.

use std::path::PathBuf;

use age::secrecy::SecretString;
use anyhow::Context;
use clap::Args;
use panah_core::{Lang, Slug};
use panah_store::NewCollective;
use rand::Rng;

use crate::config::{open_store, StoreArgs};

pub const DEMO_APPEAL: &str = include_str!("../../../examples/appeal.toml");
/// The demo's sample ledger, in the format `panah ledger import` reads.
pub const DEMO_LEDGER: &str = include_str!("demo_ledger.csv");
const RECEIPT_FILE: &str = "demo-receipt.txt";
const DEMO_SLUG: &str = "roshanai";
const KEYRING_FILE: &str = "demo-coordinator.keyring";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The demo's data folder; created on first run, reused after.
    #[arg(
        long,
        env = "PANAH_DATA",
        default_value = "panah-demo",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "PANAH_LISTEN", default_value = crate::config::DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: String,
}

/// A passphrase for the demo keyring: 20 characters from an unambiguous alphabet (~100 bits).
fn demo_passphrase() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::serve::init_logging("text");
    let store_args = StoreArgs {
        data: Some(args.data.clone()),
        ..StoreArgs::default()
    };
    let config = store_args.resolve(Some(&args.listen))?;
    let store = open_store(&config).await?;
    let slug = Slug::parse(DEMO_SLUG)?;
    let keyring_path = args.data.join(KEYRING_FILE);
    let mut first_run_passphrase = None;
    let mut seed_keyring = None;
    if store.collective(&slug).await?.is_none() {
        let appeal = crate::appeal_file::parse(DEMO_APPEAL)?;
        let name = |lang: Lang| {
            appeal
                .iter()
                .find(|(l, _)| *l == lang)
                .map(|(_, a)| a.name.clone())
                .unwrap_or_default()
        };
        let collective = store
            .create_collective(&NewCollective {
                slug: slug.clone(),
                default_lang: Lang::Dari,
                names: Lang::ALL.map(name),
            })
            .await?;
        for (lang, text) in &appeal {
            store.set_appeal(collective.id, *lang, text).await?;
        }
        let passphrase = demo_passphrase();
        let keyring = crate::id::create(&keyring_path, &SecretString::from(passphrase.clone()))
            .with_context(|| {
                format!("cannot create the demo keyring {}", keyring_path.display())
            })?;
        let coordinator = store
            .add_coordinator(collective.id, &keyring.public(), "demo coordinator")
            .await?;
        let host = config.listen;
        let code = demo_ledger(
            &store,
            &coordinator,
            &keyring,
            &format!("localhost:{}/c/{DEMO_SLUG}/ledger", host.port()),
        )
        .await?;
        if let Some(code) = code {
            panah_client::files::write_private(
                &args.data.join(RECEIPT_FILE),
                format!("{}\n", code.grouped()).as_bytes(),
            )?;
        }
        first_run_passphrase = Some(passphrase);
        seed_keyring = Some(keyring);
    }
    store.close().await;

    let receipt = std::fs::read_to_string(args.data.join(RECEIPT_FILE)).unwrap_or_default();
    let receipt = receipt.trim().to_owned();
    let data = args.data.display().to_string();
    let keyring = keyring_path.display().to_string();
    // What the demo coordinator's tools remember stays in the demo folder.
    let state_dir = args.data.join("state");
    let cache_dir = args.data.join("cache");
    let tracker_env = format!(
        "PANAH_LEDGER_STATE_DIR={} PANAH_CACHE_DIR={}",
        state_dir.display(),
        cache_dir.display()
    );
    crate::serve::serve(config, false, move |url| {
        if let Some(keyring) = seed_keyring {
            // Once the hub listens: the team log, then the needs and cases through it.
            std::env::set_var("PANAH_LEDGER_STATE_DIR", &state_dir);
            let url = url.to_owned();
            tokio::spawn(async move {
                match crate::demo_tracker::seed(&url, &keyring, &cache_dir).await {
                    Ok(n) => tracing::info!(records = n, "demo needs and cases written"),
                    Err(e) => tracing::warn!(error = %e, "could not write the demo needs and cases"),
                }
            });
        }
        let exe = how_started();
        let pass = match &first_run_passphrase {
            Some(p) => format!(
                "  Demo keyring passphrase (shown once, for the demo only): {p}\n"
            ),
            None => format!("  Reusing {data}; the keyring passphrase was shown on the first run.\n  (Delete {data} to start over.)\n"),
        };
        let p = first_run_passphrase.as_deref().unwrap_or("<passphrase>");
        println!(
            "\nPanah demo hub\n\n\
             Open in a browser:\n  {url}/\n  {url}/c/{DEMO_SLUG}          (Dari, the collective's default)\n  \
             {url}/c/{DEMO_SLUG}?lang=ps  (Pashto)\n  {url}/c/{DEMO_SLUG}?lang=en  (English)\n  \
             {url}/c/{DEMO_SLUG}/contact   (send a message; you get a codename)\n  \
             {url}/c/{DEMO_SLUG}/replies   (read replies with the codename)\n  \
             {url}/c/{DEMO_SLUG}/ledger    (the fund ledger; goals are on the appeal)\n  \
             {url}/c/{DEMO_SLUG}/ledger/receipt  (a donor's receipt code: {receipt})\n\n\
             Coordinator keyring: {keyring}\n{pass}\n\
             The coordinators' desk (inbox, books, needs and cases in your browser; it asks for the passphrase):\n  \
             {tracker_env} {exe} desk --hub {url} --collective {DEMO_SLUG} --keyring {keyring} --open\n\n\
             Try, in another terminal:\n  \
             PANAH_PASSPHRASE={p} {exe} id show --keyring {keyring}\n  \
             PANAH_PASSPHRASE={p} {exe} team --hub {url} --collective {DEMO_SLUG} --keyring {keyring}\n  \
             PANAH_PASSPHRASE={p} {exe} inbox --hub {url} --collective {DEMO_SLUG} --keyring {keyring} list\n  \
             PANAH_PASSPHRASE={p} {tracker_env} {exe} needs --hub {url} --collective {DEMO_SLUG} --keyring {keyring} list\n  \
             PANAH_PASSPHRASE={p} {tracker_env} {exe} cases --hub {url} --collective {DEMO_SLUG} --keyring {keyring} list --lang fa\n  \
             PANAH_PASSPHRASE={p} {tracker_env} {exe} summary --hub {url} --collective {DEMO_SLUG} --keyring {keyring}\n  \
             PANAH_PASSPHRASE={p} {exe} inbox --hub {url} --collective {DEMO_SLUG} --keyring {keyring} read 1\n  \
             PANAH_PASSPHRASE={p} {exe} inbox --hub {url} --collective {DEMO_SLUG} --keyring {keyring} reply 1 -m \"Received, thank you\"\n  \
             {exe} admin list-coordinators --data {data} {DEMO_SLUG}\n  \
             {exe} verify ledger {url}/c/{DEMO_SLUG}/ledger --state {data}/verify.state\n  \
             {exe} verify receipt {url}/c/{DEMO_SLUG}/ledger \"{receipt}\" --state {data}/verify.state\n  \
             {exe} mirror ledger {url}/c/{DEMO_SLUG}/ledger {data}/mirror\n  \
             PANAH_PASSPHRASE={p} {exe} ledger --hub {url} --collective {DEMO_SLUG} --keyring {keyring} add expense --amount 2500 --category food --rail cash --memo \"bread\"\n  \
             rage -d {keyring}     (the keyring is a standard age file)\n\n\
             Press Ctrl-C to stop.\n"
        );
    })
    .await
}

/// Starts the demo collective's ledger and fills it with the sample entries, through the
/// same prepare-and-commit steps the API uses, signed with the demo keyring. Returns the
/// receipt code of the sample gift that has one.
async fn demo_ledger(
    store: &panah_store::Store,
    coordinator: &panah_store::Coordinator,
    keyring: &panah_keyring::Keyring,
    origin: &str,
) -> anyhow::Result<Option<panah_core::ledger::receipt::ReceiptCode>> {
    use panah_core::ledger::{Category, Currency, DatePrecision};
    use panah_server::ledger::{commit, prepare, signed_on};

    let base = Currency::parse("AFN")?;
    let cid = coordinator.collective_id;
    let empty = panah_core::tlog::tree::Tree::new().root();
    let note = String::from_utf8(keyring.sign_checkpoint(origin, origin, 0, &empty)?)?;
    let today = time::OffsetDateTime::now_utc().date();
    let log_id = store
        .create_ledger(
            cid,
            origin,
            base,
            &note,
            coordinator.id,
            signed_on(DatePrecision::Day, today),
        )
        .await?;
    let fingerprint = coordinator.key.fingerprint().to_string();
    let mut made = Vec::new();
    for draft in panah_client::ledger::draft::read_csv(DEMO_LEDGER)? {
        made.push(draft.to_entry(base, &fingerprint, today)?);
    }
    // Three checkpoints, so the demo has a history of signatures.
    for chunk in made.chunks(12) {
        let ledger = store
            .ledger(cid)
            .await?
            .context("the demo ledger was just created")?;
        let leaves = chunk.iter().map(|(e, _)| e.to_leaf()).collect();
        let prepared = prepare(store, &ledger, &coordinator.key, ledger.log.size, leaves)
            .await
            .map_err(|e| anyhow::anyhow!("the sample ledger: {e}"))?;
        let ext = &prepared.extension;
        let note =
            String::from_utf8(keyring.sign_checkpoint(origin, origin, ext.size, &ext.root)?)?;
        commit(
            store,
            &ledger,
            coordinator.id,
            &coordinator.key,
            &prepared,
            &note,
        )
        .await
        .map_err(|e| anyhow::anyhow!("the sample ledger: {e}"))?;
    }
    // Whole afghani to minor units (puls).
    let afn = |whole: i64| whole * 100;
    let budgets = [
        (Category::Food, afn(600_000)),
        (Category::Power, afn(150_000)),
        (Category::Relocation, afn(250_000)),
        (Category::Documents, afn(60_000)),
        (Category::Medical, afn(50_000)),
        (Category::Communications, afn(30_000)),
    ]
    .into_iter()
    .collect();
    store
        .set_ledger_goals(log_id, Some(afn(1_500_000)), &budgets)
        .await?;
    Ok(made.into_iter().find_map(|(_, code)| code))
}

/// The command that started this program, to show in examples: `cargo run --release --`
/// when Cargo ran a build from its target folder, else the program as it was called.
fn how_started() -> String {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "panah".to_owned());
    describe_start(&argv0, std::env::var_os("CARGO").is_some())
}

fn describe_start(argv0: &str, under_cargo: bool) -> String {
    let unix = argv0.replace('\\', "/");
    if under_cargo && unix.contains("/target/release/") {
        return "cargo run --release --".to_owned();
    }
    if under_cargo && unix.contains("/target/debug/") {
        return "cargo run --".to_owned();
    }
    if argv0
        .chars()
        .any(|c| c.is_whitespace() || "'\"$`\\".contains(c))
    {
        format!("'{}'", argv0.replace('\'', "'\\''"))
    } else {
        argv0.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::describe_start;

    #[test]
    fn examples_show_how_the_demo_was_started() {
        assert_eq!(
            describe_start("/src/panah/target/release/panah", true),
            "cargo run --release --"
        );
        assert_eq!(
            describe_start("target/debug/panah", false),
            "target/debug/panah"
        );
        assert_eq!(
            describe_start("/home/a/x/target/debug/panah", true),
            "cargo run --"
        );
        assert_eq!(describe_start("panah", false), "panah");
        assert_eq!(
            describe_start("/usr/local/bin/panah", true),
            "/usr/local/bin/panah"
        );
        assert_eq!(
            describe_start("/home/my files/panah", false),
            "'/home/my files/panah'"
        );
    }
}

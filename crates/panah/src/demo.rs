//! `panah demo`: a working hub with a sample collective, in one command.

use std::path::PathBuf;

use age::secrecy::SecretString;
use anyhow::Context;
use clap::Args;
use panah_core::{Lang, Slug};
use panah_store::NewCollective;
use rand::Rng;

use crate::config::{open_store, StoreArgs};

pub const DEMO_APPEAL: &str = include_str!("demo_appeal.toml");
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
        store
            .add_coordinator(collective.id, &keyring.public(), "demo coordinator")
            .await?;
        first_run_passphrase = Some(passphrase);
    }
    store.close().await;

    let data = args.data.display().to_string();
    let keyring = keyring_path.display().to_string();
    crate::serve::serve(config, move |url| {
        let exe = "cargo run --release --";
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
             {url}/c/{DEMO_SLUG}/replies   (read replies with the codename)\n\n\
             Coordinator keyring: {keyring}\n{pass}\n\
             Try, in another terminal:\n  \
             PANAH_PASSPHRASE={p} {exe} id show --keyring {keyring}\n  \
             PANAH_PASSPHRASE={p} {exe} team --hub {url} --collective {DEMO_SLUG} --keyring {keyring}\n  \
             PANAH_PASSPHRASE={p} {exe} inbox --hub {url} --collective {DEMO_SLUG} --keyring {keyring} list\n  \
             PANAH_PASSPHRASE={p} {exe} inbox --hub {url} --collective {DEMO_SLUG} --keyring {keyring} read 1\n  \
             PANAH_PASSPHRASE={p} {exe} inbox --hub {url} --collective {DEMO_SLUG} --keyring {keyring} reply 1 -m \"Received, thank you\"\n  \
             {exe} admin list-coordinators --data {data} {DEMO_SLUG}\n  \
             rage -d {keyring}     (the keyring is a standard age file)\n\n\
             Press Ctrl-C to stop.\n"
        );
    })
    .await
}

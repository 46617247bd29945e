//! `panah admin …`: the operator's commands, run on the hub's host.

use anyhow::{bail, Context};
use clap::Subcommand;
use panah_core::ledger::Rail;
use panah_core::{CoordinatorKey, Lang, Slug};
use panah_store::NewCollective;

use crate::config::StoreArgs;
use panah_client::ledger::draft::{word, words};

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a new, empty hub: its data folder and database. The other admin commands
    /// never create one, so that a missing --data/--database/--config is an error rather
    /// than a second, empty hub nobody serves.
    Init {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create a collective.
    CreateCollective {
        #[command(flatten)]
        store: StoreArgs,
        /// Short name for URLs: a-z, 0-9 and '-'.
        slug: String,
        /// Name in Dari.
        #[arg(long)]
        name_fa: String,
        /// Name in Pashto.
        #[arg(long)]
        name_ps: String,
        /// Name in English.
        #[arg(long)]
        name_en: String,
        /// Language of the pages when the visitor's browser does not ask for one.
        #[arg(long, default_value = "fa")]
        default_lang: String,
    },
    /// Replace a collective's appeal text from a TOML file ([fa], [ps], [en] sections).
    SetAppeal {
        #[command(flatten)]
        store: StoreArgs,
        slug: String,
        file: std::path::PathBuf,
    },
    /// Keep payment rails off the collective's public pages (naming one, such as crypto,
    /// can be dangerous where it is banned). Give none to show all again. The signed
    /// entries, the exports and the tiles still carry every entry's rail.
    HideRails {
        #[command(flatten)]
        store: StoreArgs,
        slug: String,
        /// Rails to hide: bank, crypto, cash, transfer-agent.
        rails: Vec<String>,
    },
    /// List the hub's collectives.
    ListCollectives {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Register a collective's founding coordinator by the public line `panah id show`
    /// printed. Once a collective has one, this only proposes a key: coordinators add
    /// people to the team themselves, signing it (`panah team add`).
    AddCoordinator {
        #[command(flatten)]
        store: StoreArgs,
        slug: String,
        /// `age1… ed25519:…`, quoted as one argument.
        line: String,
        /// A pseudonym to tell coordinators apart (stored in clear: never a real name).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Remove a coordinator: their API tokens stop working at once.
    RemoveCoordinator {
        #[command(flatten)]
        store: StoreArgs,
        slug: String,
        /// Their public line, or the fingerprint `list-coordinators` shows.
        key: String,
    },
    /// List a collective's coordinators.
    ListCoordinators {
        #[command(flatten)]
        store: StoreArgs,
        slug: String,
        /// Include removed coordinators.
        #[arg(long)]
        all: bool,
    },
}

/// The flags that point `panah serve` at the same hub as `config`.
fn store_flags(config: &crate::config::HubConfig) -> String {
    match &config.location {
        panah_store::Location::Sqlite { create: true, .. } => {
            format!("--data {}", config.data.display())
        }
        panah_store::Location::Sqlite { path, .. } => {
            format!("--database sqlite:{}", path.display())
        }
        panah_store::Location::Postgres { url } => {
            format!("--database {}", panah_store::redact(url))
        }
    }
}

async fn collective(
    store: &panah_store::Store,
    slug: &str,
) -> anyhow::Result<panah_store::Collective> {
    let slug = Slug::parse(slug)?;
    store.collective(&slug).await?.with_context(|| {
        format!(
            "there is no collective {:?} on this hub (see `panah admin list-collectives`)",
            slug.as_str()
        )
    })
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Init { store } => {
            let config = store.resolve(None)?;
            let sqlite = matches!(config.location, panah_store::Location::Sqlite { .. });
            if sqlite && config.exists() {
                println!("{} already holds a hub; nothing changed", config.describe());
                return Ok(());
            }
            // Opening creates the SQLite file, or the tables of an empty PostgreSQL database.
            let store = crate::config::open_store(&config).await?;
            store.close().await;
            let what = if sqlite {
                "created a new, empty hub in"
            } else {
                "the hub's tables are ready in"
            };
            println!(
                "{what} {}\nserve it with: panah serve {}",
                config.describe(),
                store_flags(&config)
            );
        }
        AdminCommand::CreateCollective {
            store,
            slug,
            name_fa,
            name_ps,
            name_en,
            default_lang,
        } => {
            let names = [name_fa, name_ps, name_en];
            for (lang, name) in Lang::ALL.iter().zip(&names) {
                if name.trim().is_empty() || name.chars().count() > 120 {
                    bail!("--name-{} must be 1 to 120 characters", lang.code());
                }
            }
            let new = NewCollective {
                slug: Slug::parse(&slug)?,
                default_lang: Lang::from_code(&default_lang)?,
                names: names.map(|n| n.trim().to_owned()),
            };
            let (_, store) = store.open_existing().await?;
            let c = store.create_collective(&new).await?;
            println!("created collective {} (pages at /c/{})", c.slug, c.slug);
        }
        AdminCommand::SetAppeal { store, slug, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let appeal = crate::appeal_file::parse(&text)?;
            let (_, store) = store.open_existing().await?;
            let c = collective(&store, &slug).await?;
            for (lang, text) in &appeal {
                store.set_appeal(c.id, *lang, text).await?;
            }
            let langs: Vec<&str> = appeal.iter().map(|(l, _)| l.code()).collect();
            println!("updated the appeal of {} in {}", c.slug, langs.join(", "));
        }
        AdminCommand::HideRails { store, slug, rails } => {
            let all = words(Rail::ALL, Rail::word);
            let rails = rails
                .iter()
                .map(|w| word("a rail", w, Rail::parse, &all))
                .collect::<Result<Vec<_>, _>>()?;
            let (_, store) = store.open_existing().await?;
            let c = collective(&store, &slug).await?;
            store.set_hidden_rails(c.id, &rails).await?;
            let shown: Vec<&str> = Rail::ALL
                .iter()
                .filter(|r| !rails.contains(r))
                .map(|r| r.word())
                .collect();
            println!(
                "{}'s pages name these rails: {}",
                c.slug,
                if shown.is_empty() {
                    "none".to_owned()
                } else {
                    shown.join(", ")
                }
            );
        }
        AdminCommand::ListCollectives { store } => {
            let (_, store) = store.open_existing().await?;
            for c in store.collectives().await? {
                let team = store.coordinators(c.id, false).await?.len();
                println!(
                    "{}\tdefault {}\t{team} coordinator(s)\tcreated {}",
                    c.slug, c.default_lang, c.created_at
                );
            }
        }
        AdminCommand::AddCoordinator {
            store,
            slug,
            line,
            label,
        } => {
            let key = CoordinatorKey::parse_line(&line)?;
            if label.chars().count() > 60 {
                bail!("--label is at most 60 characters");
            }
            let (_, store) = store.open_existing().await?;
            let c = collective(&store, &slug).await?;
            let founded = store
                .log(c.id, panah_core::tlog::LogKind::Team)
                .await?
                .is_some();
            if !founded && store.coordinators(c.id, false).await?.is_empty() {
                // The founder: the one key the operator's word is taken for. They start
                // the signed team log on their first use of the coordinators' tools.
                let added = store.add_coordinator(c.id, &key, label.trim()).await?;
                println!(
                    "added {} as the founding coordinator of {}",
                    added.key.fingerprint(),
                    c.slug
                );
            } else {
                // After founding, the team is what its coordinators sign, not the hub's word.
                store.invite_coordinator(c.id, &key, label.trim()).await?;
                println!(
                    "invited {} to {}: nothing changes until a coordinator checks the key with \
                     its owner and signs it onto the team with `panah team add`",
                    key.fingerprint(),
                    c.slug
                );
            }
        }
        AdminCommand::RemoveCoordinator { store, slug, key } => {
            let (_, store) = store.open_existing().await?;
            let c = collective(&store, &slug).await?;
            let team = store.coordinators(c.id, false).await?;
            let target = match CoordinatorKey::parse_line(&key) {
                Ok(k) => team.into_iter().find(|m| m.key == k),
                Err(_) => team
                    .into_iter()
                    .find(|m| m.key.fingerprint().to_string() == key.trim()),
            }
            .with_context(|| format!("no current coordinator of {} has the key {key:?}", c.slug))?;
            store.remove_coordinator(c.id, &target.key).await?;
            println!(
                "removed coordinator {} from {}; their logins are revoked",
                target.key.fingerprint(),
                c.slug
            );
        }
        AdminCommand::ListCoordinators { store, slug, all } => {
            let (_, store) = store.open_existing().await?;
            let c = collective(&store, &slug).await?;
            for m in store.coordinators(c.id, all).await? {
                let state = match m.removed_at {
                    Some(t) => format!("removed {t}"),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\tadded {}\t{state}\n  {}",
                    m.key.fingerprint(),
                    if m.label.is_empty() { "-" } else { &m.label },
                    c.slug,
                    m.added_at,
                    m.key
                );
            }
        }
    }
    Ok(())
}

//! Saved settings for talking to a hub: `panah profile set --hub URL --collective SLUG`.
//! Kept in `panah/profiles.toml` in the user's config folder. No secrets are stored here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub hub: Option<String>,
    pub collective: Option<String>,
    pub keyring: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Save or update a profile.
    Set {
        /// Profile name.
        #[arg(long, default_value = "default")]
        name: String,
        #[arg(long)]
        hub: Option<String>,
        #[arg(long)]
        collective: Option<String>,
        #[arg(long)]
        keyring: Option<PathBuf>,
    },
    /// Show the saved profiles.
    List,
}

pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("PANAH_PROFILES") {
        return Ok(PathBuf::from(p));
    }
    Ok(dirs::config_dir()
        .context("cannot find your config folder; set PANAH_PROFILES")?
        .join("panah")
        .join("profiles.toml"))
}

pub fn load_all() -> anyhow::Result<BTreeMap<String, Profile>> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn load(name: &str) -> anyhow::Result<Option<Profile>> {
    Ok(load_all()?.remove(name))
}

pub fn run(cmd: ProfileCommand) -> anyhow::Result<()> {
    match cmd {
        ProfileCommand::Set {
            name,
            hub,
            collective,
            keyring,
        } => {
            if let Some(c) = &collective {
                panah_core::Slug::parse(c)?;
            }
            if let Some(h) = &hub {
                panah_client::hub::parse_hub(h)?;
            }
            let mut all = load_all()?;
            let entry = all.entry(name.clone()).or_default();
            if hub.is_none() && collective.is_none() && keyring.is_none() {
                bail!("give at least one of --hub, --collective, --keyring");
            }
            entry.hub = hub.or(entry.hub.take());
            entry.collective = collective.or(entry.collective.take());
            entry.keyring = keyring.or(entry.keyring.take());
            let path = path()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, toml::to_string(&all)?)?;
            println!("saved profile {name} in {}", path.display());
        }
        ProfileCommand::List => {
            for (name, p) in load_all()? {
                println!(
                    "{name}\thub {}\tcollective {}\tkeyring {}",
                    p.hub.as_deref().unwrap_or("-"),
                    p.collective.as_deref().unwrap_or("-"),
                    p.keyring
                        .as_ref()
                        .map(|k| k.display().to_string())
                        .unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    Ok(())
}

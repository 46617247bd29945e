//! Which hub, collective and keyring a coordinator's command uses (flags, environment,
//! then the saved profile), logging in through `panah_client`.

use anyhow::Context;
use clap::Args;
use panah_client::hub::{is_exposed, parse_hub, Session};
use panah_core::Slug;
use panah_keyring::Keyring;

use crate::id::KeyringArgs;

#[derive(Args, Debug, Clone)]
pub struct HubArgs {
    /// The hub's address, e.g. https://hub.example or http://….onion.
    #[arg(long, env = "PANAH_HUB")]
    pub hub: Option<String>,
    /// The collective's short name.
    #[arg(long, env = "PANAH_COLLECTIVE")]
    pub collective: Option<String>,
    /// A saved profile (`panah profile set`) to take the other settings from.
    #[arg(long, env = "PANAH_PROFILE", default_value = "default")]
    pub profile: String,
    #[command(flatten)]
    pub keyring: KeyringArgs,
}

impl HubArgs {
    /// Flags and environment first, then the saved profile.
    pub fn resolve(&self) -> anyhow::Result<(String, Slug, KeyringArgs)> {
        let profile = crate::profile::load(&self.profile)?.unwrap_or_default();
        let hub =
            self.hub.clone().or(profile.hub).context(
                "which hub? pass --hub URL or save one with `panah profile set --hub URL`",
            )?;
        let collective = self
            .collective
            .clone()
            .or(profile.collective)
            .context("which collective? pass --collective SLUG or save one with `panah profile set --collective SLUG`")?;
        let keyring = KeyringArgs {
            keyring: self.keyring.keyring.clone().or(profile.keyring),
        };
        Ok((parse_hub(&hub)?, Slug::parse(&collective)?, keyring))
    }

    /// Logs in and also returns the unlocked keyring, for commands that decrypt or sign.
    pub async fn login_keeping_keyring(&self) -> anyhow::Result<(Session, Keyring)> {
        let (base, collective, keyring) = self.resolve()?;
        let keyring = keyring.unlock()?;
        let session = login_at(&base, collective, &keyring).await?;
        Ok((session, keyring))
    }

    /// Logs in with a keyring already unlocked.
    pub async fn login_with(&self, keyring: &Keyring) -> anyhow::Result<Session> {
        let (base, collective, _) = self.resolve()?;
        login_at(&base, collective, keyring).await
    }
}

/// Logs in to `base`, warning first when the way there is plain HTTP.
async fn login_at(base: &str, collective: Slug, keyring: &Keyring) -> anyhow::Result<Session> {
    if is_exposed(base) {
        eprintln!("warning: {base} is plain HTTP; use https:// or a .onion address so nobody on the way can watch");
    }
    Ok(Session::login(base, collective, keyring).await?)
}

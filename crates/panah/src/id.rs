//! `panah id …`: a coordinator's keyring, on the coordinator's own device.

use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use panah_keyring::Keyring;

#[derive(Args, Debug, Clone, Default)]
pub struct KeyringArgs {
    /// The keyring file [default: panah/keyring.age in your data folder].
    #[arg(long, env = "PANAH_KEYRING", value_name = "FILE")]
    pub keyring: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum IdCommand {
    /// Create a new keyring, sealed under a passphrase you choose.
    New {
        #[command(flatten)]
        keyring: KeyringArgs,
    },
    /// Print your public line (`age1… ed25519:…`) for the hub operator.
    Show {
        #[command(flatten)]
        keyring: KeyringArgs,
    },
    /// Write your age identity (AGE-SECRET-KEY-1…) for `rage -d -i`. Keep it secret.
    ExportAgeIdentity {
        #[command(flatten)]
        keyring: KeyringArgs,
        /// Write to this file (readable only by you) instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

impl KeyringArgs {
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        if let Some(p) = &self.keyring {
            return Ok(p.clone());
        }
        let base = dirs::data_dir().context("cannot find your data folder; pass --keyring FILE")?;
        Ok(base.join("panah").join("keyring.age"))
    }

    /// Opens the keyring, asking for its passphrase.
    pub fn unlock(&self) -> anyhow::Result<Keyring> {
        let path = self.path()?;
        if !path.exists() {
            bail!(
                "there is no keyring at {}; create one with `panah id new` or pass --keyring FILE",
                path.display()
            );
        }
        let w = crate::tracker::Words::new(None)?;
        let file = panah_client::terminal::sanitize_line(&path.display().to_string());
        let passphrase = passphrase(
            &format!("{} ", w.f("cli-id-unlock", &[("file", &file)])),
            false,
        )?;
        Keyring::load(&path, &passphrase)
            .with_context(|| format!("cannot open the keyring {}", path.display()))
    }
}

/// scrypt's work factor: age's default (about a second). Only a debug build (the test
/// suite's) reads `PANAH_SCRYPT_WORK_FACTOR` to lower it: a release binary ignores it and
/// says so, so no environment can weaken a real keyring's passphrase.
pub fn work_factor() -> anyhow::Result<Option<u8>> {
    let asked = std::env::var("PANAH_SCRYPT_WORK_FACTOR");
    if !cfg!(debug_assertions) {
        if asked.is_ok() {
            eprintln!(
                "note: PANAH_SCRYPT_WORK_FACTOR is for the test suite and is ignored by this build"
            );
        }
        return Ok(None);
    }
    match asked {
        Err(_) => Ok(None),
        Ok(v) => {
            let n: u8 = v
                .parse()
                .context("PANAH_SCRYPT_WORK_FACTOR must be a number")?;
            if !(10..=22).contains(&n) {
                bail!("PANAH_SCRYPT_WORK_FACTOR must be between 10 and 22");
            }
            Ok(Some(n))
        }
    }
}

/// `PANAH_PASSPHRASE` for scripts, else a prompt on the terminal (twice when creating).
pub fn passphrase(prompt: &str, confirm: bool) -> anyhow::Result<SecretString> {
    if let Ok(p) = std::env::var("PANAH_PASSPHRASE") {
        return Ok(SecretString::from(p));
    }
    let first = rpassword::prompt_password(prompt)
        .context("cannot read a passphrase: run in a terminal, or set PANAH_PASSPHRASE")?;
    if confirm {
        let again = crate::tracker::Words::new(None)
            .map(|w| format!("{} ", w.t("cli-id-again")))
            .unwrap_or_else(|_| "Same passphrase again: ".into());
        let second = rpassword::prompt_password(again).context("cannot read a passphrase")?;
        if first != second {
            bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(SecretString::from(first))
}

pub fn create(path: &Path, passphrase: &SecretString) -> anyhow::Result<Keyring> {
    let keyring = Keyring::generate();
    keyring.save(path, passphrase, work_factor()?)?;
    Ok(keyring)
}

pub fn run(cmd: IdCommand) -> anyhow::Result<()> {
    match cmd {
        IdCommand::New { keyring } => {
            let path = keyring.path()?;
            if path.exists() {
                bail!(
                    "{} already exists; refusing to overwrite a keyring",
                    path.display()
                );
            }
            let w = crate::tracker::Words::new(None)?;
            let pass = passphrase(&format!("{} ", w.t("cli-id-new-passphrase")), true)?;
            let k = create(&path, &pass)?;
            let file = panah_client::terminal::sanitize_line(&path.display().to_string());
            eprintln!("{}", w.f("cli-id-created", &[("file", &file)]));
            eprintln!(
                "{}",
                w.f(
                    "cli-id-fingerprint",
                    &[("fp", &k.public().fingerprint().to_string())]
                )
            );
            eprintln!("{}", w.t("cli-id-give-line"));
            println!("{}", k.public());
        }
        IdCommand::Show { keyring } => {
            let k = keyring.unlock()?;
            eprintln!("fingerprint {}", k.public().fingerprint());
            println!("{}", k.public());
        }
        IdCommand::ExportAgeIdentity { keyring, output } => {
            let k = keyring.unlock()?;
            let text = format!(
                "# Panah coordinator age identity. SECRET: it decrypts your collective's data.\n\
                 # created: {}\n# public key: {}\n{}\n",
                k.created(),
                k.public().recipient_str(),
                k.age_identity().expose_secret()
            );
            match output {
                Some(path) => {
                    panah_client::files::write_private(&path, text.as_bytes())?;
                    let w = crate::tracker::Words::new(None)?;
                    let file = panah_client::terminal::sanitize_line(&path.display().to_string());
                    eprintln!("{}", w.f("cli-id-exported", &[("file", &file)]));
                }
                None => {
                    print!("{text}");
                }
            }
        }
    }
    Ok(())
}

//! The coordinators' side of the API: log in by signing the hub's challenge with the
//! keyring, then call endpoints with the short-lived token. All decryption and signing
//! happen here, on the coordinator's machine.

use std::time::Duration;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Args;
use panah_api::{Challenge, ChallengeRequest, LoggedIn, LoginRequest, Team};
use panah_core::Slug;
use panah_keyring::Keyring;
use serde::de::DeserializeOwned;

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

/// Checks a hub address and drops a trailing slash.
pub fn parse_hub(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("the hub address {url:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        bail!("the hub address {url:?} must be just a scheme and a host, like https://hub.example");
    }
    Ok(url.to_owned())
}

/// A logged-in session with one collective on one hub.
pub struct Session {
    http: reqwest::Client,
    base: String,
    pub collective: Slug,
    token: String,
    pub fingerprint: String,
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> anyhow::Result<T> {
    let status = res.status();
    let body = res.bytes().await.context("the hub's answer was cut off")?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        bail!("the hub refused (HTTP {}): {message}", status.as_u16());
    }
    serde_json::from_slice(&body)
        .context("the hub's answer is not what this Panah expects; is the hub a different version?")
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

    /// Unlocks the keyring and logs in.
    pub async fn login(&self) -> anyhow::Result<Session> {
        Ok(self.login_keeping_keyring().await?.0)
    }

    /// Logs in and also returns the unlocked keyring, for commands that decrypt or sign.
    pub async fn login_keeping_keyring(&self) -> anyhow::Result<(Session, Keyring)> {
        let (base, collective, keyring) = self.resolve()?;
        if base.starts_with("http://") && !is_local_or_onion(base.trim_start_matches("http://")) {
            eprintln!("warning: {base} is plain HTTP; use https:// or a .onion address so nobody on the way can watch");
        }
        let keyring = keyring.unlock()?;
        let session = Session::login(&base, collective, &keyring).await?;
        Ok((session, keyring))
    }
}

/// Whether `host[:port]` is this machine or an onion service: the places where plain
/// HTTP is not readable on the way.
pub fn is_local_or_onion(host_port: &str) -> bool {
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host == "localhost" || host.starts_with("127.") || host == "[::1]" || host.ends_with(".onion")
}

impl Session {
    pub async fn login(base: &str, collective: Slug, keyring: &Keyring) -> anyhow::Result<Session> {
        // No gzip: the API mostly carries ciphertext, which does not compress, and the hub
        // would spend its CPU trying.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent("panah")
            .gzip(false)
            .build()?;
        let public = keyring.public();
        let res = http
            .post(format!("{base}/api/v1/login/challenge"))
            .json(&ChallengeRequest {
                collective: collective.as_str().to_owned(),
                key: public.signing_str(),
            })
            .send()
            .await
            .with_context(|| format!("cannot reach the hub at {base}"))?;
        let challenge: Challenge = decode(res).await?;
        let bytes = STANDARD
            .decode(&challenge.challenge)
            .context("the hub sent a challenge that is not base64")?;
        if bytes.len() != panah_core::auth::CHALLENGE_LEN {
            bail!("the hub sent a challenge of the wrong length");
        }
        let signature = keyring.sign_login(&collective, &bytes);
        let res = http
            .post(format!("{base}/api/v1/login"))
            .json(&LoginRequest {
                challenge_id: challenge.challenge_id,
                signature: STANDARD.encode(signature.to_bytes()),
            })
            .send()
            .await
            .with_context(|| format!("cannot reach the hub at {base}"))?;
        let login: LoggedIn = decode(res).await?;
        Ok(Session {
            http,
            base: base.to_owned(),
            collective,
            token: login.token,
            fingerprint: login.fingerprint,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the hub at {}", self.base))?;
        decode(res).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        req.bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the hub at {}", self.base))
    }

    /// Downloads raw bytes (ciphertext), refusing more than `limit`.
    pub async fn get_bytes(&self, path: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
        let res = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        if !res.status().is_success() {
            return decode::<serde_json::Value>(res).await.map(|_| Vec::new());
        }
        if res.content_length().is_some_and(|n| n > limit) {
            bail!("the hub sent more than {limit} bytes");
        }
        let body = res.bytes().await.context("the download was cut off")?;
        if body.len() as u64 > limit {
            bail!("the hub sent more than {limit} bytes");
        }
        Ok(body.to_vec())
    }

    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<T> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        decode(self.send(req).await?).await
    }

    /// Sends a JSON body and decodes the JSON answer.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<T> {
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body);
        decode(self.send(req).await?).await
    }

    /// The hub's address (`https://hub.example`).
    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let res = self
            .send(self.http.delete(format!("{}{path}", self.base)))
            .await?;
        if res.status().is_success() {
            Ok(())
        } else {
            decode::<serde_json::Value>(res).await.map(|_| ())
        }
    }

    pub async fn team(&self) -> anyhow::Result<Team> {
        self.get(&format!("/api/v1/c/{}/coordinators", self.collective))
            .await
    }

    /// Revokes the token on the hub. Best effort: it expires soon anyway.
    pub async fn logout(self) {
        let _ = self
            .http
            .post(format!("{}/api/v1/logout", self.base))
            .bearer_auth(&self.token)
            .send()
            .await;
    }
}

/// `panah team`: proves the keyring works against the hub and shows who is on the team.
pub async fn team(args: HubArgs) -> anyhow::Result<()> {
    let session = args.login().await?;
    let team = session.team().await?;
    let session_fingerprint = session.fingerprint.clone();
    session.logout().await;
    println!(
        "logged in to {} as {}",
        team.collective, session_fingerprint
    );
    for m in &team.coordinators {
        let you = if m.fingerprint == team.you {
            " (you)"
        } else {
            ""
        };
        let label = if m.label.is_empty() { "-" } else { &m.label };
        println!("{}\t{label}\tsince {}{you}", m.fingerprint, m.added_at);
        println!("  {} {}", m.recipient, m.signing_key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_onion_hosts() {
        for yes in [
            "localhost:8080",
            "127.0.0.1",
            "[::1]:8080",
            "abcdef.onion",
            "x.onion:80",
        ] {
            assert!(is_local_or_onion(yes), "{yes}");
        }
        for no in [
            "hub.example",
            "10.0.0.1:80",
            "[2001:db8::1]:80",
            "onion.example",
        ] {
            assert!(!is_local_or_onion(no), "{no}");
        }
    }
}

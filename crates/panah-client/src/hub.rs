//! A coordinator's session with a hub: log in by signing the hub's challenge with the
//! keyring, then call the API with the short-lived token. Every answer is an attacker's
//! until checked: sizes are bounded, time is bounded, redirects are not followed, and the
//! hub's error text is kept as its own words, never trusted.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_api::{Challenge, ChallengeRequest, LoggedIn, LoginRequest, Team};
use panah_core::Slug;
use panah_keyring::Keyring;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};
use crate::http::{read_bounded, BodyError};

/// Most bytes of a JSON answer.
const MAX_JSON: u64 = 16 * 1024 * 1024;

/// Checks a hub address and drops a trailing slash.
pub fn parse_hub(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            ClientError::Invalid(format!(
                "the hub address {url:?} must start with https:// or http://"
            ))
        })?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(ClientError::Invalid(format!(
            "the hub address {url:?} must be just a scheme and a host, like https://hub.example"
        )));
    }
    Ok(url.to_owned())
}

/// Whether `host[:port]` is this machine or an onion service: the places where plain
/// HTTP is not readable on the way.
pub fn is_local_or_onion(host_port: &str) -> bool {
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let loopback = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    loopback || host == "localhost" || host.ends_with(".onion")
}

/// Whether a hub address is plain HTTP to somewhere other than this machine or an onion
/// service: anybody on the way could watch. Front ends warn.
pub fn is_exposed(base: &str) -> bool {
    base.strip_prefix("http://")
        .is_some_and(|rest| !is_local_or_onion(rest))
}

/// A logged-in session with one collective on one hub.
pub struct Session {
    http: reqwest::Client,
    base: String,
    pub collective: Slug,
    token: String,
    /// The coordinator's own fingerprint, computed from the keyring (the hub's answer must
    /// agree: it is what every entry this coordinator signs names).
    pub fingerprint: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.base)
            .field("collective", &self.collective)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn unreachable(url: &str, e: &reqwest::Error) -> ClientError {
    ClientError::Unreachable {
        url: url.to_owned(),
        detail: e.to_string(),
    }
}

/// Reads a whole answer, at most `limit` bytes.
async fn body(res: reqwest::Response, limit: u64) -> Result<Vec<u8>> {
    let url = res.url().to_string();
    read_bounded(res, limit).await.map_err(|e| match e {
        BodyError::TooLarge => {
            ClientError::BadAnswer(format!("the hub sent more than {limit} bytes"))
        }
        BodyError::CutOff(e) => unreachable(&url, &e),
    })
}

/// The hub's refusal as a typed error, with its message (at most 300 characters).
async fn refusal(res: reqwest::Response) -> ClientError {
    let status = res.status().as_u16();
    let bytes = body(res, 64 * 1024).await.unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())
        .chars()
        .take(300)
        .collect();
    ClientError::Refused { status, message }
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> Result<T> {
    if !res.status().is_success() {
        return Err(refusal(res).await);
    }
    let bytes = body(res, MAX_JSON).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ClientError::BadAnswer(format!(
            "the hub's answer is not what this Panah expects ({e}); is the hub a different version?"
        ))
    })
}

impl Session {
    /// Logs in to the collective at `base` (from [`parse_hub`]) with the keyring.
    pub async fn login(base: &str, collective: Slug, keyring: &Keyring) -> Result<Session> {
        // No gzip: the API mostly carries ciphertext, which does not compress, and the hub
        // would spend its CPU trying. No redirects: the API never sends one, and following
        // one could hand the token to another host.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(20))
            .user_agent("panah")
            .gzip(false)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| unreachable(base, &e))?;
        let public = keyring.public();
        let url = format!("{base}/api/v1/login/challenge");
        let res = http
            .post(&url)
            .json(&ChallengeRequest {
                collective: collective.as_str().to_owned(),
                key: public.signing_str(),
            })
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        let challenge: Challenge = decode(res).await?;
        let bytes = STANDARD.decode(&challenge.challenge).map_err(|_| {
            ClientError::BadAnswer("the hub sent a challenge that is not base64".into())
        })?;
        if bytes.len() != panah_core::auth::CHALLENGE_LEN {
            return Err(ClientError::BadAnswer(
                "the hub sent a challenge of the wrong length".into(),
            ));
        }
        let signature = keyring.sign_login(&collective, &bytes);
        let url = format!("{base}/api/v1/login");
        let res = http
            .post(&url)
            .json(&LoginRequest {
                challenge_id: challenge.challenge_id,
                signature: STANDARD.encode(signature.to_bytes()),
            })
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        let login: LoggedIn = decode(res).await?;
        let fingerprint = public.fingerprint().to_string();
        if login.fingerprint != fingerprint {
            return Err(ClientError::BadAnswer(
                "the hub logged this keyring in as another coordinator".into(),
            ));
        }
        Ok(Session {
            http,
            base: base.to_owned(),
            collective,
            token: login.token,
            fingerprint,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let req = req
            .bearer_auth(&self.token)
            .build()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        let url = req.url().to_string();
        self.http
            .execute(req)
            .await
            .map_err(|e| unreachable(&url, &e))
    }

    /// `path` under the collective's part of the API: `/api/v1/c/{slug}{rest}`.
    pub fn api(&self, rest: &str) -> String {
        format!("/api/v1/c/{}{rest}", self.collective)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        decode(
            self.send(self.http.get(format!("{}{path}", self.base)))
                .await?,
        )
        .await
    }

    /// Downloads raw bytes (ciphertext), refusing more than `limit`.
    pub async fn get_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let res = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        if !res.status().is_success() {
            return Err(refusal(res).await);
        }
        body(res, limit).await
    }

    /// Downloads raw bytes and the ETag they came with (which stored ciphertext it is).
    pub async fn get_tagged(&self, path: &str, limit: u64) -> Result<(Vec<u8>, String)> {
        let res = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        if !res.status().is_success() {
            return Err(refusal(res).await);
        }
        let tag = res
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 100 && v.is_ascii())
            .map(str::to_owned)
            .ok_or_else(|| {
                ClientError::BadAnswer("the hub sent ciphertext without an ETag".into())
            })?;
        Ok((body(res, limit).await?, tag))
    }

    /// Puts raw bytes (ciphertext) in place of what `tag` named.
    pub async fn put_bytes(&self, path: &str, body: Vec<u8>, tag: &str) -> Result<()> {
        let req = self
            .http
            .put(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::IF_MATCH, tag)
            .body(body);
        let res = self.send(req).await?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(refusal(res).await)
        }
    }

    pub async fn post_bytes<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> Result<T> {
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
    ) -> Result<T> {
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

    pub async fn delete(&self, path: &str) -> Result<()> {
        let res = self
            .send(self.http.delete(format!("{}{path}", self.base)))
            .await?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(refusal(res).await)
        }
    }

    /// The team as the hub lists it.
    pub async fn team(&self) -> Result<Team> {
        self.get(&self.api("/coordinators")).await
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
        assert!(is_exposed("http://hub.example"));
        assert!(!is_exposed("https://hub.example"));
        assert!(!is_exposed("http://127.0.0.1:8080"));
        // A name that merely starts like a loopback address is not one.
        assert!(!is_local_or_onion("127.attacker.example"));
        assert!(is_exposed("http://127.attacker.example"));
    }
}

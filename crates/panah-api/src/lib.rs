//! The JSON bodies of the coordinators' API (`/api/v1/`), written once: `panah-server`
//! serialises the answers and reads the requests, the coordinator's tools do the opposite,
//! so the two cannot drift apart.
//!
//! Plain data only: no HTTP, no SQL, no validation (the hub checks every field it reads, the
//! client every field it uses). Requests refuse unknown fields, so a typo in a client is a
//! clear 400 rather than a silently ignored setting; answers accept unknown fields, so a
//! newer hub can add some without breaking older clients.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST login/challenge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    pub collective: String,
    /// `ed25519:BASE64`, as in the coordinator's public line.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub challenge_id: String,
    /// Base64 of the random bytes to sign (see `panah_core::auth::login_message`).
    pub challenge: String,
    pub expires_at: String,
}

/// `POST login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub challenge_id: String,
    /// Base64 of the Ed25519 signature of the login message.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIn {
    pub token: String,
    pub expires_at: String,
    pub collective: String,
    pub fingerprint: String,
}

/// `GET c/{slug}/coordinators`: the team as the hub lists it. Coordinators' tools trust
/// none of it but the origins, which they pin on first use: the team they act on is the
/// one they verify from the signed team log (`/c/{slug}/team/…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub collective: String,
    /// The caller's fingerprint.
    pub you: String,
    pub coordinators: Vec<Member>,
    /// The origin the hub gives (or gave) the collective's ledger.
    #[serde(default)]
    pub ledger_origin: String,
    /// The origin of the collective's team log.
    #[serde(default)]
    pub team_origin: String,
    /// Entries in the team log (0: not started; its founder starts it).
    #[serde(default)]
    pub team_size: u64,
    /// Keys the operator proposed: nothing until a coordinator signs them onto the team.
    #[serde(default)]
    pub invitations: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub fingerprint: String,
    /// `age1…`
    pub recipient: String,
    /// `ed25519:BASE64`
    pub signing_key: String,
    pub label: String,
    pub added_at: String,
}

/// `GET c/{slug}/conversations[/{id}]`: the inbox, ciphertext only (by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub created_on: String,
    pub last_on: String,
    pub expires_on: String,
    /// The sender's reply key (`age1…`), derived from their codename.
    pub reply_recipient: String,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    /// `sender` or `coordinator`.
    pub author: String,
    pub created_on: String,
    /// Bytes of ciphertext.
    pub size: i64,
    pub files: Vec<File>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub id: i64,
    /// Bytes of ciphertext.
    pub size: i64,
}

/// What a `POST` that creates something answers (a reply's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub id: i64,
}

/// `GET|POST c/{slug}/ledger`, `PUT c/{slug}/ledger/goals`: the ledger's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInfo {
    pub origin: String,
    pub base_currency: String,
    pub size: u64,
    /// Base-currency minor units.
    pub target: Option<i64>,
    /// Category word → base-currency minor units.
    pub budgets: BTreeMap<String, i64>,
}

/// `POST c/{slug}/ledger`: start the ledger with a signed empty checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLedger {
    pub origin: String,
    pub base_currency: String,
    pub checkpoint: String,
}

/// `PUT c/{slug}/ledger/goals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goals {
    /// Base-currency minor units.
    pub target: Option<i64>,
    #[serde(default)]
    pub budgets: BTreeMap<String, i64>,
}

/// `POST c/{slug}/ledger/prepare` and `…/append`; `POST c/{slug}/team` (team entries, with
/// the checkpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub base_size: u64,
    /// Canonical entry texts (`panah-ledger-entry 1\n…`).
    pub entries: Vec<String>,
    /// Only for `append`: the signed note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// The tree a batch makes: what `prepare` and `append` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    pub size: u64,
    /// Base64, as in a C2SP checkpoint.
    pub root: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names are the API: these are the bodies older clients send and read.
    #[test]
    fn bodies_keep_their_field_names() {
        let batch = Batch {
            base_size: 3,
            entries: vec!["e".into()],
            checkpoint: None,
        };
        assert_eq!(
            serde_json::to_string(&batch).unwrap_or_default(),
            r#"{"base_size":3,"entries":["e"]}"#
        );
        let goals: Goals = serde_json::from_str(r#"{"target":5}"#).unwrap_or(Goals {
            target: None,
            budgets: BTreeMap::new(),
        });
        assert_eq!(goals.target, Some(5));
        assert!(serde_json::from_str::<LoginRequest>(
            r#"{"challenge_id":"a","signature":"b","extra":1}"#
        )
        .is_err());
        // An answer with a field this version does not know still reads.
        let head: Result<TreeHead, _> =
            serde_json::from_str(r#"{"size":1,"root":"AA==","new":true}"#);
        assert!(head.is_ok());
    }
}

/// One record as the hub keeps it (`GET c/{slug}/records`): opaque to the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordItem {
    /// 32 lower-case hex digits, chosen by the device that created it.
    pub id: String,
    pub version: i64,
    /// The collective's change number of this version.
    pub seq: i64,
    /// The day it changed (`YYYY-MM-DD`).
    pub day: String,
    /// Base64 of the age file holding the record's data key, to every coordinator.
    pub wrapped: String,
    /// Base64 of the age file of the signed version, padded, to the data key.
    pub body: String,
}

/// `GET c/{slug}/records?since=SEQ`: changes after `since`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPage {
    pub records: Vec<RecordItem>,
    /// The cursor to ask from next.
    pub next: i64,
    /// Whether more changes follow at once.
    pub more: bool,
}

/// `PUT c/{slug}/records/{id}`: a new version of the record, written only if the record is
/// at `base` (absent: it must not exist yet). `version` is `base + 1` (1 for a new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPut {
    #[serde(default)]
    pub base: Option<i64>,
    pub version: i64,
    pub wrapped: String,
    pub body: String,
}

/// The answer to a record written or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStored {
    pub seq: i64,
}

/// `POST c/{slug}/records/batch`: several changes in one transaction, each written only if
/// its record is at `base`. A change without `wrapped` and `body` deletes the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBatch {
    pub changes: Vec<RecordChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordChange {
    pub id: String,
    #[serde(default)]
    pub base: Option<i64>,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// One result per change, in order: its change number, or the refusal (status 412: the
/// record changed meanwhile; 507: the collective is full).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResults {
    pub results: Vec<RecordResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

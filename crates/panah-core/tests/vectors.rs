//! Fixed, byte-for-byte vectors for every format that data already deployed depends on.
//! A codename given to a sender months ago must still find its conversation, a signed
//! ledger must still verify, a coordinator's client must still log in: if one of these
//! fails, the change broke deployed data — do not update the vector, keep the format (or
//! add a new version beside the old one).
//!
//! The HKDF values were computed independently (Python's `hmac` and `hashlib`, RFC 5869)
//! and agree; the rest are spelled out as the text the formats document.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use panah_core::envelope::{Author, Envelope, FileEntry};
use panah_core::ledger::{Amount, Category, Currency, DatePrecision, Entry, Kind, Rail};
use panah_core::tlog::tiles::encode_bundle;
use panah_core::tlog::tree::{checkpoint_body, leaf_hash};
use panah_core::{auth, hex, CheckKey, Codename, Lang, Slug, Timestamp};
use sha2::{Digest, Sha256};

const SECRET: &[u8] = b"panah test vector secret";

#[test]
fn a_codename_derives_the_same_lookup_and_reply_keys_for_ever() {
    let key = CheckKey::derive(SECRET);
    let slug = Slug::parse("roshanai").unwrap();
    let c = Codename::parse("96361 60564 87654 81756 04092 86388 33459", &key).unwrap();
    let keys = c.derive(SECRET, &slug);
    assert_eq!(
        hex(&keys.lookup),
        "aaf6c178809c4a46c8de33b3d62b42255cf31789f123572db4f4af6754d40826"
    );
    assert_eq!(
        keys.reply.to_public().to_string(),
        "age1h95hq0et7n0euxxuzud4cvnxahzul3mlx3y0x2szjxe39ea65u8qwp6wpj"
    );
    // A 28-digit codename given out before check digits.
    let old = Codename::parse("1234 5678 9012 3456 7890 1234 5678", &key).unwrap();
    let keys = old.derive(SECRET, &slug);
    assert_eq!(
        hex(&keys.lookup),
        "e5b1cf14dee8891e393f94e33f2a2465032f98e02809f331a5395919a2a596f2"
    );
    assert_eq!(
        keys.reply.to_public().to_string(),
        "age1pt5fel042qejdk7tgzqk8d7qx7pkqral0s64e42ex2x4cpjcyqhszqj7n4"
    );
}

#[test]
fn the_login_message_is_fixed() {
    let slug = Slug::parse("roshanai").unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let message = auth::login_message(&slug, &key, &[1; 32]);
    assert_eq!(String::from_utf8(message).unwrap(), "panah api login v1\ncollective: roshanai\nkey: 6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=\nchallenge: AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n");
}

#[test]
fn the_envelope_is_fixed() {
    let envelope = Envelope {
        from: Author::Sender,
        sent: Timestamp::parse("2021-08-15T06:30:00Z").unwrap(),
        files: vec![FileEntry {
            size: 4,
            sha256: hex(&Sha256::digest(b"\xff\xd8\xff\xd9")),
            scrubbed: true,
            content_type: "image/jpeg".into(),
            name: "photo.jpg".into(),
        }],
        body: "نیاز به دارو داریم.\nWe need medicine.".into(),
    };
    assert_eq!(String::from_utf8(envelope.to_bytes()).unwrap(), "panah-message: 1\nfrom: sender\nsent: 2021-08-15T06:30:00Z\nfile: 4 32461d5bd1773012acef0ba15636752949bd7c2ce50f9172159d9f56cf0dd9af scrubbed image/jpeg photo.jpg\nlength: 52\n\nنیاز به دارو داریم.\nWe need medicine.");
    let padded = envelope.to_padded_bytes();
    assert_eq!(padded.len(), 1024);
    let coordinator = Envelope {
        from: Author::Coordinator("1a2b-3c4d-5e6f-7a8b".into()),
        files: vec![],
        ..envelope
    };
    assert_eq!(String::from_utf8(coordinator.to_bytes()).unwrap(), "panah-message: 1\nfrom: coordinator 1a2b-3c4d-5e6f-7a8b\nsent: 2021-08-15T06:30:00Z\nlength: 52\n\nنیاز به دارو داریم.\nWe need medicine.");
}

fn entry() -> Entry {
    let afn = Currency::parse("AFN").unwrap();
    let usd = Currency::parse("USD").unwrap();
    Entry {
        kind: Kind::Income,
        date: time::macros::date!(2021 - 08 - 20),
        precision: DatePrecision::Week,
        category: Category::Food,
        amount: Amount::new(50_000, usd).unwrap(),
        base: Amount::new(4_300_000, afn).unwrap(),
        counter: None,
        reverses: None,
        rail: Rail::TransferAgent,
        memo: "Flour and oil for twelve families".into(),
        translations: BTreeMap::new(),
        receipt: Some([3; 32]),
        coordinator: "1a2b-3c4d-5e6f-7a8b".into(),
    }
}

#[test]
fn a_ledger_leaf_is_fixed() {
    let v1 = entry().to_leaf();
    assert_eq!(String::from_utf8(v1.clone()).unwrap(), "panah-ledger-entry 1\nkind income\ndate 2021-08-20 week\ncategory food\namount 50000 USD\nbase 4300000 AFN\nrail transfer-agent\nreceipt 0303030303030303030303030303030303030303030303030303030303030303\ncoordinator 1a2b-3c4d-5e6f-7a8b\nmemo Flour and oil for twelve families\n");
    assert_eq!(
        hex(&leaf_hash(&v1)),
        "4f7808c38e487a2d2b05e378de1e22c9e66c9c5cb0d4e5ceb0eb3f2181efa7ec"
    );
    let mut e = entry();
    e.translations
        .insert(Lang::Dari, "آرد و روغن برای دوازده خانواده".into());
    e.translations
        .insert(Lang::Pashto, "د دولسو کورنیو لپاره اوړه او غوړي".into());
    let v2 = e.to_leaf();
    assert_eq!(String::from_utf8(v2.clone()).unwrap(), "panah-ledger-entry 2\nkind income\ndate 2021-08-20 week\ncategory food\namount 50000 USD\nbase 4300000 AFN\nrail transfer-agent\nreceipt 0303030303030303030303030303030303030303030303030303030303030303\ncoordinator 1a2b-3c4d-5e6f-7a8b\nmemo Flour and oil for twelve families\nmemo-fa آرد و روغن برای دوازده خانواده\nmemo-ps د دولسو کورنیو لپاره اوړه او غوړي\n");
    assert_eq!(Entry::from_leaf(&v2).unwrap(), e);
}

#[test]
fn bundles_and_checkpoints_are_fixed() {
    let bundle = encode_bundle([b"a".as_slice(), b"", b"xyz"]).unwrap();
    assert_eq!(
        hex(&bundle),
        "000161" /* 1 byte: a */
            .to_owned()
            + "0000"
            + "0003"
            + "78797a"
    );
    let body = checkpoint_body("hub.example/c/roshanai/ledger", 3, &[9; 32]).unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "hub.example/c/roshanai/ledger\n3\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"
    );
}

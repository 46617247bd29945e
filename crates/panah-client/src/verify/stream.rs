//! `panah verify ledger` in memory that does not grow with the ledger: the entry bundles
//! and level-0 hash tiles are downloaded 64 at a time and fed, in order, to
//! [`panah_core::ledger::stream::Stream`] on the blocking pool; only what the stream keeps
//! (the tree's right edge, one hash per 256 entries, the reversed entries and the totals)
//! stays. What was checked before, at this address and under this origin, must be a
//! prefix of it.

use std::collections::HashMap;

use panah_core::ledger::audit::AuditError;
use panah_core::ledger::stream::{Fed, Stream, Streamed};
use panah_core::tlog::check::{b64, CheckError, MAX_CHECKED_SIZE};
use panah_core::tlog::tiles::{decode_bundle, TileKind, TileRef, WIDTH};
use panah_core::tlog::tree::VerifiedCheckpoint;
use panah_core::tlog::LogKind;
use panah_core::Timestamp;

use super::{origin_state_path, State, Trust, Trusted, Verifier, VerifyError};

/// Tiles downloaded before they are fed (64 bundles of at most 256 entries: a few MB).
const WINDOW: u64 = 64;

/// A ledger verified by streaming.
#[derive(Debug)]
pub struct StreamedLedger {
    pub verifier: Verifier,
    pub checkpoint: VerifiedCheckpoint,
    pub streamed: Streamed,
    pub trusted: Trusted,
}

fn entries_tile(n: u64, width: u16) -> TileRef {
    TileRef {
        kind: TileKind::Entries,
        index: n,
        width,
    }
}

/// Verifies the ledger at `address` tile by tile and remembers it.
pub async fn verify_ledger_streaming(
    address: &str,
    trust: &Trust,
) -> Result<StreamedLedger, VerifyError> {
    let (mut verifier, note) = Verifier::open(address, LogKind::Ledger, trust).await?;
    // Memory no longer grows with the claim; the limit bounds the download only.
    verifier.source.max_entries = trust.max_entries.unwrap_or(MAX_CHECKED_SIZE);
    let trusted = verifier.trusted(&trust.keys).await?;
    let at = verifier.source.to_string();
    let checkpoint =
        super::signed_checkpoint(&verifier.source, &note, &trusted.keys, &verifier.origin)?;
    let origin_path = if verifier.by_origin {
        Some(origin_state_path(&verifier.origin)?)
    } else {
        None
    };
    let by_origin = match &origin_path {
        Some(p) => State::load(p)?.filter(|s| s.origin == verifier.origin),
        None => None,
    };
    let mut prefixes: Vec<u64> = Vec::new();
    for s in verifier.state.iter().chain(by_origin.iter()) {
        if s.size > checkpoint.size && Some(s) == verifier.state.as_ref() {
            return Err(VerifyError::NotConsistent {
                at,
                why: CheckError::RolledBack {
                    old: s.size,
                    new: checkpoint.size,
                },
            });
        }
        if s.size <= checkpoint.size {
            prefixes.push(s.size);
        }
    }
    let audit = |why: AuditError| VerifyError::Audit {
        at: at.clone(),
        size: checkpoint.size,
        why,
    };
    let mut stream = Stream::new(checkpoint.size, checkpoint.root, &prefixes).map_err(audit)?;
    let tiles = stream.tiles();
    let mut n = 0;
    while n < tiles {
        let upto = (n + WINDOW).min(tiles);
        let mut wanted = Vec::new();
        for t in n..upto {
            let width = stream.width(t);
            wanted.push(entries_tile(t, width));
            wanted.push(TileRef {
                kind: TileKind::Hashes { level: 0 },
                index: t,
                width,
            });
        }
        let mut got = verifier.source.tiles(&wanted).await?;
        for t in n..upto {
            let width = stream.width(t);
            let tile = entries_tile(t, width);
            let bytes = got.remove(&tile).ok_or_else(|| {
                audit(AuditError::Log(CheckError::MissingTile {
                    path: tile.path(),
                }))
            })?;
            let leaves = decode_bundle(&bytes).map_err(|why| {
                audit(AuditError::Log(CheckError::BadBundle {
                    path: tile.path(),
                    why,
                }))
            })?;
            let hashes = got.remove(&TileRef {
                kind: TileKind::Hashes { level: 0 },
                index: t,
                width,
            });
            loop {
                let (back, fed) = tokio::task::spawn_blocking({
                    let leaves = leaves.clone();
                    let hashes = hashes.clone();
                    move || {
                        let fed = stream.feed(t, &leaves, hashes.as_deref());
                        (stream, fed)
                    }
                })
                .await
                .map_err(|e| VerifyError::Stopped(e.to_string()))?;
                stream = back;
                match fed.map_err(audit)? {
                    Fed::Done => break,
                    Fed::Need(earlier) => {
                        let refs: Vec<TileRef> = earlier
                            .iter()
                            .map(|&e| entries_tile(e, WIDTH as u16))
                            .collect();
                        let mut again: HashMap<TileRef, Vec<u8>> =
                            verifier.source.tiles(&refs).await?;
                        for r in refs {
                            let bytes = again.remove(&r).ok_or_else(|| {
                                audit(AuditError::Log(CheckError::MissingTile { path: r.path() }))
                            })?;
                            let leaves = decode_bundle(&bytes).map_err(|why| {
                                audit(AuditError::Log(CheckError::BadBundle {
                                    path: r.path(),
                                    why,
                                }))
                            })?;
                            stream.provide(r.index, &leaves).map_err(audit)?;
                        }
                    }
                }
            }
        }
        n = upto;
    }
    let streamed = stream.finish().map_err(audit)?;
    let root_at = |size: u64| {
        streamed
            .prefix_roots
            .iter()
            .find(|(p, _)| *p == size)
            .map(|(_, r)| *r)
    };
    for s in verifier.state.iter().chain(by_origin.iter()) {
        if let Some(new_root) = root_at(s.size) {
            if new_root != s.root {
                return Err(VerifyError::NotConsistent {
                    at,
                    why: CheckError::Forked {
                        size: s.size,
                        old_root: b64(&s.root),
                        new_root: b64(&new_root),
                    },
                });
            }
        }
    }
    let remembered = |path: &std::path::Path| {
        State {
            origin: verifier.origin.clone(),
            keys: trusted.keys.clone(),
            size: streamed.size,
            root: streamed.root,
            checked: Timestamp::now(),
        }
        .save(path)
    };
    remembered(&verifier.state_path)?;
    if let Some(p) = &origin_path {
        if by_origin.as_ref().is_none_or(|s| s.size <= streamed.size) {
            remembered(p)?;
        }
    }
    Ok(StreamedLedger {
        verifier,
        checkpoint,
        streamed,
        trusted,
    })
}

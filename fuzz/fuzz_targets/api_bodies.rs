//! Every body of the coordinators' API, as a stranger sends it to the hub and as a hostile
//! hub answers a device: a body that reads writes back to one that reads the same.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use panah_api::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round<T: Serialize + DeserializeOwned + PartialEq + Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let bytes = serde_json::to_vec(&value).expect("serialises");
        let again: T = serde_json::from_slice(&bytes).expect("what is written reads");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    round::<ChallengeRequest>(data);
    round::<Challenge>(data);
    round::<LoginRequest>(data);
    round::<LoggedIn>(data);
    round::<Team>(data);
    round::<Member>(data);
    round::<Vec<Conversation>>(data);
    round::<Message>(data);
    round::<File>(data);
    round::<Created>(data);
    round::<LedgerInfo>(data);
    round::<CreateLedger>(data);
    round::<Goals>(data);
    round::<Batch>(data);
    round::<TreeHead>(data);
    round::<RecordItem>(data);
    round::<RecordPage>(data);
    round::<RecordPut>(data);
    round::<RecordStored>(data);
    round::<RecordBatch>(data);
    round::<RecordChange>(data);
    round::<RecordResults>(data);
    round::<RecordResult>(data);
});

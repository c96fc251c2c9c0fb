//! What the router answered, message by message: the harness's side of the bargain.
//!
//! Invariant: an id is in `accepted` only if a `202` naming that id arrived; `accepted` is in
//! the order those answers arrived.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use uuid::Uuid;

use crate::client::{Reply, Transport};
use crate::corpus::Msg;

/// A message the router acknowledged with `202`.
#[derive(Debug, Clone)]
pub struct Acceptance {
    pub id: Uuid,
    pub lane: usize,
    pub digest: [u8; 32],
    pub size: usize,
    /// First time the harness sent it (the earliest moment it could have been stored).
    pub first_sent: SystemTime,
    /// When the `202` arrived.
    pub acked: SystemTime,
    /// The `202` said `"duplicate": true`: an earlier send (in doubt) had already stored it.
    pub duplicate_answer: bool,
    pub sends: u32,
}

/// A definite answer other than `202` or back-pressure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: Uuid,
    pub lane: usize,
    pub status: u16,
    /// The problem `type`, empty when the body was no problem document.
    pub kind: String,
    pub retry_after: Option<String>,
    pub detail: String,
}

/// How one send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `202` naming this message's id.
    Accepted { duplicate: bool },
    /// `503` with a problem `type` (`overloaded`, `storage-unavailable`): not stored, retry.
    BackPressure(Refusal),
    /// Any other definite answer.
    Refused(Refusal),
    /// No answer: the message may or may not be stored; only a resubmission tells.
    InDoubt(Transport),
}

/// Classifies the answer to sending `msg`.
pub fn classify(msg: &Msg, answer: Result<Reply, Transport>) -> Outcome {
    let reply = match answer {
        Ok(r) => r,
        Err(t) => return Outcome::InDoubt(t),
    };
    let json = reply.json();
    if reply.status == 202 && json["id"].as_str() == Some(msg.id.to_string().as_str()) {
        return Outcome::Accepted {
            duplicate: json["duplicate"].as_bool().unwrap_or(false),
        };
    }
    let refusal = Refusal {
        id: msg.id,
        lane: msg.lane,
        status: reply.status,
        kind: json["type"].as_str().unwrap_or("").to_owned(),
        retry_after: reply
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        detail: json["detail"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(200)
                    .collect()
            }),
    };
    if reply.status == 503 && !refusal.kind.is_empty() {
        Outcome::BackPressure(refusal)
    } else {
        Outcome::Refused(refusal)
    }
}

/// Everything the router answered during a scenario.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    accepted: Vec<Acceptance>,
    index: HashMap<Uuid, usize>,
    /// Definite refusals of valid messages (each one is a finding).
    pub refused: Vec<Refusal>,
    /// Sends without an answer (connection refused or reset, timeout).
    pub in_doubt: u64,
    /// `503` answers by problem type (the message was sent again later).
    pub back_pressure: BTreeMap<String, u64>,
    /// `202` answers that came twice for one id (each one is a finding).
    pub double_acks: Vec<Uuid>,
}

impl Ledger {
    /// Records a `202` for `msg` (whose `sends`/`first_sent` include this send).
    pub fn accept(&mut self, msg: &Msg, duplicate: bool, acked: SystemTime) {
        if self.index.contains_key(&msg.id) {
            self.double_acks.push(msg.id);
            return;
        }
        self.index.insert(msg.id, self.accepted.len());
        self.accepted.push(Acceptance {
            id: msg.id,
            lane: msg.lane,
            digest: msg.digest,
            size: msg.bytes.len(),
            first_sent: msg.first_sent.unwrap_or(acked),
            acked,
            duplicate_answer: duplicate,
            sends: msg.sends,
        });
    }

    /// Acknowledged messages in the order their `202`s arrived.
    pub fn accepted(&self) -> &[Acceptance] {
        &self.accepted
    }

    /// Acknowledged messages of one lane, in `202` order.
    pub fn accepted_on(&self, lane: usize) -> Vec<&Acceptance> {
        self.accepted.iter().filter(|a| a.lane == lane).collect()
    }

    pub fn get(&self, id: &Uuid) -> Option<&Acceptance> {
        self.index.get(id).and_then(|&i| self.accepted.get(i))
    }

    pub fn len(&self) -> usize {
        self.accepted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accepted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg() -> Msg {
        Msg {
            id: Uuid::new_v4(),
            lane: 0,
            bytes: Bytes::from_static(b"<x/>"),
            digest: [7; 32],
            first_sent: None,
            sends: 1,
        }
    }

    fn reply(status: u16, json: serde_json::Value, retry_after: Option<&str>) -> Reply {
        let mut headers = http::HeaderMap::new();
        if let Some(r) = retry_after {
            headers.insert(http::header::RETRY_AFTER, r.parse().unwrap());
        }
        Reply {
            status,
            headers,
            body: Bytes::from(json.to_string()),
        }
    }

    #[test]
    fn a_202_naming_the_message_is_accepted() {
        let m = msg();
        let r = reply(
            202,
            serde_json::json!({"id": m.id.to_string(), "duplicate": true}),
            None,
        );
        assert_eq!(classify(&m, Ok(r)), Outcome::Accepted { duplicate: true });
    }

    #[test]
    fn a_202_naming_another_id_is_a_refusal_not_an_acceptance() {
        let m = msg();
        let r = reply(
            202,
            serde_json::json!({"id": Uuid::new_v4().to_string()}),
            None,
        );
        assert!(matches!(classify(&m, Ok(r)), Outcome::Refused(f) if f.status == 202));
    }

    #[test]
    fn a_503_problem_is_back_pressure_with_its_type_and_retry_after() {
        let m = msg();
        let r = reply(
            503,
            serde_json::json!({"type": "storage-unavailable", "detail": "disk"}),
            Some("60"),
        );
        match classify(&m, Ok(r)) {
            Outcome::BackPressure(f) => {
                assert_eq!(f.kind, "storage-unavailable");
                assert_eq!(f.retry_after.as_deref(), Some("60"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_transport_failure_is_in_doubt() {
        let m = msg();
        let t = Transport::Failed("connection refused".into());
        assert_eq!(classify(&m, Err(t.clone())), Outcome::InDoubt(t));
    }

    #[test]
    fn a_second_202_for_one_id_is_recorded_as_a_double_ack() {
        let mut l = Ledger::default();
        let m = msg();
        l.accept(&m, false, SystemTime::now());
        l.accept(&m, true, SystemTime::now());
        assert_eq!(l.len(), 1);
        assert_eq!(l.double_acks, vec![m.id]);
    }
}

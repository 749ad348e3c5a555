//! Data-driven scenario tests (etcd's `testdata/*.txt` interaction tests): each file in
//! `tests/testdata/` is a script of commands, each followed by `----` and the expected trace.
//! Run with `REWRITE=1` to regenerate the expected traces, then review the diff.
//!
//! Commands: `add-nodes N`, `add-empty ID`, `campaign ID`, `propose ID PROPOSAL_ID TEXT`,
//! `flush ID`, `tick ID [COUNT]`, `tick-all COUNT`, `stabilize`, `partition 1 2 | 3`, `heal`,
//! `change ID add-learner|promote|remove|transfer NODE`, `replace ID REMOVE PROMOTE`,
//! `compact ID`, `crash ID`, `restart ID`, `status`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use pedigree_consensus::eraftpb::Message;
use pedigree_consensus::{
    Apply, DEFERRED_SNAPSHOT, Input, MemLogStore, MembershipChange, Output, Replica, ReplicaConfig,
    WireMessage, wire,
};
use prost::Message as _;

#[derive(Default)]
struct Env {
    replicas: BTreeMap<u64, Replica<MemLogStore>>,
    crashed: BTreeMap<u64, MemLogStore>,
    queue: VecDeque<(u64, u64, WireMessage)>,
    sides: Vec<BTreeSet<u64>>,
    out: String,
}

fn config(id: u64) -> ReplicaConfig {
    let mut config = ReplicaConfig::new(id);
    config.election_ticks_min = 10 + 3 * id as usize;
    config.election_ticks_max = 11 + 3 * id as usize;
    config.snapshot_chunk_bytes = 16;
    config.snapshot_bytes_max = 16 * 1024;
    config
}

/// A stand-in state-machine snapshot, long enough to need several 16-byte chunks.
fn snapshot_data(id: u64, applied: u64) -> Vec<u8> {
    format!("state of node {id} at index {applied}").into_bytes()
}

fn describe(message: &WireMessage) -> String {
    match message {
        WireMessage::Raft(bytes) => {
            let message = Message::decode(bytes.as_slice()).expect("valid raft message");
            let mut text = format!("{:?} term={}", message.get_msg_type(), message.term);
            if message.index != 0 || message.log_term != 0 {
                let _ = write!(text, " log={}/{}", message.index, message.log_term);
            }
            if !message.entries.is_empty() {
                let entries: Vec<String> = message
                    .entries
                    .iter()
                    .map(|entry| format!("{}/{}", entry.index, entry.term))
                    .collect();
                let _ = write!(text, " entries=[{}]", entries.join(","));
            }
            if message.commit != 0 {
                let _ = write!(text, " commit={}", message.commit);
            }
            if message.reject {
                text.push_str(" reject");
            }
            if let Some(snapshot) = &message.snapshot
                && snapshot.get_metadata().index != 0
            {
                let _ = write!(text, " snapshot={}", snapshot.get_metadata().index);
            }
            text
        }
        WireMessage::Forward { term, proposals } => {
            let ids: Vec<u64> = proposals.iter().map(|proposal| proposal.id).collect();
            format!("Forward term={term} ids={ids:?}")
        }
        WireMessage::ForwardAck { term, index, ids } => {
            format!("ForwardAck entry={index}/{term} ids={ids:?}")
        }
        WireMessage::ForwardReject { ids, reason } => {
            format!("ForwardReject ids={ids:?} {reason:?}")
        }
        WireMessage::SnapshotChunk(chunk) => format!(
            "SnapshotChunk {}/{} snapshot={} bytes={}",
            chunk.seq,
            chunk.count,
            chunk.snapshot_index,
            chunk.data.len()
        ),
    }
}

impl Env {
    fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    fn handle(&mut self, id: u64, input: Input) {
        let Some(replica) = self.replicas.get_mut(&id) else {
            self.line(format!("{id} is down"));
            return;
        };
        match replica.handle(input) {
            Ok(output) => self.absorb(id, output),
            Err(error) => self.line(format!("{id} error: {error}")),
        }
    }

    fn absorb(&mut self, id: u64, output: Output) {
        for apply in &output.apply {
            let text = match apply {
                Apply::Restore { index, term, data } => {
                    format!(
                        "{id} restore {index}/{term} {:?}",
                        String::from_utf8_lossy(data)
                    )
                }
                Apply::Entry {
                    index,
                    term,
                    proposals,
                } => {
                    let items: Vec<String> = proposals
                        .iter()
                        .map(|proposal| {
                            format!(
                                "{}:{}:{}",
                                proposal.origin,
                                proposal.id,
                                String::from_utf8_lossy(&proposal.payload)
                            )
                        })
                        .collect();
                    format!("{id} apply {index}/{term} [{}]", items.join(" "))
                }
                Apply::Membership {
                    index,
                    term,
                    conf_state,
                } => format!(
                    "{id} membership {index}/{term} voters={:?} learners={:?} outgoing={:?}",
                    conf_state.voters, conf_state.learners, conf_state.voters_outgoing
                ),
            };
            self.line(text);
        }
        for (proposal, fate) in &output.fates {
            self.line(format!("{id} fate {proposal} {fate:?}"));
        }
        for outbound in output.messages {
            self.queue.push_back((id, outbound.to, outbound.message));
        }
        if output.snapshot_wanted {
            let applied = self.replicas[&id].status().applied_index;
            self.line(format!("{id} snapshot wanted; compact at {applied}"));
            self.handle(
                id,
                Input::Compact {
                    data: snapshot_data(id, applied),
                },
            );
        }
    }

    fn blocked(&self, from: u64, to: u64) -> bool {
        let side = |id: u64| self.sides.iter().position(|side| side.contains(&id));
        matches!((side(from), side(to)), (Some(left), Some(right)) if left != right)
    }

    fn stabilize(&mut self) {
        for _ in 0..10_000 {
            let Some((from, to, message)) = self.queue.pop_front() else {
                return;
            };
            let description = describe(&message);
            if self.blocked(from, to) || !self.replicas.contains_key(&to) {
                self.line(format!("{from}->{to} {description} (dropped)"));
                continue;
            }
            self.line(format!("{from}->{to} {description}"));
            let message = wire::decode(&wire::encode(&message)).expect("round trip");
            self.handle(to, Input::Receive { from, message });
        }
        panic!("stabilize did not quiesce");
    }

    fn run(&mut self, command: &str) -> String {
        self.out.clear();
        let words: Vec<&str> = command.split_whitespace().collect();
        let number = |position: usize| -> u64 { words[position].parse().expect("number argument") };
        match words[0] {
            "add-nodes" => {
                let voters: Vec<u64> = (1..=number(1)).collect();
                for id in &voters {
                    let replica =
                        Replica::new(config(*id), MemLogStore::new_with_voters(&voters)).unwrap();
                    self.replicas.insert(*id, replica);
                }
                self.line(format!("voters {voters:?}"));
            }
            "add-empty" => {
                let id = number(1);
                self.replicas
                    .insert(id, Replica::new(config(id), MemLogStore::new()).unwrap());
                self.line(format!("empty node {id}"));
            }
            "campaign" => self.handle(number(1), Input::Campaign),
            "propose" => self.handle(
                number(1),
                Input::Propose {
                    id: number(2),
                    payload: words[3].as_bytes().to_vec(),
                },
            ),
            "flush" => self.handle(number(1), Input::Flush),
            "tick" => {
                let count = if words.len() > 2 { number(2) } else { 1 };
                for _ in 0..count {
                    self.handle(number(1), Input::Tick);
                }
            }
            "tick-all" => {
                for _ in 0..number(1) {
                    let ids: Vec<u64> = self.replicas.keys().copied().collect();
                    for id in ids {
                        self.handle(id, Input::Tick);
                    }
                }
            }
            "stabilize" => self.stabilize(),
            "partition" => {
                let text = words[1..].join(" ");
                self.sides = text
                    .split('|')
                    .map(|side| {
                        side.split_whitespace()
                            .map(|id| id.parse().expect("node id"))
                            .collect()
                    })
                    .collect();
                self.line(format!("partition {:?}", self.sides));
            }
            "heal" => {
                self.sides.clear();
                self.line("healed");
            }
            "change" => {
                let node = number(3);
                let change = match words[2] {
                    "add-learner" => MembershipChange::AddLearner(node),
                    "promote" => MembershipChange::PromoteLearner(node),
                    "remove" => MembershipChange::RemoveNode(node),
                    "transfer" => MembershipChange::TransferLeader(node),
                    other => panic!("unknown change {other}"),
                };
                self.handle(number(1), Input::ChangeMembership(change));
            }
            "replace" => self.handle(
                number(1),
                Input::ChangeMembership(MembershipChange::ReplaceVoter {
                    remove: number(2),
                    promote: number(3),
                }),
            ),
            "compact" => {
                let id = number(1);
                let applied = self.replicas[&id].status().applied_index;
                self.handle(
                    id,
                    Input::Compact {
                        data: snapshot_data(id, applied),
                    },
                );
                let first = raft::Storage::first_index(self.replicas[&id].store()).unwrap();
                self.line(format!("{id} log starts at {first}"));
            }
            "compact-deferred" => {
                let id = number(1);
                self.handle(
                    id,
                    Input::Compact {
                        data: DEFERRED_SNAPSHOT.to_vec(),
                    },
                );
                let first = raft::Storage::first_index(self.replicas[&id].store()).unwrap();
                self.line(format!("{id} log starts at {first}"));
            }
            "crash" => {
                let id = number(1);
                let replica = self.replicas.remove(&id).expect("running node");
                self.crashed.insert(id, replica.into_store());
                self.line(format!("{id} crashed"));
            }
            "restart" => {
                let id = number(1);
                let store = self.crashed.remove(&id).expect("crashed node");
                self.replicas
                    .insert(id, Replica::new(config(id), store).unwrap());
                self.line(format!("{id} restarted"));
            }
            "status" => {
                let statuses: Vec<_> = self.replicas.values().map(Replica::status).collect();
                for status in statuses {
                    self.line(format!(
                        "{} {:?} term={} leader={:?} commit={} applied={} last={} voters={:?} learners={:?}",
                        status.id,
                        status.role,
                        status.term,
                        status.leader_id,
                        status.commit_index,
                        status.applied_index,
                        status.last_index,
                        status.conf_state.voters,
                        status.conf_state.learners
                    ));
                }
            }
            other => panic!("unknown command {other}"),
        }
        std::mem::take(&mut self.out)
    }
}

/// Runs one script; returns the rewritten text.
fn run_script(text: &str) -> (String, Vec<String>) {
    let mut env = Env::default();
    let mut rewritten = String::new();
    let mut mismatches = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            rewritten.push_str(line);
            rewritten.push('\n');
            continue;
        }
        let command = line.to_string();
        assert_eq!(
            lines.next(),
            Some("----"),
            "command {command:?} must be followed by ----"
        );
        let mut expected = String::new();
        while let Some(next) = lines.peek() {
            if next.is_empty() {
                break;
            }
            expected.push_str(next);
            expected.push('\n');
            lines.next();
        }
        let actual = env.run(&command);
        if actual != expected {
            mismatches.push(format!(
                "command `{command}`\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
        let _ = write!(rewritten, "{command}\n----\n{actual}");
    }
    (rewritten, mismatches)
}

#[test]
fn scenarios() {
    let directory = manifest_dir().join("tests/testdata");
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let (rewritten, mismatches) = run_script(&text);
        if rewrite {
            std::fs::write(&path, rewritten).unwrap();
        } else if !mismatches.is_empty() {
            failures.push(format!("{}:\n{}", path.display(), mismatches.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "scenario mismatches (REWRITE=1 regenerates):\n{}",
        failures.join("\n")
    );
}

/// The package directory as cargo gives it at run time (right even in a shared target dir).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}

//! Replica behaviour asserted on its outputs (openraft's `take_commands()` style): inputs go
//! in, and each test checks the messages, applies and fates that come out, and what the store
//! holds at that moment.

use std::collections::BTreeMap;

use pedigree_consensus::eraftpb::{Message, MessageType};
use pedigree_consensus::{
    Apply, DropReason, Error, Input, MemLogStore, MembershipChange, Output, ProposalFate, Replica,
    ReplicaConfig, Role, WireMessage, wire,
};
use prost::Message as _;

fn config(id: u64) -> ReplicaConfig {
    let mut config = ReplicaConfig::new(id);
    // One-value election range: deterministic timeouts.
    config.election_ticks_min = 10 + id as usize;
    config.election_ticks_max = 11 + id as usize;
    // Tiny chunks, so every snapshot in these tests is streamed in several pieces.
    config.snapshot_chunk_bytes = 4;
    config.snapshot_bytes_max = 4 * 1024;
    config
}

/// A tiny lossless cluster that delivers messages until nothing is left.
struct Cluster {
    replicas: BTreeMap<u64, Replica<MemLogStore>>,
    fates: Vec<(u64, u64, ProposalFate)>,
    applied: BTreeMap<u64, Vec<Apply>>,
    chunks_sent: usize,
}

impl Cluster {
    fn new(voters: &[u64]) -> Self {
        let replicas = voters
            .iter()
            .map(|id| {
                (
                    *id,
                    Replica::new(config(*id), MemLogStore::new_with_voters(voters)).unwrap(),
                )
            })
            .collect();
        Self {
            replicas,
            fates: Vec::new(),
            applied: BTreeMap::new(),
            chunks_sent: 0,
        }
    }

    fn add_empty(&mut self, id: u64) {
        self.replicas
            .insert(id, Replica::new(config(id), MemLogStore::new()).unwrap());
    }

    fn input(&mut self, id: u64, input: Input) -> Result<(), Error> {
        let output = self.replicas.get_mut(&id).unwrap().handle(input)?;
        self.absorb(id, output);
        Ok(())
    }

    fn absorb(&mut self, id: u64, output: Output) {
        let mut queue = vec![(id, output)];
        for _ in 0..100_000 {
            let Some((from, output)) = queue.pop() else {
                return;
            };
            self.applied.entry(from).or_default().extend(output.apply);
            self.fates.extend(
                output
                    .fates
                    .into_iter()
                    .map(|(proposal, fate)| (from, proposal, fate)),
            );
            if output.snapshot_wanted {
                let data = format!("state of {from}").into_bytes();
                let next = self
                    .replicas
                    .get_mut(&from)
                    .unwrap()
                    .handle(Input::Compact { data })
                    .unwrap();
                queue.push((from, next));
            }
            for outbound in output.messages {
                if matches!(outbound.message, WireMessage::SnapshotChunk(_)) {
                    self.chunks_sent += 1;
                }
                let bytes = wire::encode(&outbound.message);
                let message = wire::decode(&bytes).unwrap();
                if let Some(replica) = self.replicas.get_mut(&outbound.to) {
                    let next = replica.handle(Input::Receive { from, message }).unwrap();
                    queue.push((outbound.to, next));
                }
            }
        }
        panic!("messages never quiesced");
    }

    fn tick_all(&mut self, ticks: usize) {
        for _ in 0..ticks {
            let ids: Vec<u64> = self.replicas.keys().copied().collect();
            for id in ids {
                self.input(id, Input::Tick).unwrap();
            }
        }
    }

    fn leader(&self) -> Option<u64> {
        self.replicas
            .values()
            .map(Replica::status)
            .find(|status| status.role == Role::Leader)
            .map(|status| status.id)
    }
}

#[test]
fn single_voter_commits_a_batch() {
    let mut replica = Replica::new(config(1), MemLogStore::new_with_voters(&[1])).unwrap();
    let output = replica.handle(Input::Campaign).unwrap();
    // The bootstrap snapshot is restored first, then the leader's no-op entry applies.
    assert!(matches!(
        output.apply[0],
        Apply::Restore {
            index: 1,
            term: 1,
            ..
        }
    ));
    assert!(output.messages.is_empty());
    assert_eq!(replica.status().role, Role::Leader);
    for id in 0..3 {
        let output = replica
            .handle(Input::Propose {
                id,
                payload: vec![id as u8 + 1],
            })
            .unwrap();
        assert!(output.fates.is_empty(), "batched, not yet proposed");
    }
    let output = replica.handle(Input::Flush).unwrap();
    let committed: Vec<_> = output.fates.iter().map(|(id, fate)| (*id, *fate)).collect();
    let index = replica.status().commit_index;
    assert_eq!(
        committed,
        (0..3)
            .map(|id| (id, ProposalFate::Committed { index }))
            .collect::<Vec<_>>()
    );
    let Some(Apply::Entry { proposals, .. }) = output.apply.last() else {
        panic!("no entry applied")
    };
    assert_eq!(proposals.len(), 3, "three payloads in one entry");
    assert_eq!(
        replica.store().entries_stored().last().unwrap().index,
        index
    );
}

/// A deferred compaction bounded by the state machine's durable index keeps every entry after
/// it, and one at or below the stored snapshot changes nothing.
#[test]
fn deferred_compaction_stops_at_the_durable_index() {
    let mut replica = Replica::new(config(1), MemLogStore::new_with_voters(&[1])).unwrap();
    replica.handle(Input::Campaign).unwrap();
    for id in 0..6 {
        replica
            .handle(Input::Propose {
                id,
                payload: vec![1],
            })
            .unwrap();
        replica.handle(Input::Flush).unwrap();
    }
    let applied = replica.status().applied_index;
    let first = |replica: &Replica<MemLogStore>| replica.store().entries_stored()[0].index;
    assert!(applied >= 7, "{applied}");
    assert_eq!(first(&replica), 2, "nothing compacted yet");
    replica
        .handle(Input::CompactDeferred {
            index_max: applied - 3,
        })
        .unwrap();
    assert_eq!(
        first(&replica),
        applied - 2,
        "compacted to the durable index"
    );
    replica
        .handle(Input::CompactDeferred {
            index_max: applied - 4,
        })
        .unwrap();
    assert_eq!(
        first(&replica),
        applied - 2,
        "an older durable index is a no-op"
    );
    replica
        .handle(Input::CompactDeferred {
            index_max: u64::MAX,
        })
        .unwrap();
    assert_eq!(
        replica.store().entries_stored().len(),
        0,
        "never past the applied index: {:?}",
        replica.store().entries_stored()
    );
}

#[test]
fn vote_is_persisted_before_the_response_leaves() {
    let mut replica = Replica::new(config(1), MemLogStore::new_with_voters(&[1, 2, 3])).unwrap();
    let request = Message {
        msg_type: MessageType::MsgRequestVote as i32,
        from: 2,
        to: 1,
        term: 5,
        log_term: 1,
        index: 1,
        ..Message::default()
    };
    let output = replica
        .handle(Input::Receive {
            from: 2,
            message: WireMessage::Raft(request.encode_to_vec()),
        })
        .unwrap();
    let responses: Vec<Message> = output
        .messages
        .iter()
        .map(|outbound| match &outbound.message {
            WireMessage::Raft(bytes) => Message::decode(bytes.as_slice()).unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(responses.len(), 1);
    assert_eq!(
        responses[0].get_msg_type(),
        MessageType::MsgRequestVoteResponse
    );
    assert!(!responses[0].reject);
    // When the output is handed back, the vote is already in the store.
    let hard_state = replica.store().hard_state();
    assert_eq!((hard_state.term, hard_state.vote), (5, 2));
}

#[test]
fn failed_write_poisons_and_releases_nothing() {
    let store = MemLogStore::new_with_voters(&[1, 2, 3]);
    let faults = store.write_faults();
    let mut replica = Replica::new(config(1), store).unwrap();
    faults.fail_next(1);
    let request = Message {
        msg_type: MessageType::MsgRequestVote as i32,
        from: 2,
        to: 1,
        term: 5,
        log_term: 1,
        index: 1,
        ..Message::default()
    };
    let error = replica
        .handle(Input::Receive {
            from: 2,
            message: WireMessage::Raft(request.encode_to_vec()),
        })
        .unwrap_err();
    assert!(error.is_fatal(), "{error}");
    assert!(replica.is_poisoned());
    assert_eq!(
        replica.store().hard_state().vote,
        0,
        "the failed write changed nothing"
    );
    assert!(matches!(replica.handle(Input::Tick), Err(Error::Poisoned)));
    // Restarting from the store works.
    let store = replica.into_store();
    assert!(Replica::new(config(1), store).is_ok());
}

#[test]
fn crafted_messages_are_rejected_not_fatal() {
    let mut replica = Replica::new(config(1), MemLogStore::new_with_voters(&[1, 2, 3])).unwrap();
    let garbage = WireMessage::Raft(vec![0xff, 0xff, 0xff, 0x01]);
    let error = replica
        .handle(Input::Receive {
            from: 2,
            message: garbage,
        })
        .unwrap_err();
    assert!(!error.is_fatal(), "{error}");
    // A message whose inner sender differs from the transport's peer is refused.
    let forged = Message {
        msg_type: MessageType::MsgHeartbeat as i32,
        from: 3,
        to: 1,
        term: 9,
        ..Message::default()
    };
    let error = replica
        .handle(Input::Receive {
            from: 2,
            message: WireMessage::Raft(forged.encode_to_vec()),
        })
        .unwrap_err();
    assert!(matches!(error, Error::UnexpectedMessage(_)), "{error}");
    assert_eq!(replica.status().term, 1, "nothing was stepped");
    assert!(!replica.is_poisoned());
}

#[test]
fn follower_forwards_and_reports_commit() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.input(1, Input::Campaign).unwrap();
    assert_eq!(cluster.leader(), Some(1));
    cluster
        .input(
            2,
            Input::Propose {
                id: 77,
                payload: b"from follower".to_vec(),
            },
        )
        .unwrap();
    cluster.input(2, Input::Flush).unwrap();
    cluster.input(1, Input::Flush).unwrap();
    cluster.tick_all(3);
    let fate = cluster
        .fates
        .iter()
        .find(|(origin, id, _)| (*origin, *id) == (2, 77))
        .map(|entry| entry.2);
    assert!(
        matches!(fate, Some(ProposalFate::Committed { .. })),
        "{fate:?}"
    );
}

#[test]
fn no_leader_means_definitive_drop() {
    let mut replica = Replica::new(config(2), MemLogStore::new_with_voters(&[1, 2, 3])).unwrap();
    let output = replica
        .handle(Input::Propose {
            id: 1,
            payload: vec![1],
        })
        .unwrap();
    assert_eq!(
        output.fates,
        vec![(
            1,
            ProposalFate::Dropped {
                reason: DropReason::NoLeader
            }
        )]
    );
    let output = replica
        .handle(Input::Propose {
            id: 2,
            payload: Vec::new(),
        })
        .unwrap();
    assert_eq!(
        output.fates,
        vec![(
            2,
            ProposalFate::Dropped {
                reason: DropReason::InvalidPayload
            }
        )]
    );
}

#[test]
fn learner_joins_by_snapshot_then_becomes_voter() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.input(1, Input::Campaign).unwrap();
    for id in 0..20 {
        cluster
            .input(
                1,
                Input::Propose {
                    id,
                    payload: vec![7; 10],
                },
            )
            .unwrap();
        cluster.input(1, Input::Flush).unwrap();
    }
    // Compact the leader's log so the new node can only catch up by snapshot.
    cluster
        .input(
            1,
            Input::Compact {
                data: b"leader state".to_vec(),
            },
        )
        .unwrap();
    cluster.add_empty(4);
    cluster
        .input(1, Input::ChangeMembership(MembershipChange::AddLearner(4)))
        .unwrap();
    cluster.tick_all(10);
    let restored = cluster.applied[&4]
        .iter()
        .any(|apply| matches!(apply, Apply::Restore { .. }));
    assert!(restored, "the learner installed a snapshot");
    assert!(
        cluster.chunks_sent >= 3,
        "the snapshot was streamed in chunks"
    );
    assert!(
        cluster.replicas[&4]
            .status()
            .conf_state
            .learners
            .contains(&4)
    );
    // The leader sees the learner caught up (raft-rs keeps probing it until new entries
    // flow, so only the match index tells); followers track no progress.
    let leader_status = cluster.replicas[&1].status();
    let progress = cluster.replicas[&1].peer_progress(4).expect("tracked");
    assert_eq!(progress.matched, leader_status.last_index, "{progress:?}");
    assert_eq!(cluster.replicas[&2].peer_progress(4), None);
    assert_eq!(cluster.replicas[&1].peer_progress(9), None);
    cluster
        .input(
            1,
            Input::ChangeMembership(MembershipChange::PromoteLearner(4)),
        )
        .unwrap();
    cluster.tick_all(5);
    assert_eq!(
        cluster.replicas[&1].status().conf_state.voters,
        vec![1, 2, 3, 4]
    );
    // Joint consensus: replace voter 2 by a new learner 5 in one change.
    cluster.add_empty(5);
    cluster
        .input(1, Input::ChangeMembership(MembershipChange::AddLearner(5)))
        .unwrap();
    cluster.tick_all(10);
    cluster
        .input(
            1,
            Input::ChangeMembership(MembershipChange::ReplaceVoter {
                remove: 2,
                promote: 5,
            }),
        )
        .unwrap();
    cluster.tick_all(10);
    assert_eq!(
        cluster.replicas[&1].status().conf_state.voters,
        vec![1, 3, 4, 5]
    );
    // Leadership transfer.
    cluster
        .input(
            1,
            Input::ChangeMembership(MembershipChange::TransferLeader(3)),
        )
        .unwrap();
    cluster.tick_all(5);
    assert_eq!(cluster.leader(), Some(3));
    let error = cluster
        .input(1, Input::ChangeMembership(MembershipChange::AddLearner(9)))
        .unwrap_err();
    assert!(
        matches!(error, Error::NotLeader { leader_id: Some(3) }),
        "{error}"
    );
}

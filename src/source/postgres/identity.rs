//! Is this server, and this slot, the one the checkpoint was taken from, and
//! can it still send every change after the checkpoint? Decided before
//! anything is streamed or acknowledged, on every start and reconnection.
//!
//! ```text
//!  checkpoint {origin, restart LSN}  +  IDENTIFY_SYSTEM {systemid, timeline, WAL end}  +  slot
//!     ─► other cluster / timeline        ─► refuse
//!     ─► restart LSN beyond the WAL end  ─► refuse (a restored database, an edited checkpoint)
//!     ─► slot missing, pipeline ran      ─► refuse (changes since the checkpoint are gone) | --accept-gap
//!     ─► slot confirmed beyond checkpoint ─► refuse (confirmed changes the sink lacks)     | --accept-gap
//!     ─► slot missing, first start       ─► create it
//! ```
//!
//! Pure: the facts come in, a decision or an error that names what happened,
//! the changes the server can no longer send, and how to recover comes out.

use wellhead_decoders::change::{Lsn, SourceOrigin};

/// `IDENTIFY_SYSTEM`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    pub system_identifier: String,
    pub timeline: u32,
    /// The server's current WAL flush position.
    pub wal_end: Lsn,
}

/// What the checkpoint says about where it was taken.
#[derive(Debug, Clone, Default)]
pub struct CheckpointFacts {
    /// The recorded origin, if the checkpoint has one (format 1 did not).
    pub origin: Option<SourceOrigin>,
    /// The restart LSN (the slot may be confirmed up to it).
    pub restart_lsn: Option<Lsn>,
    /// True when the pipeline has streamed before (so its slot must exist).
    pub started_before: bool,
}

/// What to do about the slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotDecision {
    /// Stream from the slot as it is.
    Use,
    /// Create the slot (first start, or a gap the operator accepted).
    Create,
}

/// The server or slot cannot continue the checkpoint's history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "the checkpoint of pipeline {pipeline} was taken from PostgreSQL cluster {expected} but {address} is cluster \
         {found} (re-created, or another server): its LSNs mean other changes here. Point source.url at the \
         original server, or start this pipeline over (remove its checkpoint and output, then take a fresh snapshot)"
    )]
    OtherCluster { pipeline: String, address: String, expected: String, found: String },
    #[error(
        "the checkpoint of pipeline {pipeline} was taken on timeline {expected} but the server is on timeline \
         {found} (a promotion or point-in-time recovery): changes of the old timeline after the branch point may \
         be missing or different. Start this pipeline over (remove its checkpoint and output, then take a fresh \
         snapshot)"
    )]
    OtherTimeline { pipeline: String, expected: u32, found: u32 },
    #[error(
        "the checkpoint of pipeline {pipeline} holds changes up to {restart_lsn}, beyond the server's WAL end \
         {wal_end}: the database was restored from a backup or the checkpoint was edited. Nothing was sent to the \
         server. Point source.url at the server the checkpoint came from, or start this pipeline over (remove its \
         checkpoint and output, then take a fresh snapshot)"
    )]
    CheckpointAhead { pipeline: String, restart_lsn: Lsn, wal_end: Lsn },
    #[error(
        "replication slot {slot} of pipeline {pipeline} is gone (dropped while Wellhead was stopped, lost in a \
         failover, or the database was restored): the changes after {restart} up to the server's WAL end {wal_end} \
         can no longer be sent. The slot was not recreated. To continue from now with those changes missing, run \
         once with `wellhead run --config FILE --accept-gap {pipeline}` (a fresh snapshot will fill the gap once \
         snapshots exist)"
    )]
    SlotMissing { pipeline: String, slot: String, restart: String, wal_end: Lsn },
    #[error(
        "replication slot {slot} of pipeline {pipeline} is confirmed up to {confirmed}, but the checkpoint holds \
         changes only up to {restart_lsn}: the changes between them were confirmed without being written here (a \
         checkpoint restored from an older backup, another consumer of the slot, or pg_replication_slot_advance) \
         and the server can no longer send them. The slot was left as it is. Restore the newest checkpoint, or run \
         once with `wellhead run --config FILE --accept-gap {pipeline}` to continue from {confirmed} with those \
         changes missing"
    )]
    SlotAhead { pipeline: String, slot: String, confirmed: Lsn, restart_lsn: Lsn },
}

/// A gap the operator accepted with `--accept-gap`, to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedGap {
    pub after: String,
    pub up_to: Lsn,
}

/// Checks the server against the checkpoint's origin (cluster and timeline) and WAL.
pub fn check_server(
    pipeline: &str,
    address: &str,
    facts: &CheckpointFacts,
    server: &ServerIdentity,
) -> Result<(), IdentityError> {
    if let Some(SourceOrigin::Postgres { system_identifier, timeline, .. }) = &facts.origin {
        if *system_identifier != server.system_identifier {
            return Err(IdentityError::OtherCluster {
                pipeline: pipeline.to_owned(),
                address: address.to_owned(),
                expected: system_identifier.clone(),
                found: server.system_identifier.clone(),
            });
        }
        if *timeline != server.timeline {
            return Err(IdentityError::OtherTimeline {
                pipeline: pipeline.to_owned(),
                expected: *timeline,
                found: server.timeline,
            });
        }
    }
    if let Some(restart_lsn) = facts.restart_lsn
        && restart_lsn > server.wal_end
    {
        return Err(IdentityError::CheckpointAhead {
            pipeline: pipeline.to_owned(),
            restart_lsn,
            wal_end: server.wal_end,
        });
    }
    Ok(())
}

/// Decides what to do about the slot, whose confirmed position is `slot_confirmed`
/// (`None` when the slot does not exist). With `accept_gap`, a gap is returned instead
/// of refused.
pub fn check_slot(
    pipeline: &str,
    slot: &str,
    facts: &CheckpointFacts,
    server: &ServerIdentity,
    slot_confirmed: Option<Option<Lsn>>,
    accept_gap: bool,
) -> Result<(SlotDecision, Option<AcceptedGap>), IdentityError> {
    let restart = || facts.restart_lsn.map_or_else(|| "the pipeline's first change".to_owned(), |lsn| lsn.to_string());
    match slot_confirmed {
        None if !facts.started_before => Ok((SlotDecision::Create, None)),
        None if accept_gap => Ok((SlotDecision::Create, Some(AcceptedGap { after: restart(), up_to: server.wal_end }))),
        None => Err(IdentityError::SlotMissing {
            pipeline: pipeline.to_owned(),
            slot: slot.to_owned(),
            restart: restart(),
            wal_end: server.wal_end,
        }),
        Some(confirmed) => match (confirmed, facts.restart_lsn) {
            (Some(confirmed), Some(restart_lsn)) if confirmed > restart_lsn => {
                if accept_gap {
                    Ok((SlotDecision::Use, Some(AcceptedGap { after: restart_lsn.to_string(), up_to: confirmed })))
                } else {
                    Err(IdentityError::SlotAhead {
                        pipeline: pipeline.to_owned(),
                        slot: slot.to_owned(),
                        confirmed,
                        restart_lsn,
                    })
                }
            }
            _ => Ok((SlotDecision::Use, None)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerIdentity {
        ServerIdentity { system_identifier: "7300000000000000001".into(), timeline: 1, wal_end: Lsn(1000) }
    }

    fn origin(system_identifier: &str, timeline: u32) -> Option<SourceOrigin> {
        Some(SourceOrigin::Postgres {
            system_identifier: system_identifier.into(),
            timeline,
            database: "shop".into(),
            slot: "s".into(),
            slot_consistent_point: None,
        })
    }

    #[test]
    fn another_cluster_or_timeline_or_a_checkpoint_from_the_future_is_refused() {
        let facts = CheckpointFacts { origin: origin("1", 1), restart_lsn: Some(Lsn(10)), started_before: true };
        assert!(matches!(check_server("p", "h:5432", &facts, &server()), Err(IdentityError::OtherCluster { .. })));
        let facts = CheckpointFacts { origin: origin("7300000000000000001", 2), ..facts };
        assert!(matches!(check_server("p", "h:5432", &facts, &server()), Err(IdentityError::OtherTimeline { .. })));
        let facts =
            CheckpointFacts { origin: origin("7300000000000000001", 1), restart_lsn: Some(Lsn(u64::MAX)), ..facts };
        let error = check_server("p", "h:5432", &facts, &server()).expect_err("ahead");
        assert!(error.to_string().contains("FFFFFFFF/FFFFFFFF") && error.to_string().contains("0/3E8"), "{error}");
        let facts = CheckpointFacts { restart_lsn: Some(Lsn(1000)), ..facts };
        assert_eq!(check_server("p", "h:5432", &facts, &server()), Ok(()));
    }

    #[test]
    fn a_missing_slot_is_created_only_at_the_first_start_or_when_the_gap_is_accepted() {
        let first = CheckpointFacts::default();
        assert_eq!(check_slot("p", "s", &first, &server(), None, false), Ok((SlotDecision::Create, None)));
        let ran = CheckpointFacts { restart_lsn: Some(Lsn(500)), started_before: true, ..CheckpointFacts::default() };
        let error = check_slot("p", "s", &ran, &server(), None, false).expect_err("missing");
        assert!(error.to_string().contains("after 0/1F4 up to the server's WAL end 0/3E8"), "{error}");
        let accepted = check_slot("p", "s", &ran, &server(), None, true).expect("accepted");
        assert_eq!(accepted, (SlotDecision::Create, Some(AcceptedGap { after: "0/1F4".into(), up_to: Lsn(1000) })));
    }

    #[test]
    fn a_slot_confirmed_beyond_the_checkpoint_is_refused_and_one_behind_is_used() {
        let ran = CheckpointFacts { restart_lsn: Some(Lsn(500)), started_before: true, ..CheckpointFacts::default() };
        let error = check_slot("p", "s", &ran, &server(), Some(Some(Lsn(600))), false).expect_err("ahead");
        assert!(matches!(error, IdentityError::SlotAhead { confirmed: Lsn(600), restart_lsn: Lsn(500), .. }));
        assert_eq!(check_slot("p", "s", &ran, &server(), Some(Some(Lsn(400))), false), Ok((SlotDecision::Use, None)));
        assert_eq!(check_slot("p", "s", &ran, &server(), Some(Some(Lsn(500))), false), Ok((SlotDecision::Use, None)));
        let accepted = check_slot("p", "s", &ran, &server(), Some(Some(Lsn(600))), true).expect("accepted");
        assert_eq!(accepted.0, SlotDecision::Use);
    }
}

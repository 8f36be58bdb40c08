//! What a deploy may do to a name's history, decided from the recorded versions.
//!
//! A deploy must never go wrong silently: turning a decider into a projection (or the
//! reverse) is refused unless asked for ([`DeployOptions::replace_world`], checked by
//! the store in the deploy's own transaction), a server restarted with the file it was
//! first started with does not move a name back to older bytes than its current
//! version ([`start_plan`]), and a rollback re-deploys the bytes of a version that is
//! not the one live ([`rollback_target`]). The decisions here are pure functions of
//! the recorded versions, so they are unit tested without a store.

use crate::projections::FailurePolicy;
use crate::runtime::{ModuleInfo, World};
use crate::store::ModuleRecord;
use crate::{Error, Result};

/// How a deploy is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeployOptions {
    /// For a projection module: what it does with an event it cannot apply.
    pub policy: FailurePolicy,
    /// Take a module of another world than the name's current version (a projection
    /// replacing a decider, or the reverse); without it such a deploy is
    /// [`Error::WorldChange`].
    pub replace_world: bool,
}

/// One recorded deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deployment {
    /// The module's name.
    pub name: String,
    /// Its version under that name.
    pub version: u64,
    /// Hex SHA-256 of its bytes.
    pub hash: String,
    /// The world it implements.
    pub world: World,
    /// The component's size, in bytes.
    pub size: u64,
    /// What the projection does with an event it cannot apply (projections only).
    pub policy: Option<FailurePolicy>,
    /// When it was deployed (RFC 3339, UTC).
    pub deployed_at: String,
}

impl Deployment {
    pub(super) fn of(record: ModuleRecord) -> Deployment {
        Deployment {
            // Records are written by this engine from the component's own exports.
            world: World::from_name(&record.world).unwrap_or(World::Decider),
            name: record.name,
            version: record.version,
            hash: record.hash,
            size: record.size,
            policy: record.policy,
            deployed_at: record.deployed_at,
        }
    }
}

/// What [`Engine::deploy_at_start`](super::Engine::deploy_at_start) did with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDeploy {
    /// The file was deployed as a new version.
    Deployed(ModuleInfo),
    /// The file holds the bytes of the current version: nothing was deployed.
    Current {
        /// The current version.
        version: u64,
    },
    /// The file holds the bytes of an older version and a newer one is current: the
    /// current one was kept.
    KeptNewer {
        /// The current version, kept.
        version: u64,
        /// The newest older version with the file's bytes.
        file_version: u64,
    },
}

/// A rollback made: the new version and the one whose bytes it carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rollback {
    /// The new version, live.
    #[serde(flatten)]
    pub module: ModuleInfo,
    /// The version whose bytes it re-deployed.
    #[serde(rename = "rolledBackTo")]
    pub rolled_back_to: u64,
}

/// What a start deploy of bytes hashed `hash` does, given the name's `history` (oldest
/// first): deploy them unless they are the current version's, or an older version's
/// while a newer one is current (unless `force`).
pub(super) fn start_plan(history: &[ModuleRecord], hash: &str, force: bool) -> StartPlan {
    let Some(current) = history.last() else {
        return StartPlan::Deploy;
    };
    if current.hash == hash {
        return StartPlan::Current(current.version);
    }
    match history.iter().rev().find(|record| record.hash == hash) {
        Some(older) if !force => StartPlan::KeepNewer {
            version: current.version,
            file_version: older.version,
        },
        _ => StartPlan::Deploy,
    }
}

/// The outcome of [`start_plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartPlan {
    /// Deploy the bytes as the next version.
    Deploy,
    /// They are this version, the current one.
    Current(u64),
    /// They are `file_version`'s, older than `version`, the current one: keep it.
    KeepNewer {
        /// The current version.
        version: u64,
        /// The older version with those bytes.
        file_version: u64,
    },
}

/// The version of `name` a rollback re-deploys, given its `history` (oldest first):
/// `to`, or by default the newest version before the current one whose bytes differ
/// from the current version's.
pub(super) fn rollback_target<'h>(
    name: &str,
    history: &'h [ModuleRecord],
    to: Option<u64>,
) -> Result<&'h ModuleRecord> {
    let Some(current) = history.last() else {
        return Err(Error::UnknownModule(name.to_owned()));
    };
    let nothing = |reason: String| Error::NothingToRollBack {
        module: name.to_owned(),
        reason,
    };
    let Some(to) = to else {
        return history
            .iter()
            .rev()
            .find(|record| record.hash != current.hash)
            .ok_or_else(|| {
                nothing(format!(
                    "no version before the current one ({}) has other bytes: there is nothing to go back to",
                    current.version
                ))
            });
    };
    let target = history
        .iter()
        .find(|record| record.version == to)
        .ok_or_else(|| Error::UnknownVersion {
            module: name.to_owned(),
            version: to,
            newest: current.version,
        })?;
    if target.version == current.version {
        return Err(nothing(format!(
            "version {to} is the current version: name an earlier one (refold modules {name} lists them)"
        )));
    }
    if target.hash == current.hash {
        return Err(nothing(format!(
            "version {to} has the same bytes as the current version {}: name a version with other bytes (refold modules {name} lists them)",
            current.version
        )));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The history of `name` with these hashes, versions 1, 2, ...
    fn history(hashes: &[&str]) -> Vec<ModuleRecord> {
        (1u64..)
            .zip(hashes)
            .map(|(version, hash)| ModuleRecord {
                name: "bank".to_owned(),
                version,
                hash: (*hash).to_owned(),
                world: "decider".to_owned(),
                policy: None,
                size: 1,
                deployed_at: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_start_deploy_never_goes_back_to_older_bytes_unless_forced() {
        assert_eq!(start_plan(&[], "a", false), StartPlan::Deploy);
        let h = history(&["a", "b"]);
        assert_eq!(start_plan(&h, "b", false), StartPlan::Current(2));
        assert_eq!(start_plan(&h, "c", false), StartPlan::Deploy);
        assert_eq!(
            start_plan(&h, "a", false),
            StartPlan::KeepNewer {
                version: 2,
                file_version: 1
            }
        );
        assert_eq!(start_plan(&h, "a", true), StartPlan::Deploy);
        assert_eq!(start_plan(&h, "b", true), StartPlan::Current(2));
    }

    #[test]
    fn a_rollback_goes_to_the_newest_other_bytes_or_the_version_named() {
        let h = history(&["a", "b", "b"]);
        assert_eq!(rollback_target("bank", &h, None).unwrap().version, 1);
        assert_eq!(rollback_target("bank", &h, Some(1)).unwrap().version, 1);
        let refused = |to| rollback_target("bank", &h, to).unwrap_err().to_string();
        assert_eq!(
            refused(Some(3)),
            "cannot roll module 'bank' back: version 3 is the current version: name an earlier one (refold modules bank lists them)"
        );
        assert!(
            refused(Some(2)).contains("version 2 has the same bytes as the current version 3"),
            "{}",
            refused(Some(2))
        );
        assert_eq!(
            refused(Some(7)),
            "module 'bank' has no version 7: its versions are 1 to 3 (refold modules bank)"
        );
        let only = history(&["a", "a"]);
        assert!(matches!(
            rollback_target("bank", &only, None),
            Err(Error::NothingToRollBack { .. })
        ));
        assert!(matches!(
            rollback_target("bank", &[], None),
            Err(Error::UnknownModule(_))
        ));
    }
}

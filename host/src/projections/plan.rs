//! What a deploy of projection logic does, decided from what is stored and what runs.
//!
//! A pure function of the stored definition, the logic this process runs for it, and
//! the identity of the logic being deployed, so each rule is tested on its own:
//!
//! - nothing stored: create the projection and build it from position 0;
//! - the stored active generation is this logic (a restart), or it stopped at an event
//!   (a fix): go on from its checkpoint, and settle the generation being built;
//! - otherwise: build this logic beside the active generation (blue/green), reusing a
//!   stored build of it if there is one.

use crate::store::{Definition, Generation};

/// The identities of the logic this process runs for a projection, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Running<'a> {
    /// For the generation queries read.
    pub(super) active: Option<&'a str>,
    /// For the generation being built.
    pub(super) building: Option<&'a str>,
}

/// What to do with a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Nothing is stored: create the projection and run its first generation.
    Create,
    /// Go on with the active generation from its checkpoint.
    Resume {
        /// Start the logic on the active generation (it does not run it yet).
        start_active: bool,
        /// What becomes of the generation being built.
        building: Building,
    },
    /// Build the logic beside the active generation.
    Build(Build),
}

/// What becomes of a stored generation being built when the active one goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Building {
    /// Leave it as it is (or there is none).
    Keep,
    /// Drop it: the deploy of the active version overrides a rebuild of another one.
    Drop,
    /// Start the logic on it: an explicit rebuild of this version that a restart
    /// interrupted.
    Start(Generation),
}

/// Where a blue/green build starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Build {
    /// This logic already builds its generation here: nothing to do.
    Running,
    /// Go on with the stored generation this logic was building.
    Stored(Generation),
    /// Start a new generation from position 0.
    New,
}

/// The plan for deploying logic of `identity` given what is `stored` and `running`.
pub(super) fn deploy(stored: Option<&Definition>, running: Running<'_>, identity: &str) -> Plan {
    let Some(Definition {
        active, building, ..
    }) = stored
    else {
        return Plan::Create;
    };
    let same_active = active.built_by.identity == identity;
    if same_active || active.fault.is_some() {
        let building = match building {
            Some(rebuild) if same_active && rebuild.built_by.identity != identity => Building::Drop,
            Some(rebuild)
                if rebuild.built_by.identity == identity && running.building != Some(identity) =>
            {
                Building::Start(rebuild.clone())
            }
            _ => Building::Keep,
        };
        return Plan::Resume {
            start_active: running.active != Some(identity),
            building,
        };
    }
    Plan::Build(match building {
        Some(rebuild) if rebuild.built_by.identity == identity => {
            if running.building == Some(identity) {
                Build::Running
            } else {
                Build::Stored(rebuild.clone())
            }
        }
        _ => Build::New,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BuiltBy, FailurePolicy};

    fn generation(number: u64, identity: &str) -> Generation {
        Generation {
            generation: number,
            built_by: BuiltBy {
                module: "m".into(),
                version: number,
                identity: identity.into(),
                upcasters: String::new(),
            },
            checkpoint: 10 * number,
            fault: None,
            skipped: 0,
        }
    }

    fn stored(active: Generation, building: Option<Generation>) -> Definition {
        Definition {
            policy: FailurePolicy::Stop,
            active,
            building,
        }
    }

    const IDLE: Running<'static> = Running {
        active: None,
        building: None,
    };

    #[test]
    fn a_new_name_is_created() {
        assert_eq!(deploy(None, IDLE, "v1"), Plan::Create);
    }

    #[test]
    fn a_restart_resumes_the_active_generation_once() {
        let definition = stored(generation(1, "v1"), None);
        let resume = |start_active| Plan::Resume {
            start_active,
            building: Building::Keep,
        };
        assert_eq!(deploy(Some(&definition), IDLE, "v1"), resume(true));
        let running = Running {
            active: Some("v1"),
            building: None,
        };
        assert_eq!(deploy(Some(&definition), running, "v1"), resume(false));
    }

    #[test]
    fn a_fix_for_a_faulted_generation_resumes_it_at_the_fault() {
        let mut active = generation(1, "v1");
        active.fault = Some((7, "boom".into()));
        let definition = stored(active, None);
        assert_eq!(
            deploy(Some(&definition), IDLE, "v2"),
            Plan::Resume {
                start_active: true,
                building: Building::Keep
            }
        );
    }

    #[test]
    fn another_version_is_built_beside_the_active_one() {
        let definition = stored(generation(1, "v1"), None);
        assert_eq!(
            deploy(Some(&definition), IDLE, "v2"),
            Plan::Build(Build::New)
        );
    }

    #[test]
    fn a_stored_build_of_the_same_version_is_reused_or_left_running() {
        let build = generation(2, "v2");
        let definition = stored(generation(1, "v1"), Some(build.clone()));
        assert_eq!(
            deploy(Some(&definition), IDLE, "v2"),
            Plan::Build(Build::Stored(build))
        );
        let running = Running {
            active: Some("v1"),
            building: Some("v2"),
        };
        assert_eq!(
            deploy(Some(&definition), running, "v2"),
            Plan::Build(Build::Running)
        );
    }

    #[test]
    fn a_build_of_a_third_version_replaces_the_one_under_way() {
        let definition = stored(generation(1, "v1"), Some(generation(2, "v2")));
        assert_eq!(
            deploy(Some(&definition), IDLE, "v3"),
            Plan::Build(Build::New)
        );
    }

    #[test]
    fn deploying_the_active_version_drops_a_rebuild_of_another() {
        let definition = stored(generation(1, "v1"), Some(generation(2, "v2")));
        let running = Running {
            active: Some("v1"),
            building: Some("v2"),
        };
        assert_eq!(
            deploy(Some(&definition), running, "v1"),
            Plan::Resume {
                start_active: false,
                building: Building::Drop
            }
        );
    }

    #[test]
    fn an_interrupted_rebuild_of_the_active_version_is_started_again() {
        let rebuild = generation(2, "v1");
        let definition = stored(generation(1, "v1"), Some(rebuild.clone()));
        assert_eq!(
            deploy(Some(&definition), IDLE, "v1"),
            Plan::Resume {
                start_active: true,
                building: Building::Start(rebuild)
            }
        );
        let running = Running {
            active: Some("v1"),
            building: Some("v1"),
        };
        assert_eq!(
            deploy(Some(&definition), running, "v1"),
            Plan::Resume {
                start_active: false,
                building: Building::Keep
            }
        );
    }
}

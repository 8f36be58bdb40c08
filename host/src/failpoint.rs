//! Test-only failpoints: a test that must kill the process between two steps (after a
//! command's append committed, before its reply went out) names the step in
//! `REFOLD_FAILPOINT`, and the process kills itself there with SIGKILL, as a crash
//! would: the first time it gets there, or the Nth with `name:N`. Only debug builds
//! read the variable; a release build has no failpoints.

/// Where a failpoint can be set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failpoint {
    /// A command's events are committed; its reply is not sent yet.
    CommandAfterAppend,
    /// A workflow step is written; the commands it sends are not sent yet.
    WorkflowAfterStep,
    /// A workflow's command was sent and answered; the step handling its outcome is
    /// not written yet.
    WorkflowAfterCommand,
}

impl Failpoint {
    #[cfg(debug_assertions)]
    fn name(self) -> &'static str {
        match self {
            Failpoint::CommandAfterAppend => "command-after-append",
            Failpoint::WorkflowAfterStep => "workflow-after-step",
            Failpoint::WorkflowAfterCommand => "workflow-after-command",
        }
    }

    /// Kill the process now if `REFOLD_FAILPOINT` names this failpoint (debug builds).
    #[cfg(debug_assertions)]
    pub(crate) fn reached(self) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SET: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
        static REACHED: AtomicU64 = AtomicU64::new(0);
        let set = SET.get_or_init(|| {
            let value = std::env::var("REFOLD_FAILPOINT").ok()?;
            Some(match value.split_once(':') {
                Some((name, nth)) => (name.to_owned(), nth.parse().unwrap_or(1)),
                None => (value, 1),
            })
        });
        let Some((name, nth)) = set else { return };
        if name == self.name() && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
            tracing::error!(
                failpoint = self.name(),
                "failpoint reached: killing the process"
            );
            let pid = std::process::id().to_string();
            // SIGKILL, as a crash would: no destructor, no reply, no core file.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            std::process::abort();
        }
    }

    /// Failpoints are for tests: a release build has none.
    #[cfg(not(debug_assertions))]
    pub(crate) fn reached(self) {}
}

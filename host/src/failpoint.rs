//! Test-only failpoints: a test that must kill the process between two steps (after a
//! command's append committed, before its reply went out) names the step in
//! `REFOLD_FAILPOINT`, and the process kills itself there with SIGKILL, as a crash
//! would. Only debug builds read the variable; a release build has no failpoints.

/// Where a failpoint can be set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failpoint {
    /// A command's events are committed; its reply is not sent yet.
    CommandAfterAppend,
}

impl Failpoint {
    #[cfg(debug_assertions)]
    fn name(self) -> &'static str {
        match self {
            Failpoint::CommandAfterAppend => "command-after-append",
        }
    }

    /// Kill the process now if `REFOLD_FAILPOINT` names this failpoint (debug builds).
    #[cfg(debug_assertions)]
    pub(crate) fn reached(self) {
        static SET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let set = SET.get_or_init(|| std::env::var("REFOLD_FAILPOINT").ok());
        if set.as_deref() == Some(self.name()) {
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

//! The seam between the library's tracing spans and a distributed-tracing exporter a
//! binary may install. The spans that start work on behalf of a remote caller (an HTTP
//! request, a projection batch applying the events of a command) are given the W3C
//! `traceparent` that caller sent; a hook the binary installed makes it the span's
//! parent, so the work joins the caller's trace. The library depends on no tracing
//! backend: without a hook, this costs one load of a `OnceLock` per such span.

use std::sync::OnceLock;

/// How a binary makes a W3C `traceparent` (its text) the parent of a span.
pub type RemoteParentHook = fn(&tracing::Span, &str);

static HOOK: OnceLock<RemoteParentHook> = OnceLock::new();

/// Install `hook`, once per process; `false` when one was installed already.
pub fn set_remote_parent_hook(hook: RemoteParentHook) -> bool {
    HOOK.set(hook).is_ok()
}

/// Whether a hook is installed: whether finding a `traceparent` is worth its cost.
pub(crate) fn wanted() -> bool {
    HOOK.get().is_some()
}

/// Make `traceparent` the parent of `span`, if a hook is installed and the span is
/// recorded at all. Call it before the span is first entered.
pub(crate) fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let (Some(hook), Some(traceparent)) = (HOOK.get(), traceparent)
        && !span.is_disabled()
    {
        hook(span, traceparent);
    }
}

//! OpenTelemetry, on with `--otlp-endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`): the
//! library's spans (an HTTP `request`, its `command`, the store's `append`, each
//! `guest call`, a `projection batch`) are exported over OTLP, HTTP with protobuf, in
//! batches from a thread of the SDK's, sent with ureq (the client the command line
//! already has: no second HTTP stack, no TLS). A request's W3C `traceparent` is made
//! its span's parent, and a projection batch continues the trace of the first of its events
//! whose command sent one (`metadata.refold.traceparent`), through the library's
//! [`refold::remote_parent`] hook. Off by default: then nothing here is installed.

use anyhow::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

/// The spans exported: Refold's own, at INFO and above, whatever `--log-level` says.
pub const EXPORTED: &str = "refold=info";

/// The exporter's provider, kept to flush what is buffered when the process ends.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Export the spans still buffered, and stop.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("warning: the last spans could not be exported: {error}");
        }
    }
}

/// The layer that exports spans to the OTLP collector at `endpoint` (its base URL:
/// traces go to `<endpoint>/v1/traces`), with the provider to shut down at exit.
pub fn layer<S>(
    endpoint: &str,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    Telemetry,
)>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let base = endpoint.trim_end_matches('/');
    let traces = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(Ureq(agent))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(&traces)
        .build()
        .with_context(|| format!("cannot export spans to {traces}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("refold").build())
        .build();
    refold::remote_parent::set_remote_parent_hook(continue_remote_trace);
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("refold"));
    Ok((layer, Telemetry { provider }))
}

/// Make the W3C `traceparent` the parent of `span`; a malformed one is ignored (the
/// span starts a trace of its own).
fn continue_remote_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(parent);
}

/// The OTLP exporter's HTTP client: ureq, blocking, which is what the SDK's batch
/// thread wants (it waits for each export anyway).
#[derive(Debug)]
struct Ureq(ureq::Agent);

#[async_trait::async_trait]
impl HttpClient for Ureq {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, body.to_vec());
        let mut response = self.0.run(request)?;
        let status = response.status();
        let body = response.body_mut().read_to_vec()?;
        Ok(Response::builder().status(status).body(Bytes::from(body))?)
    }
}

//! `refold serve --otlp-endpoint`: spans reach an OTLP collector (here a small one of
//! the test's own, on loopback, decoding the protobuf the server sends), and a
//! command's request, command, append and guest-call spans and the projection batch
//! that applies its event share the trace id the client sent in `traceparent`.

use crate::support::server::{Db, add_item, agent, get, open_cart, post, post_with};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One exported span: its name, trace id (hex) and attributes as text.
#[derive(Debug, Clone)]
struct Exported {
    name: String,
    trace_id: String,
    attributes: Vec<(String, String)>,
}

/// A collector on a loopback port that keeps every span it is sent.
struct Collector {
    base: String,
    spans: Arc<Mutex<Vec<Exported>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || serve(connection, &kept));
            }
        });
        Collector { base, spans }
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().expect("the collector's spans").clone()
    }
}

/// Answer the OTLP requests of one connection, keeping their spans.
fn serve(connection: TcpStream, kept: &Mutex<Vec<Exported>>) {
    let mut writer = connection.try_clone().expect("a second handle");
    let mut reader = BufReader::new(connection);
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = ExportTraceServiceRequest::decode(body.as_slice())
            .expect("the body is an OTLP trace export in protobuf");
        let mut spans = kept.lock().expect("the collector's spans");
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Exported {
                        name: span.name,
                        trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                        attributes: span
                            .attributes
                            .into_iter()
                            .map(|kv| {
                                let value =
                                    kv.value.and_then(|v| v.value).map(|v| format!("{v:?}"));
                                (kv.key, value.unwrap_or_default())
                            })
                            .collect(),
                    });
                }
            }
        }
        drop(spans);
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn a_commands_spans_and_the_projection_batch_that_applies_it_share_the_callers_trace() {
    let collector = Collector::start();
    let db = Db::new();
    let server = db.serve_cart(&["--otlp-endpoint", &collector.base]);
    let http = agent();
    post(
        &http,
        &server.url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        None,
    )
    .ok();
    // Applied before the traced command, so that a batch of both cannot start with
    // the untraced one's event.
    get(
        &http,
        &server.url("/projections/cart-summary/cart_summary/cart-1?wait_for=1"),
    )
    .ok();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let added = post_with(
        &http,
        &server.url("/commands/cart/cart-1"),
        &add_item("cart-1", "sku-1", 1),
        &[("traceparent", &traceparent)],
    );
    let position = added.ok()["position"].as_u64().expect("a position");
    get(
        &http,
        &server.url(&format!(
            "/projections/cart-summary/cart_summary/cart-1?wait_for={position}"
        )),
    )
    .ok();
    server.stop();

    let spans = collector.spans();
    let traced: Vec<&Exported> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let names: Vec<&str> = traced.iter().map(|s| s.name.as_str()).collect();
    for name in [
        "request",
        "command",
        "append",
        "guest call",
        "projection batch",
    ] {
        assert!(
            names.contains(&name),
            "a {name} span in the caller's trace; its spans: {names:?}; all: {spans:#?}"
        );
    }
    let command = traced
        .iter()
        .find(|s| s.name == "command")
        .expect("a command span");
    for (key, value) in [
        ("decider", "cart"),
        ("stream", "cart-1"),
        ("outcome", "handled"),
    ] {
        assert!(
            command
                .attributes
                .iter()
                .any(|(k, v)| k == key && v.contains(value)),
            "the command span holds {key} = {value}: {command:?}"
        );
    }
    assert!(
        spans
            .iter()
            .any(|s| s.name == "command" && s.trace_id != trace_id),
        "the command sent without a traceparent has a trace of its own: {spans:#?}"
    );
}

//! A foreign origin (`evil://x`) in the same WebView: its pages come from `pages/evil/`,
//! and what they report (POST `evil://x/report`) lands on a channel the test reads.

use std::sync::mpsc;

use gio::prelude::*;
use serde_json::Value;
use webkit2gtk::{
    SecurityManagerExt, URISchemeRequestExt, URISchemeResponse, URISchemeResponseExt,
    WebContextExt, WebViewExt,
};

pub fn register(view: &webkit2gtk::WebView) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    let context = view.context().expect("a context");
    if let Some(security) = context.security_manager() {
        security.register_uri_scheme_as_secure("evil");
        security.register_uri_scheme_as_cors_enabled("evil");
    }
    context.register_uri_scheme("evil", move |request| {
        let path = request.path().map(|p| p.to_string()).unwrap_or_default();
        let (status, kind, body) = if path == "/report" {
            let mut text = Vec::new();
            if let Some(stream) = request.http_body() {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = stream.read(&mut buf[..], gio::Cancellable::NONE) {
                    if n == 0 {
                        break;
                    }
                    text.extend_from_slice(&buf[..n]);
                }
            }
            let _ = tx.send(serde_json::from_slice(&text).unwrap_or(Value::Null));
            (200, "text/plain", b"ok".to_vec())
        } else {
            let file = match path.strip_prefix("/hostile/") {
                Some(rest) => testkit::hostile::pages().join(rest),
                None => super::pages()
                    .join("evil")
                    .join(path.trim_start_matches('/')),
            };
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let kind = match path.rsplit_once('.').map(|(_, ext)| ext) {
                        Some("js") => "text/javascript",
                        Some("svg") => "image/svg+xml",
                        _ => "text/html",
                    };
                    (200, kind, bytes)
                }
                Err(_) => (404, "text/plain", b"not found".to_vec()),
            }
        };
        let bytes = glib::Bytes::from_owned(body);
        let stream = gio::MemoryInputStream::from_bytes(&bytes);
        let response = URISchemeResponse::new(&stream, bytes.len() as i64);
        response.set_status(status, None);
        response.set_content_type(kind);
        let headers = soup::MessageHeaders::new(soup::MessageHeadersType::Response);
        headers.append("access-control-allow-origin", "*");
        response.set_http_headers(headers);
        request.finish_with_response(&response);
    });
    rx
}

//! The navigation policy: the WebView (top frame and iframes) may show only the app
//! origin, `about:blank`, `about:srcdoc`, and origins the host allowed explicitly.
//!
//! A page of another origin in the top frame would get our main-frame scripts' world (the
//! relay checks `location` and stands down, but there is no reason to let it in), and a
//! foreign iframe is the classic way to reach a bridge (Tauri CVE-2024-35222,
//! CVE-2023-31134).

use glib::prelude::*;
use webkit2gtk::{NavigationPolicyDecision, PolicyDecisionType, ResponsePolicyDecision};
use webkit2gtk::{
    NavigationPolicyDecisionExt, PolicyDecisionExt, ResponsePolicyDecisionExt, URIRequestExt,
    WebViewExt,
};

use crate::HostConfig;

pub(crate) fn install(view: &webkit2gtk::WebView, config: &HostConfig) {
    let mut allowed = vec![config.origin.clone()];
    allowed.extend(config.navigable.iter().cloned());
    view.connect_decide_policy(move |_view, decision, kind| {
        let uri = match kind {
            PolicyDecisionType::NavigationAction | PolicyDecisionType::NewWindowAction => decision
                .downcast_ref::<NavigationPolicyDecision>()
                .and_then(|d| d.navigation_action())
                .and_then(|a| a.request())
                .and_then(|r| r.uri()),
            PolicyDecisionType::Response => decision
                .downcast_ref::<ResponsePolicyDecision>()
                .and_then(|d| d.request())
                .and_then(|r| r.uri()),
            _ => return false,
        };
        let Some(uri) = uri else {
            return false;
        };
        if is_allowed(&uri, &allowed) {
            false // WebKit's default handling
        } else {
            tracing::warn!(%uri, "navigation to a foreign page refused");
            decision.ignore();
            true
        }
    });
}

pub(crate) fn is_allowed(uri: &str, allowed: &[String]) -> bool {
    if uri == "about:blank" || uri == "about:srcdoc" {
        return true;
    }
    let lower = uri.to_ascii_lowercase();
    allowed.iter().any(|origin| {
        lower
            .strip_prefix(origin.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_origins_are_allowed() {
        let allowed = vec!["app://localhost".to_owned()];
        assert!(is_allowed("app://localhost/", &allowed));
        assert!(is_allowed("app://localhost", &allowed));
        assert!(is_allowed("APP://LOCALHOST/x?y#z", &allowed));
        assert!(is_allowed("about:srcdoc", &allowed));
        assert!(!is_allowed("app://localhost.evil.com/", &allowed));
        assert!(!is_allowed("app://localhost:8080/", &allowed));
        assert!(!is_allowed("app://localhost@evil.com/", &allowed));
        assert!(!is_allowed("https://example.com/", &allowed));
        assert!(!is_allowed("javascript:alert(1)", &allowed));
    }
}

//! The navigation policy: the WebView (top frame and iframes) may show only the app
//! origin, `about:blank`, `about:srcdoc`, and origins the host allowed explicitly.
//!
//! A page of another origin in the top frame would get our main-frame scripts' world (the
//! relay checks `location` and stands down, but there is no reason to let it in), and a
//! foreign iframe is the classic way to reach a bridge (Tauri CVE-2024-35222,
//! CVE-2023-31134).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use glib::prelude::*;
use webkit2gtk::{
    NavigationPolicyDecision, NavigationType, PolicyDecisionType, ResponsePolicyDecision,
};
use webkit2gtk::{
    NavigationPolicyDecisionExt, PolicyDecisionExt, ResponsePolicyDecisionExt, URIRequestExt,
    WebViewExt,
};

use crate::HostConfig;

/// How long a form submission the policy allowed waits for its request to reach the
/// scheme handler.
const FORM_TTL: Duration = Duration::from_secs(10);

thread_local! {
    /// Form submissions the policy allowed, by URI, oldest first: the scheme handler
    /// reads a request body only for one of these (see `scheme::to_http`). Both run on the
    /// GTK main thread.
    static FORMS: RefCell<VecDeque<(String, Instant)>> = const { RefCell::new(VecDeque::new()) };
}

/// Whether a form submission to `uri` was allowed by the navigation policy and not yet
/// taken; takes it. Page script cannot make a navigation action without a real form or
/// navigation, and a form's body is never Blob-backed unless it has file parts.
pub(crate) fn take_form_submission(uri: &str) -> bool {
    FORMS.with(|forms| {
        let mut forms = forms.borrow_mut();
        let now = Instant::now();
        forms.retain(|(_, at)| now.duration_since(*at) < FORM_TTL);
        match forms.iter().position(|(u, _)| u == uri) {
            Some(i) => {
                forms.remove(i);
                true
            }
            None => false,
        }
    })
}

fn record_form_submission(action: &webkit2gtk::NavigationAction) {
    let kind = action.navigation_type();
    if kind != NavigationType::FormSubmitted && kind != NavigationType::FormResubmitted {
        return;
    }
    // The action's request carries no method here (WebKitGTK 2.50 reports `None`): GET
    // forms are recorded too, and never consulted (a GET has no body to read).
    if let Some(uri) = action.request().and_then(|r| r.uri()) {
        FORMS.with(|forms| {
            let mut forms = forms.borrow_mut();
            if forms.len() >= 64 {
                forms.pop_front();
            }
            forms.push_back((uri.to_string(), Instant::now()));
        });
    }
}

pub(crate) fn install(view: &webkit2gtk::WebView, config: &HostConfig) {
    let mut allowed = vec![config.origin.clone()];
    allowed.extend(config.navigable.iter().cloned());
    view.connect_decide_policy(move |_view, decision, kind| {
        let action = match kind {
            PolicyDecisionType::NavigationAction | PolicyDecisionType::NewWindowAction => decision
                .downcast_ref::<NavigationPolicyDecision>()
                .and_then(|d| d.navigation_action()),
            _ => None,
        };
        let uri = match kind {
            PolicyDecisionType::NavigationAction | PolicyDecisionType::NewWindowAction => action
                .as_ref()
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
            if let Some(action) = &action {
                record_form_submission(action);
            }
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

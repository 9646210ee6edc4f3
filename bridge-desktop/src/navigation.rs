//! The navigation policy: the WebView (top frame and iframes, `<object>`/`<embed>`
//! frames, links to new windows — not `window.open`, which WebKitGTK never puts through
//! `decide-policy`) may show only the app origin and `about:blank`; `srcdoc` frames
//! and other origins only when the host allowed them explicitly
//! ([`HostConfig::allow_srcdoc_frames`], [`HostConfig::allow_navigation_to`]).
//!
//! A page of another origin in the top frame would get our main-frame scripts' world (the
//! relay checks `location` and stands down, but there is no reason to let it in), and a
//! foreign iframe is the classic way to reach a bridge (Tauri CVE-2024-35222,
//! CVE-2023-31134).
//!
//! The policy is also what proves who made a request WebKitGTK reports nothing about
//! (`<img>`, `<script>`, `<link>`, navigations: no `Origin`, `Referer` or fetch metadata):
//! when it admits no other origin and no `srcdoc` document, every document the WebView can
//! show is the app's (or one the host loaded itself), so such a request is the app's
//! ([`Admits::only_the_app`], used by the scheme handler) — provided that nothing decides
//! before this policy and the WebView cannot open windows ([`outside_the_policy`],
//! [`opens_windows`]). A `srcdoc` document counts as
//! foreign because that is how pages show content they do not trust (a sandboxed srcdoc
//! has an opaque origin, and Chromium marks its requests so).
//!
//! [`HostConfig::allow_srcdoc_frames`]: crate::HostConfig::allow_srcdoc_frames
//! [`HostConfig::allow_navigation_to`]: crate::HostConfig::allow_navigation_to

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

/// What documents the policy lets into the WebView.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Admits {
    /// Origins, the app's first.
    pub(crate) origins: Vec<String>,
    /// Whether `about:srcdoc` documents may load.
    pub(crate) srcdoc: bool,
}

impl Admits {
    pub(crate) fn of(config: &HostConfig) -> Admits {
        let mut origins = vec![config.origin.clone()];
        origins.extend(config.navigable.iter().cloned());
        Admits {
            origins,
            srcdoc: config.srcdoc_frames,
        }
    }

    /// Whether every document this policy admits is the app's: no other origin, no
    /// `srcdoc`. (`about:blank` documents are written by the script of the document that
    /// made them, which is then the app's; and what the host loads itself is the host's.)
    pub(crate) fn only_the_app(&self) -> bool {
        self.origins.len() == 1 && !self.srcdoc
    }

    pub(crate) fn allows(&self, uri: &str) -> bool {
        if uri == "about:blank" || (self.srcdoc && uri == "about:srcdoc") {
            return true;
        }
        let lower = uri.to_ascii_lowercase();
        self.origins.iter().any(|origin| {
            lower
                .strip_prefix(origin.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
        })
    }
}

/// Whether `view` has a handler of `signal` (blocked ones count: they can be unblocked).
fn has_handler(view: &webkit2gtk::WebView, signal: &str) -> bool {
    glib::subclass::SignalId::lookup(signal, webkit2gtk::WebView::static_type())
        .is_some_and(|id| glib::signal::signal_has_handler_pending(view, id, None, true))
}

/// Whether `view` can open new windows: a `create` handler (wry's new-window handler) is
/// connected. A new window is another WebView, outside this policy (WebKitGTK does not even
/// put `window.open` through `decide-policy`), and its documents can navigate this one
/// through `opener` — requests of this WebView that no document of its own made. Without a
/// handler WebKit opens none.
pub(crate) fn opens_windows(view: &webkit2gtk::WebView) -> bool {
    has_handler(view, "create")
}

/// Why the policy, once installed, would not see every document `view` can show, if it
/// would not: a `decide-policy` handler connected before ours (wry's navigation handler)
/// runs first, and when it decides, ours never runs (the signal stops at the first handler
/// that returns `true`); or the WebView can open windows ([`opens_windows`]). Call before
/// [`install`].
pub(crate) fn outside_the_policy(view: &webkit2gtk::WebView) -> Option<&'static str> {
    if has_handler(view, "decide-policy") {
        Some("a decide-policy handler (wry's navigation handler) was connected before the host's")
    } else if opens_windows(view) {
        Some("the WebView can open new windows (a create handler: wry's new-window handler)")
    } else {
        None
    }
}

pub(crate) fn install(view: &webkit2gtk::WebView, config: &HostConfig) {
    let admits = Admits::of(config);
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
        if admits.allows(&uri) {
            if let Some(action) = &action {
                record_form_submission(action);
            }
            false // WebKit's default handling
        } else {
            tracing::warn!(%uri, "navigation to a document the app did not allow refused");
            decision.ignore();
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admits(config: HostConfig) -> Admits {
        Admits::of(&config)
    }

    #[test]
    fn only_whole_origins_are_allowed() {
        let a = admits(HostConfig::new("app://localhost"));
        assert!(a.allows("app://localhost/"));
        assert!(a.allows("app://localhost"));
        assert!(a.allows("APP://LOCALHOST/x?y#z"));
        assert!(a.allows("about:blank"));
        assert!(!a.allows("app://localhost.evil.com/"));
        assert!(!a.allows("app://localhost:8080/"));
        assert!(!a.allows("app://localhost@evil.com/"));
        assert!(!a.allows("https://example.com/"));
        assert!(!a.allows("javascript:alert(1)"));
        assert!(!a.allows("data:text/html,x"));
        assert!(!a.allows("blob:app://localhost/0b5e"));
    }

    #[test]
    fn srcdoc_and_other_origins_only_when_allowed_and_then_nothing_is_proven() {
        let a = admits(HostConfig::new("app://localhost"));
        assert!(!a.allows("about:srcdoc"));
        assert!(a.only_the_app());
        let a = admits(HostConfig::new("app://localhost").allow_srcdoc_frames());
        assert!(a.allows("about:srcdoc"));
        assert!(!a.only_the_app());
        let a =
            admits(HostConfig::new("app://localhost").allow_navigation_to("https://docs.example"));
        assert!(a.allows("https://docs.example/x"));
        assert!(!a.allows("about:srcdoc"));
        assert!(!a.only_the_app());
    }
}

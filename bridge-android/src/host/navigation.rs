//! The navigation policy: the WebView (top frame and iframes) may show only the app origin,
//! `about:blank`, `about:srcdoc`, and origins the host allowed explicitly — the same policy
//! as the desktop host's. Android asks it through `WebViewClient.shouldOverrideUrlLoading`
//! (`BusWebViewClient` refuses what [`AndroidHost::allows_navigation`] refuses); the
//! emulator fails the document requests it refuses, as a cancelled navigation.
//!
//! A foreign page in the top frame gets nothing from the host (the page script stands down
//! outside the app origin, and no frame session opens for it), but it can attack the app
//! origin from inside the WebView, where it shares the app's cookies and storage
//! partition; a foreign iframe is the classic way to reach a bridge (Tauri CVE-2024-35222).
//! So neither loads unless the app allowed its origin.

use std::sync::{PoisonError, RwLock};

use super::{AndroidHost, OriginError};

/// The origins a host lets the WebView show besides its own.
#[derive(Debug, Default)]
pub(crate) struct Navigable(RwLock<Vec<url::Origin>>);

impl Navigable {
    fn add(&self, origin: url::Origin) {
        let mut list = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if !list.contains(&origin) {
            list.push(origin);
        }
    }

    /// The allowed origins, serialised (`https://example.com`), for redirect checks.
    pub(crate) fn serialized(&self) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(url::Origin::ascii_serialization)
            .collect()
    }

    fn contains(&self, origin: &url::Origin) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(origin)
    }
}

impl AndroidHost {
    /// Lets the WebView show pages of `origin` (`scheme://host[:port]`, http or https) too,
    /// in the top frame and in iframes. Such pages are foreign all the same: the page script
    /// stands down there, no frame session opens for them, and their requests to the app
    /// origin reach only public mounts. Allow only origins the app means to show.
    ///
    /// ```
    /// use bridge_android::host::{AndroidHost, DEFAULT_ORIGIN};
    ///
    /// let bus = bus_core::Bus::builder().app_origin(DEFAULT_ORIGIN).build();
    /// let host = AndroidHost::new(bus.handle(), DEFAULT_ORIGIN)
    ///     .unwrap()
    ///     .allow_navigation_to("https://docs.example.com")
    ///     .unwrap();
    /// assert!(host.allows_navigation("https://docs.example.com/guide"));
    /// assert!(!host.allows_navigation("https://example.com/"));
    /// ```
    ///
    /// # Errors
    /// [`OriginError::NotAnOrigin`] for anything but `scheme://host[:port]`;
    /// [`OriginError::Scheme`] for schemes other than http and https.
    pub fn allow_navigation_to(self, origin: &str) -> Result<AndroidHost, OriginError> {
        let not = || OriginError::NotAnOrigin(origin.to_owned());
        let url = url::Url::parse(origin.trim()).map_err(|_| not())?;
        if !(url.path() == "/" || url.path().is_empty())
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.host().is_none()
        {
            return Err(not());
        }
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(OriginError::Scheme(url.scheme().to_owned()));
        }
        self.inner.navigable.add(url.origin());
        Ok(self)
    }

    /// The navigation policy (`shouldOverrideUrlLoading` returns `!allows_navigation(url)`):
    /// whether a frame (top or sub) may navigate to `url` — the app origin, `about:blank`,
    /// `about:srcdoc`, or an origin allowed with [`allow_navigation_to`](Self::allow_navigation_to).
    /// Everything else is refused: other origins, `data:`, `blob:`, `javascript:`,
    /// `file:`, `content:`, intents, and anything that does not parse.
    ///
    /// ```
    /// use bridge_android::host::{AndroidHost, DEFAULT_ORIGIN};
    ///
    /// let bus = bus_core::Bus::builder().app_origin(DEFAULT_ORIGIN).build();
    /// let host = AndroidHost::new(bus.handle(), DEFAULT_ORIGIN).unwrap();
    /// assert!(host.allows_navigation("https://app.invalid/index.html"));
    /// assert!(host.allows_navigation("about:srcdoc"));
    /// assert!(!host.allows_navigation("https://app.invalid.evil.com/"));
    /// assert!(!host.allows_navigation("data:text/html,<script>alert(1)</script>"));
    /// ```
    pub fn allows_navigation(&self, url: &str) -> bool {
        let url = url.trim();
        if url == "about:blank" || url == "about:srcdoc" {
            return true;
        }
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        if parsed.scheme() != "https" && parsed.scheme() != "http" {
            return false;
        }
        let origin = parsed.origin();
        origin == self.inner.parsed || self.inner.navigable.contains(&origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::DEFAULT_ORIGIN;

    fn host() -> AndroidHost {
        let bus = bus_core::Bus::builder().app_origin(DEFAULT_ORIGIN).build();
        AndroidHost::new(bus.handle(), DEFAULT_ORIGIN).unwrap()
    }

    #[test]
    fn only_whole_origins_are_allowed() {
        let host = host();
        for ok in [
            "https://app.invalid/",
            "https://app.invalid",
            "HTTPS://APP.INVALID/x?y#z",
            "https://app.invalid:443/x",
            "about:blank",
            "about:srcdoc",
        ] {
            assert!(host.allows_navigation(ok), "{ok}");
        }
        for refused in [
            "https://app.invalid.evil.com/",
            "https://app.invalid:8443/",
            "http://app.invalid/",
            "https://app.invalid@evil.com/",
            "https://example.com/",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "blob:https://app.invalid/6b9c7f2e-0000-0000-0000-000000000000",
            "file:///sdcard/x.html",
            "content://x/y",
            "intent://x#Intent;scheme=https;end",
            "about:blank#x",
            "about:config",
            "",
            "not a url",
        ] {
            assert!(!host.allows_navigation(refused), "{refused}");
        }
    }

    #[test]
    fn allowed_origins_are_exact() {
        let host = host()
            .allow_navigation_to("http://127.0.0.1:8080")
            .unwrap()
            .allow_navigation_to("https://docs.example.com/")
            .unwrap();
        assert!(host.allows_navigation("http://127.0.0.1:8080/hostile/attack.html?x"));
        assert!(host.allows_navigation("https://docs.example.com/a"));
        assert!(!host.allows_navigation("http://127.0.0.1:8081/"));
        assert!(!host.allows_navigation("https://127.0.0.1:8080/"));
        assert!(!host.allows_navigation("https://evil.docs.example.com/"));
        for bad in [
            "https://x.example/path",
            "https://x.example?q",
            "nonsense",
            "https://user@x.example",
        ] {
            assert!(
                matches!(
                    host.clone().allow_navigation_to(bad),
                    Err(OriginError::NotAnOrigin(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            host.clone().allow_navigation_to("ftp://x.example"),
            Err(OriginError::Scheme(_))
        ));
    }
}

//! The cookie jar in the bus's dispatch: the app's callers get and set cookies on every
//! transport, nobody else gets or plants any.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::AppendHeaders;
use axum::routing::{get, post};
use bus_core::{Body, Bus, Caller, CookieJar, FrameKind, Mount, Transport};
use http::Request;
use http_body_util::BodyExt;

const APP: &str = "app://localhost";

fn api() -> Router {
    Router::new()
        .route(
            "/login",
            post(|| async {
                (
                    AppendHeaders([
                        ("set-cookie", "sid=s3cret; Path=/; HttpOnly; SameSite=Lax"),
                        ("set-cookie", "theme=dark; Path=/"),
                    ]),
                    "welcome",
                )
            }),
        )
        .route(
            "/logout",
            post(|| async { ([("set-cookie", "sid=; Path=/; Max-Age=0")], "bye") }),
        )
        .route(
            "/me",
            get(|headers: HeaderMap| async move {
                let cookies: Vec<String> = headers
                    .get_all("cookie")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                cookies.join(" | ")
            }),
        )
}

fn bus(jar: CookieJar) -> Bus {
    Bus::builder()
        .app_origin(APP)
        .cookie_jar(jar)
        .mount("/api", api())
        .mount_with(Mount::new("/public", api()).public())
        .build()
}

fn app(transport: Transport) -> Caller {
    Caller::new(transport)
        .with_origin(APP)
        .with_frame(FrameKind::Main)
}

async fn text(response: http::Response<Body>) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

fn req(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_login_cookie_reaches_every_transport_of_the_app_and_no_one_else() {
    let jar = CookieJar::in_memory();
    let bus = bus(jar.clone());
    let h = bus.handle();
    let login = h
        .call_from(app(Transport::Frames), req("POST", "/api/login"))
        .await;
    assert_eq!(login.status(), 200);
    assert!(
        login.headers().get("set-cookie").is_none(),
        "Set-Cookie is kept from the page, as a browser hides it from script"
    );
    assert!(
        login.headers().contains_key("x-inproc-bus-cookies"),
        "a frames response that set cookies carries the page's mirror"
    );
    assert_eq!(jar.len(), 2);

    for transport in [Transport::Frames, Transport::Scheme, Transport::Intercept] {
        let me = h
            .call_from(app(transport), req("GET", "app://localhost/api/me"))
            .await;
        assert_eq!(text(me).await, "sid=s3cret; theme=dark", "{transport:?}");
    }
    // A relative URI (frames) is on the caller's origin.
    let me = h
        .call_from(app(Transport::Frames), req("GET", "/api/me"))
        .await;
    assert_eq!(text(me).await, "sid=s3cret; theme=dark");

    // A page-supplied Cookie header is replaced by the jar's.
    let mut forged = req("GET", "/api/me");
    forged
        .headers_mut()
        .insert("cookie", "sid=forged".parse().unwrap());
    let me = h.call_from(app(Transport::Frames), forged).await;
    assert_eq!(text(me).await, "sid=s3cret; theme=dark");

    // Foreign and anonymous callers get none, even on a public mount...
    for caller in [
        Caller::anonymous(Transport::Scheme),
        Caller::new(Transport::Scheme).with_origin("https://evil.example"),
    ] {
        let me = h
            .call_from(caller.clone(), req("GET", "app://localhost/public/me"))
            .await;
        assert_eq!(text(me).await, "", "{caller:?}");
        // ...and plant none.
        let planted = h
            .call_from(caller.clone(), req("POST", "app://localhost/public/logout"))
            .await;
        assert!(planted.headers().get("set-cookie").is_none());
        assert_eq!(jar.len(), 2, "{caller:?} changed the jar");
    }

    // In-process callers are left alone.
    let rust = h.call(req("GET", "app://localhost/api/me")).await;
    assert_eq!(text(rust).await, "");
    let rust = h.call(req("POST", "app://localhost/api/login")).await;
    assert_eq!(rust.headers().get_all("set-cookie").iter().count(), 2);

    // Deletion (Max-Age=0).
    h.call_from(app(Transport::Scheme), req("POST", "/api/logout"))
        .await;
    let me = h
        .call_from(app(Transport::Frames), req("GET", "/api/me"))
        .await;
    assert_eq!(text(me).await, "theme=dark");
}

#[tokio::test]
async fn document_cookie_through_the_reserved_path() {
    let jar = CookieJar::in_memory();
    let bus = bus(jar.clone());
    let h = bus.handle();
    h.call_from(app(Transport::Frames), req("POST", "/api/login"))
        .await;
    let path = bus_core::cookies::COOKIE_PATH;

    let read = h
        .call_from(
            app(Transport::Scheme),
            req("GET", &format!("{path}?path=/app/page")),
        )
        .await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["cache-control"], "no-store");
    let mirror: serde_json::Value =
        serde_json::from_slice(read.headers()["x-inproc-bus-cookies"].as_bytes()).unwrap();
    assert_eq!(
        mirror,
        serde_json::json!([{ "n": "sid", "p": "/", "h": true },
                           { "n": "theme", "v": "dark", "p": "/", "e": null }]),
        "the mirror never carries an HttpOnly value"
    );
    assert_eq!(text(read).await, "theme=dark", "HttpOnly is not visible");

    // A GET never writes (an <img> could make it): 405, and the jar is unchanged.
    let refused = h
        .call_from(
            app(Transport::Intercept),
            req(
                "GET",
                &format!("{path}?path=/app/page&set=lang%3Den%3B%20Path%3D%2F"),
            ),
        )
        .await;
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
    assert!(text(refused).await.contains("is a POST"));
    let mut write = req("POST", &format!("{path}?path=/app/page"));
    *write.body_mut() = Body::from("lang=en; Path=/");
    let set = h.call_from(app(Transport::Intercept), write).await;
    assert_eq!(text(set).await, "theme=dark; lang=en");
    // A script cannot overwrite the HttpOnly session.
    let mut post = req("POST", &format!("{path}?path=/"));
    *post.body_mut() = Body::from("sid=evil; Path=/");
    let set = h.call_from(app(Transport::Frames), post).await;
    assert_eq!(text(set).await, "theme=dark; lang=en");
    // The cookie a script set reaches the next request.
    let me = h
        .call_from(app(Transport::Frames), req("GET", "/api/me"))
        .await;
    assert_eq!(text(me).await, "sid=s3cret; theme=dark; lang=en");

    // Nobody else may read or write it.
    for caller in [
        Caller::anonymous(Transport::Scheme),
        Caller::new(Transport::Scheme).with_origin("https://evil.example"),
        Caller::in_process(),
    ] {
        let read = h
            .call_from(caller.clone(), req("GET", &format!("{path}?set=x%3D1")))
            .await;
        assert_eq!(read.status(), 403, "{caller:?}");
        assert!(text(read).await.contains("app's own documents"));
    }
    assert_eq!(jar.len(), 3);
    let bad = h
        .call_from(app(Transport::Frames), req("DELETE", path))
        .await;
    assert_eq!(bad.status(), 405);
}

#[tokio::test]
async fn without_cookies_leaves_headers_alone() {
    let bus = Bus::builder()
        .app_origin(APP)
        .without_cookies()
        .mount("/api", api())
        .build();
    let h = bus.handle();
    let login = h
        .call_from(app(Transport::Frames), req("POST", "/api/login"))
        .await;
    assert_eq!(login.headers().get_all("set-cookie").iter().count(), 2);
    let mut own = req("GET", "/api/me");
    own.headers_mut().insert("cookie", "a=1".parse().unwrap());
    let me = h.call_from(app(Transport::Frames), own).await;
    assert_eq!(text(me).await, "a=1");
}

/// A cookie without `Path` takes the directory of the URL the page asked for, before the
/// mount's prefix is stripped (the jar keys it by what the page will ask for next).
#[tokio::test]
async fn a_default_cookie_path_is_the_pages_url_not_the_stripped_one() {
    let echo = || {
        get(|headers: HeaderMap| async move {
            headers
                .get("cookie")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        })
    };
    let deep = Router::new()
        .route(
            "/deep/set",
            post(|| async { ([("set-cookie", "d=1")], "set") }),
        )
        .route("/deep/me", echo())
        .route("/me", echo());
    let jar = CookieJar::in_memory();
    let bus = Bus::builder()
        .app_origin(APP)
        .cookie_jar(jar.clone())
        .mount("/api", deep)
        .build();
    let h = bus.handle();
    let set = h
        .call_from(app(Transport::Frames), req("POST", "/api/deep/set"))
        .await;
    assert_eq!(set.status(), 200);
    assert_eq!(jar.len(), 1);
    let under = h
        .call_from(
            app(Transport::Scheme),
            req("GET", "app://localhost/api/deep/me"),
        )
        .await;
    assert_eq!(text(under).await, "d=1");
    let above = h
        .call_from(app(Transport::Scheme), req("GET", "app://localhost/api/me"))
        .await;
    assert_eq!(text(above).await, "", "the cookie's path is /api/deep");
}

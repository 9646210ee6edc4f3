//! `ws_echo framed|tcp N`: N sequential 32-byte WebSocket echoes through the framed port
//! (as the `websocket` mode's Rust rows drive it) or a tokio-tungstenite client over
//! loopback TCP, to the same axum handler; for `valgrind --tool=callgrind`, run twice with
//! different N and subtract (instructions per echo with set-up cancelled out).

#[allow(dead_code, unreachable_pub)]
#[path = "../websocket/rust_side.rs"]
mod rust_side;

use bus_core::{Bus, Mount};

const ORIGIN: &str = "app://localhost";

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok()))
    else {
        return Err("usage: ws_echo framed|tcp N".into());
    };
    let seen = testkit::websocket::Seen::default();
    let us = match path.as_str() {
        "framed" => {
            let bus = Bus::builder()
                .app_origin(ORIGIN)
                .mount_with(Mount::new("/wsd", testkit::websocket::router(seen)).keep_prefix())
                .build();
            let uri = format!("{ORIGIN}/wsd/echo?who=cg");
            let mut socket = rust_side::FramedSocket::open(&bus.handle(), ORIGIN, &uri)?;
            rust_side::framed_rtt(&mut socket, 32, n)?
        }
        "tcp" => {
            let local = testkit::serve_localhost(testkit::websocket::router(seen));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut ws = rust_side::tcp_open(local.addr, "/wsd/echo?who=cg").await?;
                rust_side::tcp_rtt(&mut ws, 32, n).await
            })?
        }
        other => return Err(format!("no path {other}")),
    };
    println!("{path}: {us:.2} us per 32 B echo over {n}");
    Ok(())
}

//! Runs the mock by hand: `cargo run -p mock-gemini --example serve [PORT]`.
//! Prints its base URL; stops on Ctrl-C. Handy to point a gateway's
//! `base-url` at it and try requests with curl.

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mock = mock_gemini::spawn_on(port, mock_gemini::MockOptions::default()).await;
    println!("{}", mock.base_url);
    let _ = tokio::signal::ctrl_c().await;
}

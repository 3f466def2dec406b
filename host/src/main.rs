#[tokio::main]
async fn main() -> std::process::ExitCode {
    match wasmgate::server::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmgate: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

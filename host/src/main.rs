//! `wasmgate` serves the gateway; `wasmgate precompile PLUGINS_DIR CACHE_DIR`
//! compiles every plugin into the cache ahead of time (for container images),
//! so that start-up never compiles.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => wasmgate::server::run().await,
        Some("precompile") if args.len() == 3 => {
            wasmgate::server::precompile(args[1].as_ref(), args[2].as_ref()).await
        }
        Some("--version") => {
            println!("wasmgate {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some(_) => {
            eprintln!(
                "usage: wasmgate                              serve (configuration: plugins.toml or WASMGATE_CONFIG)"
            );
            eprintln!(
                "       wasmgate precompile PLUGINS_DIR CACHE_DIR   compile plugins into the cache"
            );
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmgate: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! The `stocktake` binary: a thin shell around the library's CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    match stocktake::cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

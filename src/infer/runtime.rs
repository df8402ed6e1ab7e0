//! The one ONNX Runtime environment of the process.
//!
//! ort is built with `load-dynamic`: `libonnxruntime.so` is found at run time, never downloaded
//! or linked at build time. Only one ort environment may exist per process, so it lives in a
//! `OnceLock` that every model (and every test) shares; the first successful initialisation
//! wins and later callers reuse it. Discovery order: an explicit path (`--ort-lib` /
//! `STOCKTAKE_ORT_LIB` / config), `ORT_DYLIB_PATH`, the project-local `runtime/onnxruntime`
//! folder that `scripts/install-ort` fills, then a Python `onnxruntime` package on the machine.
//! We call `ort::init_from`, which returns an error, rather than relying on `ORT_DYLIB_PATH`
//! inside ort, which panics when the file is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::InferError;

/// The loaded runtime: the environment sessions are built from and the library it came from.
pub struct Runtime {
    pub env: ort::environment::Environment,
    pub library: PathBuf,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
// Serialises first initialisation so two threads never race `init_from`.
static INIT: Mutex<()> = Mutex::new(());

const LIB_PREFIX: &str = "libonnxruntime.so";
const INSTALL_HINT: &str = "install it with `scripts/install-ort` (extracts libonnxruntime.so \
    from the onnxruntime 1.31.1 wheel on PyPI into runtime/onnxruntime), or point \
    --ort-lib / STOCKTAKE_ORT_LIB at an existing libonnxruntime.so";

/// Returns the process's runtime, initialising it on first use.
pub fn runtime(explicit: Option<&Path>) -> Result<&'static Runtime, InferError> {
    if let Some(rt) = RUNTIME.get() {
        if let Some(p) = explicit {
            if p != rt.library {
                tracing::warn!(
                    requested = %p.display(),
                    loaded = %rt.library.display(),
                    "ONNX Runtime already loaded from another file; only one per process"
                );
            }
        }
        return Ok(rt);
    }
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let library = discover(explicit)?;
    let builder = ort::init_from(&library).map_err(|e| InferError::Runtime {
        message: format!("cannot load {}: {e}; {INSTALL_HINT}", library.display()),
    })?;
    let env = builder
        .with_name("stocktake")
        .build()
        .map_err(|e| InferError::Runtime {
            message: format!("cannot create the ONNX Runtime environment: {e}"),
        })?;
    tracing::debug!(library = %library.display(), "ONNX Runtime loaded");
    Ok(RUNTIME.get_or_init(|| Runtime { env, library }))
}

/// Finds `libonnxruntime.so` in the documented order.
pub fn discover(explicit: Option<&Path>) -> Result<PathBuf, InferError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(InferError::Runtime {
                message: format!(
                    "ONNX Runtime library {} (from --ort-lib/STOCKTAKE_ORT_LIB) does not exist; {INSTALL_HINT}",
                    p.display()
                ),
            })
        };
    }
    let mut looked = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(format!("ORT_DYLIB_PATH={}", p.display()));
    }
    for dir in project_dirs() {
        let folder = dir.join("runtime").join("onnxruntime");
        if let Some(lib) = newest_lib_in(&folder) {
            return Ok(lib);
        }
        looked.push(folder.display().to_string());
    }
    for dir in python_site_packages() {
        let folder = dir.join("onnxruntime").join("capi");
        if let Some(lib) = newest_lib_in(&folder) {
            return Ok(lib);
        }
        looked.push(folder.display().to_string());
    }
    Err(InferError::Runtime {
        message: format!(
            "ONNX Runtime library not found (looked in {}); {INSTALL_HINT}",
            looked.join(", ")
        ),
    })
}

/// The working directory and its ancestors, the executable's ancestors (a binary under
/// `target/…` finds the checkout's `runtime/`), and the crate's own directory.
fn project_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut push_ancestors = |start: &Path| {
        for a in start.ancestors() {
            if !dirs.iter().any(|d| d == a) {
                dirs.push(a.to_path_buf());
            }
        }
    };
    if let Ok(cwd) = std::env::current_dir() {
        push_ancestors(&cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(parent) = exe.parent() {
            push_ancestors(parent);
        }
    }
    push_ancestors(Path::new(env!("CARGO_MANIFEST_DIR")));
    dirs
}

/// `libonnxruntime.so*` in a folder, preferring the longest (most specific) name.
fn newest_lib_in(folder: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(LIB_PREFIX))
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next()
}

/// site-packages folders of the machine's `python3`, without importing onnxruntime.
fn python_site_packages() -> Vec<PathBuf> {
    let script = "import site, sysconfig\n\
        paths = [sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']]\n\
        paths += site.getsitepackages() if hasattr(site, 'getsitepackages') else []\n\
        paths.append(site.getusersitepackages())\n\
        print('\\n'.join(dict.fromkeys(paths)))";
    // The child gets no keyring from the environment (`[vault] key_env`).
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .env_remove("STOCKTAKE_KEYS")
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_path_is_a_clear_error() {
        let err = discover(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(msg.contains("scripts/install-ort"), "{msg}");
    }
}

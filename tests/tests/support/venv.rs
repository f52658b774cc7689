//! The Python environment of the interop tests: a virtualenv under the
//! target directory with `websockets` installed, created on first use (it
//! needs network access for pip) and reused after that. Failing to create it
//! fails the tests that need it, with the output of the failing step.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

/// The `websockets` release the tests run against.
pub(crate) const WEBSOCKETS: &str = "websockets==15.0.1";

/// The virtualenv's interpreter, created on first use by this process and
/// reused by later runs.
pub(crate) fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(setup_venv) {
        Ok(python) => python,
        Err(e) => panic!("cannot set up the Python peer ({WEBSOCKETS}): {e}"),
    }
}

// `File::lock` is the only cross-process lock in std that a dead process
// releases; this test-only crate is built with a newer toolchain than the
// libraries' `rust-version`.
#[clippy::msrv = "1.89"]
fn setup_venv() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let name = format!("interop-venv-{}", WEBSOCKETS.replace("==", "-"));
    let venv = root.join(&name);
    let python = venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    });
    // Written last: a venv without it is a failed or unfinished install.
    let ready = venv.join("wscore-ready");
    if ready.exists() {
        return Ok(python);
    }
    std::fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    // Other test processes (another `cargo test`) may be installing too.
    // The lock goes with the file, so a process that dies releases it.
    let lock_path = root.join(format!("{name}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    if ready.exists() {
        return Ok(python);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| format!("removing the unfinished {}: {e}", venv.display()))?;
    }
    let system_python = if cfg!(windows) { "python" } else { "python3" };
    run(std::process::Command::new(system_python)
        .args(["-m", "venv"])
        .arg(&venv))?;
    run(std::process::Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        WEBSOCKETS,
    ]))?;
    run(std::process::Command::new(&python).args(["-c", "import websockets.asyncio.server"]))?;
    std::fs::write(&ready, WEBSOCKETS).map_err(|e| format!("writing {}: {e}", ready.display()))?;
    drop(lock);
    Ok(python)
}

/// Runs a setup command; an error carries the command and its output.
fn run(command: &mut std::process::Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`{shown}` could not start: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{shown}` failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

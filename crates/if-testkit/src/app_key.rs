//! RSA keys for GitHub App tests, made by the `openssl` command line (which `.ci/run`
//! installs): a 2048-bit key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`, the format
//! GitHub's "Generate a private key" downloads) and as PKCS#8 PEM, and its public key as DER
//! `RSAPublicKey`, derived by openssl (not by the code under test) for
//! [`crate::FakeForge::add_github_app`].

use std::path::{Path, PathBuf};
use std::process::Command;

/// One generated key pair.
#[derive(Debug, Clone)]
pub struct AppKeyFiles {
    /// PKCS#1 PEM.
    pub pkcs1: PathBuf,
    /// The same key as PKCS#8 PEM.
    pub pkcs8: PathBuf,
    /// The public key, DER `RSAPublicKey`.
    pub public_der: Vec<u8>,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl (install it: .ci/run does) cannot run: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generates a key named `name` in `dir`. Panics when openssl is missing or fails.
pub fn generate(dir: &Path, name: &str) -> AppKeyFiles {
    let pkcs8 = dir.join(format!("{name}.pkcs8.pem"));
    let pkcs1 = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.der"));
    let p = |p: &Path| p.to_string_lossy().into_owned();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &p(&pkcs8),
    ]);
    openssl(&["rsa", "-in", &p(&pkcs8), "-traditional", "-out", &p(&pkcs1)]);
    openssl(&[
        "rsa",
        "-in",
        &p(&pkcs8),
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        &p(&public),
    ]);
    let public_der =
        std::fs::read(&public).unwrap_or_else(|e| panic!("reading {}: {e}", public.display()));
    AppKeyFiles {
        pkcs1,
        pkcs8,
        public_der,
    }
}

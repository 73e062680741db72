//! Finds libblocksparse: the directory named by BLOCKSPARSE_LIB_DIR (a build tree's `lib/` or an
//! install's `lib/`), else `pkg-config blocksparse`. Exports the directory to dependents as
//! DEP_BLOCKSPARSE_LIB_DIR so they can set an rpath for their tests and examples.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BLOCKSPARSE_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dirs = match env::var("BLOCKSPARSE_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => vec![dir],
        _ => pkg_config_dirs().unwrap_or_else(|why| {
            panic!(
                "libblocksparse not found: set BLOCKSPARSE_LIB_DIR to the directory holding libblocksparse.so ({why})"
            )
        }),
    };
    for dir in &dirs {
        println!("cargo:rustc-link-search=native={dir}");
    }
    println!("cargo:rustc-link-lib=dylib=blocksparse");
    if let Some(dir) = dirs.first() {
        println!("cargo:lib_dir={dir}");
        // This crate's own unit test runs against the same library.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

/// The `-L` directories of `pkg-config --libs blocksparse` (possibly none: a system directory).
fn pkg_config_dirs() -> Result<Vec<String>, String> {
    let out = Command::new(env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
        .args(["--libs", "blocksparse"])
        .output()
        .map_err(|e| format!("cannot run pkg-config: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|f| f.strip_prefix("-L").map(str::to_string))
        .collect())
}

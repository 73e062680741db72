//! Tests and examples of this crate run against the library blocksparse-sys linked: give them an
//! rpath to its directory so no LD_LIBRARY_PATH is needed.
fn main() {
    if let Ok(dir) = std::env::var("DEP_BLOCKSPARSE_LIB_DIR") {
        println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg-examples=-Wl,-rpath,{dir}");
    }
}

//! The migrations are embedded at compile time: a new or edited migration must rebuild
//! the crate, which cargo cannot tell from the sources alone.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}

//! The `bpfkit` command line.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("bpfkit: no commands yet");
    std::process::exit(2);
}

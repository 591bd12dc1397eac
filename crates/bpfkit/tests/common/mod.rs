//! Shared helpers of the kernel tests: leak checks, unique pin directories, fixtures.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod features;
pub mod net;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bpfkit_sys::obj::{get_next_id, ObjKind};

/// How long the kernel may take to free an object after its last reference goes (programs
/// and maps are freed after an RCU grace period, maps from a workqueue).
const FREE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether object `id` exists, found by walking ids. Walking takes no reference on the object:
/// opening a dying prog_array by id (`GET_FD_BY_ID`) races with its deferred clear in the kernel
/// and can leak it for good, so the leak check must not open what it checks.
fn alive(kind: ObjKind, id: u32) -> bool {
    match get_next_id(kind, id - 1) {
        Ok(next) => next == Some(id),
        Err(e) => panic!("walking {kind:?} ids from {id} failed unexpectedly: {e}"),
    }
}

/// Asserts that the programs, maps and links with these ids no longer exist, polling
/// the id list until they are absent (the kernel frees objects asynchronously).
pub fn assert_gone(prog_ids: &[u32], map_ids: &[u32], link_ids: &[u32]) {
    let all: Vec<(ObjKind, u32)> = prog_ids
        .iter()
        .map(|&i| (ObjKind::Prog, i))
        .chain(map_ids.iter().map(|&i| (ObjKind::Map, i)))
        .chain(link_ids.iter().map(|&i| (ObjKind::Link, i)))
        .collect();
    assert!(
        all.iter().all(|&(_, id)| id != 0),
        "an id of 0 was passed to assert_gone"
    );
    let start = Instant::now();
    loop {
        let left: Vec<_> = all.iter().filter(|&&(k, id)| alive(k, id)).collect();
        if left.is_empty() {
            return;
        }
        if start.elapsed() > FREE_TIMEOUT {
            panic!(
                "kernel objects still alive {FREE_TIMEOUT:?} after the test dropped them: {left:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that an object exists right now (so a later [`assert_gone`] proves something).
pub fn assert_alive(kind: ObjKind, id: u32) {
    assert!(alive(kind, id), "{kind:?} {id} should exist");
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique name fragment for this process and call (no '.', so bpffs accepts it).
pub fn unique(tag: &str) -> String {
    format!(
        "bpfkit_{tag}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory under /sys/fs/bpf, removed with everything pinned in it on drop.
pub struct PinDir {
    path: PathBuf,
}

impl PinDir {
    /// Creates `/sys/fs/bpf/<unique tag>`.
    pub fn new(tag: &str) -> PinDir {
        let path = Path::new("/sys/fs/bpf").join(unique(tag));
        bpfkit::create_pin_dir(&path).expect("creating a pin directory under /sys/fs/bpf");
        PinDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The folder scripts/build-fixtures writes to: `$BPFKIT_FIXTURES`, else `<workspace>/target/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("BPFKIT_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"),
    }
}

/// A built fixture; panics (fails the test) with the command to build it when missing.
pub fn fixture(name: &str) -> PathBuf {
    let p = fixtures_dir().join(name);
    assert!(
        p.exists(),
        "fixture {} is missing: run scripts/build-fixtures (or set BPFKIT_FIXTURES)",
        p.display()
    );
    p
}

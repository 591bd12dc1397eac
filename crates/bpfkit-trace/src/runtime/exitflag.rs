//! Reading the kernel-side exit flag (see `codegen::exitflag`): `exit()` sets it before
//! it queues its `exit` record, so user space stops even when a full ring buffer dropped that
//! record, with the code `exit(N)` stored in the flag's high half.

use super::Runtime;

impl Runtime<'_> {
    /// The exit code when a probe has called `exit()`, read from the exit-flag map (`None`:
    /// not called, or the script never calls `exit()`).
    pub fn exit_flagged(&self) -> Option<i32> {
        let idx = self
            .compiled
            .maps
            .iter()
            .position(|m| m.name == crate::codegen::EXIT_FLAG_MAP)?;
        let v = self.maps.get(idx)?.lookup(&0u32.to_ne_bytes()).ok()??;
        let w = super::u64_at(&v, 0);
        (w & 1 != 0).then_some((w >> 32) as u32 as i32)
    }

    /// Stops the run for a flag [`Runtime::exit_flagged`] read, unless an `exit` record
    /// already did (its code wins: it is the first `exit()` user space saw).
    pub fn exit_on_flag(&mut self, flagged: Option<i32>) {
        if let (Some(code), false) = (flagged, self.exit) {
            self.exit = true;
            self.exit_code = code;
        }
    }
}

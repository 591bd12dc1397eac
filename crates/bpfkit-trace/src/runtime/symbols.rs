//! `ksym()` / `usym()` values as bpftrace prints them: the name of the function holding the
//! address (no offset), or the address in hex when nothing resolves it; `macaddr()` values.

/// The text of a `Symbol` value: address `addr`, `tag` 0 for a kernel address, else the
/// pid + 1 of the process the user address belongs to.
pub fn text(addr: u64, tag: u64) -> String {
    let name = if tag == 0 {
        super::stacks::ksym(addr)
    } else {
        u32::try_from(tag - 1)
            .ok()
            .and_then(|pid| super::stacks::usym(pid, addr).0)
    };
    match name {
        Some(n) => strip_offset(&n).to_string(),
        None => format!("0x{addr:x}"),
    }
}

/// The first six bytes of `b` as a MAC address, `XX:XX:XX:XX:XX:XX`.
pub fn mac_text(b: &[u8]) -> String {
    let bytes: Vec<String> = (0..6)
        .map(|i| format!("{:02X}", b.get(i).copied().unwrap_or(0)))
        .collect();
    bytes.join(":")
}

/// `name` without the `+offset` the stack printer appends.
fn strip_offset(name: &str) -> &str {
    match name.rsplit_once('+') {
        Some((n, off)) if !n.is_empty() && off.bytes().all(|c| c.is_ascii_digit()) => n,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_dropped() {
        assert_eq!(strip_offset("do_nanosleep+5"), "do_nanosleep");
        assert_eq!(strip_offset("a+b"), "a+b");
    }

    #[test]
    fn unknown_addresses_print_in_hex() {
        // No symbol lies below address 1, kernel or user (pid 1's map starts far above).
        assert_eq!(text(1, 0), "0x1");
        assert_eq!(text(1, 2), "0x1");
    }
}

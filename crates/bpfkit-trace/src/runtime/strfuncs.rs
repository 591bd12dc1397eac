//! Text that some functions leave to user space: `strerror()` messages, `signal_name()`
//! descriptions and `cat()`'s error line, worded as the C library and bpftrace word them.

/// The C library's message for errno `n` ("Invalid argument" for 22).
pub fn strerror_text(n: i64) -> String {
    let Ok(code) = i32::try_from(n) else {
        return format!("Unknown error {n}");
    };
    // std asks the C library (strerror_r) and appends " (os error N)", which we drop.
    let full = std::io::Error::from_raw_os_error(code).to_string();
    match full.rfind(" (os error ") {
        Some(at) => full.get(..at).unwrap_or(&full).to_string(),
        None => full,
    }
}

/// The C library's description of signal `n` ("Interrupt" for 2); "N/A" outside the
/// range of signal numbers.
pub fn signal_text(n: i64) -> String {
    let s = match n {
        0 => return "Unknown signal 0".to_string(),
        1 => "Hangup",
        2 => "Interrupt",
        3 => "Quit",
        4 => "Illegal instruction",
        5 => "Trace/breakpoint trap",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        10 => "User defined signal 1",
        11 => "Segmentation fault",
        12 => "User defined signal 2",
        13 => "Broken pipe",
        14 => "Alarm clock",
        15 => "Terminated",
        16 => "Stack fault",
        17 => "Child exited",
        18 => "Continued",
        19 => "Stopped (signal)",
        20 => "Stopped",
        21 => "Stopped (tty input)",
        22 => "Stopped (tty output)",
        23 => "Urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "File size limit exceeded",
        26 => "Virtual timer expired",
        27 => "Profiling timer expired",
        28 => "Window changed",
        29 => "I/O possible",
        30 => "Power failure",
        31 => "Bad system call",
        32..=64 => return format!("Real-time signal {}", n - 32),
        _ => "N/A",
    };
    s.to_string()
}

/// bpftrace's line for a `cat()` of a file it cannot open.
pub fn cat_error(path: &str, e: &std::io::Error) -> String {
    let msg = match e.raw_os_error() {
        Some(code) => strerror_text(i64::from(code)),
        None => e.to_string(),
    };
    format!("ERROR: failed to open file '{path}' ({msg})\n")
}

/// Nanoseconds from the Unix epoch to boot, measured once so that every timestamp of a run
/// shares one offset (differences between `strftime()` values stay exact).
fn boot_epoch_ns() -> u128 {
    static OFFSET: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        // std offers no boot clock; /proc/uptime is the kernel's boot time in seconds.
        let up = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next().map(str::to_string))
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0);
        now.saturating_sub((up * 1e9) as u128)
    })
}

/// Year, month (1-12) and day of the month of a count of days since 1970-01-01.
pub(super) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `strftime(fmt, ns)` with `ns` nanoseconds since boot, in UTC; `%f` is bpftrace's
/// microseconds extension.
pub fn strftime_boot(fmt: &str, ns: u64) -> String {
    let total = boot_epoch_ns() + u128::from(ns);
    let secs = (total / 1_000_000_000) as i64;
    let micros = (total % 1_000_000_000 / 1000) as u64;
    format_epoch(fmt, secs, micros)
}

/// `fmt` expanded for `secs` seconds since the epoch (UTC) and `micros` microseconds.
pub fn format_epoch(fmt: &str, secs: i64, micros: u64) -> String {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (h, mi, s) = (tod / 3600, tod % 3600 / 60, tod % 60);
    let (y, mo, d) = civil(days);
    let wday = (days + 4).rem_euclid(7) as usize;
    let yday = days - civil_days(y, 1, 1) + 1;
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let month = MONTHS.get(mo as usize - 1).copied().unwrap_or("");
    let day = DAYS.get(wday).copied().unwrap_or("");
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = it.next() else {
            out.push('%');
            break;
        };
        let piece = match k {
            'Y' => y.to_string(),
            'C' => format!("{:02}", y.div_euclid(100)),
            'y' => format!("{:02}", y.rem_euclid(100)),
            'm' => format!("{mo:02}"),
            'd' => format!("{d:02}"),
            'e' => format!("{d:2}"),
            'H' => format!("{h:02}"),
            'I' => format!("{h12:02}"),
            'M' => format!("{mi:02}"),
            'S' => format!("{s:02}"),
            'f' => format!("{micros:06}"),
            's' => secs.to_string(),
            'j' => format!("{yday:03}"),
            'p' => (if h < 12 { "AM" } else { "PM" }).to_string(),
            'a' => day.get(..3).unwrap_or("").to_string(),
            'A' => day.to_string(),
            'b' | 'h' => month.get(..3).unwrap_or("").to_string(),
            'B' => month.to_string(),
            'u' => (if wday == 0 { 7 } else { wday }).to_string(),
            'w' => wday.to_string(),
            'D' => format!("{mo:02}/{d:02}/{:02}", y.rem_euclid(100)),
            'F' => format!("{y}-{mo:02}-{d:02}"),
            'T' => format!("{h:02}:{mi:02}:{s:02}"),
            'R' => format!("{h:02}:{mi:02}"),
            'Z' => "UTC".to_string(),
            'z' => "+0000".to_string(),
            'n' => "\n".to_string(),
            't' => "\t".to_string(),
            '%' => "%".to_string(),
            o => format!("%{o}"),
        };
        out.push_str(&piece);
    }
    out
}

/// Days since 1970-01-01 of a civil date.
fn civil_days(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An `ntop()` value as text: `b` holds the family (8 bytes) then the address.
pub fn inet_text(b: &[u8]) -> String {
    let mut fam = [0u8; 8];
    if let Some(s) = b.get(..8) {
        fam.copy_from_slice(s);
    }
    let mut addr = [0u8; 16];
    if let Some(s) = b.get(8..24) {
        addr.copy_from_slice(s);
    }
    match u64::from_ne_bytes(fam) {
        10 => std::net::Ipv6Addr::from(addr).to_string(),
        _ => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
    }
}

/// A `strftime()` value as text: `b` holds the nanoseconds then the format.
pub fn timestamp_text(b: &[u8]) -> String {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(..8) {
        w.copy_from_slice(s);
    }
    let fmt = b.get(8..64).unwrap_or(&[]);
    let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
    let fmt = String::from_utf8_lossy(fmt.get(..end).unwrap_or(&[]));
    strftime_boot(&fmt, u64::from_ne_bytes(w))
}

/// A `buf()` as bpftrace prints it: printable ASCII as is, other bytes as `\xNN`.
pub fn escape_buffer(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7f).contains(&c) {
            out.push(c);
        } else {
            out.extend_from_slice(format!("\\x{c:02x}").as_bytes());
        }
    }
    out
}

/// The bytes behind an escaped buffer (the inverse of [`escape_buffer`]).
fn unescape_buffer(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        let hex = s
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, s.get(i + 1), hex) {
            (b'\\', Some(b'x'), Some(v)) => {
                out.push(v);
                i += 4;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `%rx` (every byte as `\xNN`) and `%rh` (bytes as spaced hex pairs) of an escaped buffer.
pub fn buffer_hex(escaped: &[u8], spaced: bool) -> String {
    let bytes = unescape_buffer(escaped);
    let parts: Vec<String> = bytes
        .iter()
        .map(|c| {
            if spaced {
                format!("{c:02x}")
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect();
    parts.join(if spaced { " " } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(strerror_text(22), "Invalid argument");
        assert_eq!(strerror_text(7), "Argument list too long");
        assert_eq!(signal_text(2), "Interrupt");
        assert_eq!(signal_text(0), "Unknown signal 0");
        assert_eq!(signal_text(1024), "N/A");
        assert_eq!(
            format_epoch("%Y-%m-%d %H:%M:%S %j %a %b %D.%f", 1_700_000_000, 42),
            "2023-11-14 22:13:20 318 Tue Nov 11/14/23.000042"
        );
    }
}

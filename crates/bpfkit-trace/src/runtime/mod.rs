//! The runtime: ring buffer records turned into output lines (`printf`, `join`, `time`,
//! `print`), map actions the programs ask for (`print`, `clear`, `zero`, `exit`), and maps
//! read back and printed as bpftrace prints them, per-CPU values summed here.

pub mod bench;
mod cgroups;
pub mod enums;
mod exitflag;
mod files;
pub mod format;
mod gfp;
mod hist;
mod mapfull;
pub mod pcap;
mod records;
mod stacks;
pub mod strfuncs;
mod symbols;
mod tseries;
mod users;

use crate::codegen::layout::{event, size_of};
use crate::codegen::{Compiled, MapDef, ValueKind};
use crate::types::{AggKind, Type};
use bpfkit::Map;
use format::{
    bar_line, decode, decode_all, decode_in, hist_label, lhist_label, printf, DecodeCx, Value,
};
use std::collections::BTreeMap;
use std::io::Write;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// bpftrace's text.
    #[default]
    Text,
    /// bpftrace's `-f json` lines.
    Json,
}

/// Decodes events and prints maps for one running script.
pub struct Runtime<'a> {
    compiled: &'a Compiled,
    maps: &'a [Map],
    out: &'a mut dyn Write,
    format: OutputFormat,
    /// `exit()` was called.
    pub exit: bool,
    /// The code `exit(N)` asked for.
    pub exit_code: i32,
    lost: u64,
    map_full: mapfull::RateLimit,
    /// The stack-trace map, which `kstack`/`ustack` values name frames in.
    stacks: Option<&'a Map>,
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) | Value::Ptr(u) => u.to_string(),
        Value::Array(vs) => format!(
            "[{}]",
            vs.iter().map(json_value).collect::<Vec<_>>().join(",")
        ),
        Value::Str(s) => json_str(&String::from_utf8_lossy(s)),
        Value::Tuple(vs) => format!(
            "[{}]",
            vs.iter().map(json_value).collect::<Vec<_>>().join(",")
        ),
        Value::Record(fs) => records::json(fs, &json_str, &json_value),
    }
}

/// One map entry after per-CPU values are combined.
#[derive(Clone, Debug)]
enum Entry {
    Scalar(Value),
    Avg { count: u64, total: i64 },
    Stats { count: u64, total: i64 },
    Hist(BTreeMap<u64, u64>),
    Tseries(tseries::Series),
}

impl<'a> Runtime<'a> {
    /// A runtime for `compiled` whose maps were created as `maps` (same order).
    pub fn new(
        compiled: &'a Compiled,
        maps: &'a [Map],
        out: &'a mut dyn Write,
        format: OutputFormat,
    ) -> Self {
        let stacks = compiled
            .maps
            .iter()
            .position(|m| m.map_type == bpfkit::MapType::StackTrace)
            .and_then(|i| maps.get(i));
        Runtime {
            compiled,
            maps,
            out,
            format,
            exit: false,
            exit_code: 0,
            lost: 0,
            map_full: mapfull::RateLimit::default(),
            stacks,
        }
    }

    /// How values of this run decode (its stack-trace map).
    fn decode_cx(&self) -> DecodeCx<'a> {
        DecodeCx {
            stacks: self.stacks,
            cgroup_filters: &self.compiled.cgroup_filters,
        }
    }

    /// Reports events the kernel could not queue since the last call (`Lost N events`), and
    /// updates that found a map full.
    pub fn report_lost(&mut self) {
        self.report_map_full();
        let Some(m) = self.maps.get(crate::codegen::MAP_LOST as usize) else {
            return;
        };
        let total: u64 = m
            .lookup_percpu(&0u32.to_ne_bytes())
            .ok()
            .flatten()
            .unwrap_or_default()
            .iter()
            .map(|v| u64_at(v, 0))
            .sum();
        if total > self.lost {
            let n = total - self.lost;
            self.lost = total;
            let line = match self.format {
                OutputFormat::Text => format!("Lost {n} events\n"),
                OutputFormat::Json => {
                    format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {n}}}}}\n")
                }
            };
            self.write(&line);
            self.flush();
        }
    }

    fn write(&mut self, s: &str) {
        // A reader that went away (`| head`) ends the run quietly.
        if self.out.write_all(s.as_bytes()).is_err() {
            self.exit = true;
        }
    }

    /// Flushes the output.
    pub fn flush(&mut self) {
        if self.out.flush().is_err() {
            self.exit = true;
        }
    }

    /// Prints `Attached N probes` (or its JSON form).
    pub fn attached(&mut self, n: usize) {
        let s = if n == 1 { "" } else { "s" };
        match self.format {
            OutputFormat::Text => self.write(&format!("Attached {n} probe{s}\n")),
            OutputFormat::Json => self.write(&format!(
                "{{\"type\": \"attached_probes\", \"count\": {n}, \"data\": {{\"probes\": {n}}}}}\n"
            )),
        }
        self.flush();
    }

    fn text(&mut self, s: &str) {
        match self.format {
            OutputFormat::Text => self.write(s),
            OutputFormat::Json => {
                let line = format!("{{\"type\": \"printf\", \"data\": {}}}\n", json_str(s));
                self.write(&line)
            }
        }
    }

    /// Handles one ring buffer record.
    pub fn handle(&mut self, rec: &[u8]) {
        let kind = u64_at(rec, 0);
        let id = u64_at(rec, 8) as usize;
        let body = rec.get(16..).unwrap_or(&[]);
        match kind {
            event::PRINTF => {
                if let Some(f) = self.compiled.formats.get(id) {
                    let mut vals = decode_all(self.decode_cx(), &f.args, body);
                    enums::symbolize(&f.fmt, &f.args, &mut vals, &self.compiled.enums);
                    let s = printf(&f.fmt, &vals);
                    self.text(&s);
                }
            }
            event::JOIN => {
                let v = decode(&Type::Str(body.len() as u64), body);
                self.text(&format!("{}\n", v.display()));
            }
            event::TIME => {
                if let Some(f) = self.compiled.formats.get(id) {
                    let s = strftime_now(&f.fmt);
                    match self.format {
                        OutputFormat::Text => self.write(&s),
                        OutputFormat::Json => {
                            let line =
                                format!("{{\"type\": \"time\", \"data\": {}}}\n", json_str(&s));
                            self.write(&line)
                        }
                    }
                }
            }
            event::PRINT_VALUE => {
                if let Some(f) = self.compiled.formats.get(id) {
                    let vals = decode_all(self.decode_cx(), &f.args, body);
                    match self.format {
                        OutputFormat::Text => {
                            let s: Vec<String> = vals.iter().map(Value::display).collect();
                            self.write(&format!("{}\n", s.join(" ")));
                        }
                        OutputFormat::Json => {
                            let d = vals.first().map_or_else(|| "null".to_string(), json_value);
                            self.write(&format!("{{\"type\": \"value\", \"data\": {d}}}\n"));
                        }
                    }
                }
            }
            event::SYSTEM | event::CAT => {
                if let Some(f) = self.compiled.formats.get(id) {
                    let mut vals = decode_all(self.decode_cx(), &f.args, body);
                    enums::symbolize(&f.fmt, &f.args, &mut vals, &self.compiled.enums);
                    let arg = printf(&f.fmt, &vals);
                    let text = if kind == event::SYSTEM {
                        // Runs as bpftrace does: through the shell, its output in ours.
                        match std::process::Command::new("/bin/sh")
                            .arg("-c")
                            .arg(&arg)
                            .output()
                        {
                            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
                            Err(e) => format!("system(\"{arg}\"): {e}\n"),
                        }
                    } else {
                        match files::read_for_cat(&arg) {
                            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                            Err(e) => strfuncs::cat_error(&arg, &e),
                        }
                    };
                    match (self.format, kind) {
                        (OutputFormat::Json, event::CAT) => {
                            let line =
                                format!("{{\"type\": \"cat\", \"data\": {}}}\n", json_str(&text));
                            self.write(&line);
                        }
                        (OutputFormat::Json, _) => {
                            let line = format!(
                                "{{\"type\": \"syscall\", \"data\": {}}}\n",
                                json_str(&text)
                            );
                            self.write(&line);
                        }
                        _ => self.text(&text),
                    }
                }
            }
            event::PRINT => self.print_map_now(id, u64_at(body, 0), u64_at(body, 8)),
            event::CLEAR => self.clear_map(id, false),
            event::ZERO => self.clear_map(id, true),
            event::EXIT => {
                self.exit = true;
                self.exit_code = u64_at(body, 0) as i32;
            }
            _ => {}
        }
        self.flush();
    }

    fn clear_map(&mut self, idx: usize, zero: bool) {
        let Some(map) = self.maps.get(idx) else {
            return;
        };
        let keys: Vec<Vec<u8>> = map.keys().filter_map(Result::ok).collect();
        for k in keys {
            if zero {
                let vs = map.value_size();
                if map.map_type().is_some_and(|t| t.is_percpu()) {
                    let n = map.value_slots().max(1);
                    let zeros: Vec<Vec<u8>> = (0..n).map(|_| vec![0u8; vs]).collect();
                    let _ = map.update_percpu(&k, &zeros, 0);
                } else {
                    let _ = map.update(&k, &vec![0u8; vs], 0);
                }
            } else {
                let _ = map.delete(&k);
            }
        }
    }

    fn entries(&self, def: &MapDef, map: &Map) -> Vec<(Value, Entry)> {
        let key_ty = def.key.clone().unwrap_or(Type::None);
        let is_hist = matches!(
            def.value,
            ValueKind::Agg(AggKind::Hist | AggKind::Lhist | AggKind::Tseries, _)
        );
        let user_key = (def.key_size - if is_hist { 8 } else { 0 }) as usize;
        let cx = self.decode_cx();
        let mut out: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
        for k in map.keys().filter_map(Result::ok) {
            let vals: Vec<Vec<u8>> = if map.map_type().is_some_and(|t| t.is_percpu()) {
                map.lookup_percpu(&k).ok().flatten().unwrap_or_default()
            } else {
                map.lookup(&k).ok().flatten().into_iter().collect()
            };
            let ukey = k.get(..user_key).unwrap_or(&[]).to_vec();
            let sum = |off: usize| {
                vals.iter()
                    .map(|v| u64_at(v, off))
                    .fold(0u64, u64::wrapping_add)
            };
            let e = match &def.value {
                ValueKind::Plain(t) => {
                    Entry::Scalar(vals.first().map_or(Value::Uint(0), |v| decode_in(cx, t, v)))
                }
                ValueKind::Agg(AggKind::Count, _) => Entry::Scalar(Value::Uint(sum(0))),
                ValueKind::Agg(AggKind::Sum, _) => Entry::Scalar(Value::Int(sum(0) as i64)),
                ValueKind::Agg(kind @ (AggKind::Min | AggKind::Max), _) => {
                    let it = vals
                        .iter()
                        .filter(|v| u64_at(v, 8) != 0)
                        .map(|v| u64_at(v, 0) as i64);
                    let m = if *kind == AggKind::Min {
                        it.min()
                    } else {
                        it.max()
                    };
                    Entry::Scalar(Value::Int(m.unwrap_or(0)))
                }
                ValueKind::Agg(AggKind::Avg, _) => Entry::Avg {
                    count: sum(0),
                    total: sum(8) as i64,
                },
                ValueKind::Agg(AggKind::Stats, _) => Entry::Stats {
                    count: sum(0),
                    total: sum(8) as i64,
                },
                ValueKind::Agg(AggKind::Tseries, a) => {
                    let agg = a.map_or(0, |a| a.2);
                    let slots: Vec<(i64, u64)> = vals
                        .iter()
                        .map(|v| (u64_at(v, 0) as i64, u64_at(v, 8)))
                        .collect();
                    let acc = tseries::combine_slots(&slots, u64_at(&k, user_key), agg);
                    let mut t = match out.remove(&ukey) {
                        Some(Entry::Tseries(t)) => t,
                        _ => BTreeMap::new(),
                    };
                    if acc.1 > 0 {
                        t.insert(u64_at(&k, user_key), acc);
                    }
                    Entry::Tseries(t)
                }
                ValueKind::Agg(_, _) => {
                    let b = u64_at(&k, user_key);
                    let c = sum(0);
                    let mut h = match out.remove(&ukey) {
                        Some(Entry::Hist(h)) => h,
                        _ => BTreeMap::new(),
                    };
                    *h.entry(b).or_insert(0) += c;
                    Entry::Hist(h)
                }
            };
            out.insert(ukey, e);
        }
        let mut v: Vec<(Value, Entry)> = out
            .into_iter()
            .map(|(k, e)| {
                let kv = if def.key.is_some() {
                    decode_in(cx, &key_ty, &k)
                } else {
                    Value::Tuple(Vec::new())
                };
                (kv, e)
            })
            .collect();
        let rank = |e: &Entry| -> i128 {
            match e {
                Entry::Scalar(Value::Int(i)) => i128::from(*i),
                Entry::Scalar(Value::Uint(u) | Value::Ptr(u)) => i128::from(*u),
                Entry::Avg { count, total } | Entry::Stats { count, total } => {
                    i128::from(*total) / i128::from((*count).max(1))
                }
                _ => 0,
            }
        };
        if !matches!(def.value, ValueKind::Plain(ref t) if size_of(t) > 8 || matches!(t, Type::Str(_)))
        {
            v.sort_by(|a, b| rank(&a.1).cmp(&rank(&b.1)).then_with(|| a.0.cmp(&b.0)));
        }
        v
    }

    /// `print(@m)`: like the exit-time printing, but a scalar map without a value prints
    /// its zero (`@: 0`).
    /// `top` (when not 0) keeps the last `top` entries of the sorted order, `div` (when not 0)
    /// divides the values, as `print(@m, top, div)` asks.
    fn print_map_now(&mut self, idx: usize, top: u64, div: u64) {
        if let (Some(def), Some(map)) = (self.compiled.maps.get(idx), self.maps.get(idx)) {
            let empty = map.keys().next().is_none();
            let scalar = matches!(
                def.value,
                ValueKind::Plain(_) | ValueKind::Agg(AggKind::Count | AggKind::Sum, _)
            );
            let stats = matches!(def.value, ValueKind::Agg(AggKind::Stats, _));
            if empty && def.key.is_none() && stats && self.format == OutputFormat::Text {
                let line = format!(
                    "{}: {{ .count = 0, .average = 0, .total = 0 }}\n\n",
                    def.name
                );
                self.write(&line);
                return;
            }
            if empty && def.key.is_none() && scalar && self.format == OutputFormat::Text {
                let zero = match &def.value {
                    ValueKind::Plain(t @ Type::Named(_)) => {
                        decode(t, &vec![0u8; size_of(t) as usize]).display()
                    }
                    _ => "0".to_string(),
                };
                let line = format!("{}: {zero}\n", def.name);
                self.write(&line);
                return;
            }
        }
        self.print_map_top(idx, top, div);
    }

    /// Prints map `idx` as bpftrace does.
    pub fn print_map(&mut self, idx: usize) {
        self.print_map_top(idx, 0, 0);
    }

    fn print_map_top(&mut self, idx: usize, top: u64, div: u64) {
        let (Some(def), Some(map)) = (self.compiled.maps.get(idx), self.maps.get(idx)) else {
            return;
        };
        let mut entries = self.entries(def, map);
        let top = usize::try_from(top).unwrap_or(usize::MAX);
        if top > 0 && entries.len() > top {
            entries.drain(..entries.len() - top);
        }
        if div > 1 {
            divide_entries(&mut entries, div);
        }
        if self.format == OutputFormat::Json {
            self.print_map_json(def, &entries);
            return;
        }
        let mut s = String::new();
        let keyed = def.key.is_some();
        for (k, e) in &entries {
            let k = &enums::symbolize_key(def.key.as_ref(), k, &self.compiled.enums);
            let name = if keyed {
                let inner = match k {
                    Value::Tuple(vs) if matches!(def.key, Some(Type::Tuple(_))) => {
                        vs.iter().map(Value::display).collect::<Vec<_>>().join(", ")
                    }
                    v => v.display(),
                };
                format!("{}[{inner}]", def.name)
            } else {
                def.name.clone()
            };
            match e {
                // bpftrace prints a pointer-valued map in hex (as a number in JSON).
                Entry::Scalar(v) if matches!(def.value, ValueKind::Plain(Type::Pointer(_))) => {
                    s.push_str(&format!("{name}: 0x{:x}\n", v.as_u64()))
                }
                Entry::Scalar(v) => s.push_str(&format!("{name}: {}\n", v.display())),
                Entry::Avg { count, total } => {
                    let avg = if *count == 0 {
                        0
                    } else {
                        total / *count as i64
                    };
                    s.push_str(&format!("{name}: {avg}\n"));
                }
                Entry::Stats { count, total } => {
                    let avg = if *count == 0 {
                        0
                    } else {
                        total / *count as i64
                    };
                    s.push_str(&format!(
                        "{name}: {{ .count = {count}, .average = {avg}, .total = {total} }}\n"
                    ));
                }
                Entry::Tseries(t) => {
                    let (iv, num, agg) = tseries_params(def);
                    s.push_str(&format!("{name}:\n"));
                    s.push_str(&tseries::text(t, iv, num, agg, latest_epoch(&entries)));
                    if keyed {
                        s.push('\n');
                    }
                }
                Entry::Hist(h) => {
                    s.push_str(&format!("{name}: \n"));
                    s.push_str(&self.hist_text(def, h));
                    s.push('\n');
                }
            }
        }
        if matches!(def.value, ValueKind::Agg(AggKind::Avg | AggKind::Stats, _)) {
            s.push('\n');
        }
        self.write(&s);
    }

    fn hist_text(&self, def: &MapDef, h: &BTreeMap<u64, u64>) -> String {
        let nz: Vec<u64> = h.iter().filter(|e| *e.1 > 0).map(|e| *e.0).collect();
        let (Some(&lo), Some(&hi)) = (nz.first(), nz.last()) else {
            return String::new();
        };
        let max = h.values().copied().max().unwrap_or(0);
        let mut s = String::new();
        for b in lo..=hi {
            let c = h.get(&b).copied().unwrap_or(0);
            let label = match def.value {
                ValueKind::Agg(AggKind::Lhist, Some((min, mx, step))) => {
                    lhist_label(b, min, mx, step)
                }
                ValueKind::Agg(AggKind::Hist, Some((k, _, _))) => hist::fine_label(b, k),
                _ => hist_label(b),
            };
            s.push_str(&bar_line(&label, c, max));
        }
        s
    }

    fn print_map_json(&mut self, def: &MapDef, entries: &[(Value, Entry)]) {
        let name = json_str(&def.name);
        let is_hist = entries.iter().any(|e| matches!(e.1, Entry::Hist(_)));
        let latest = latest_epoch(entries);
        let ty = if matches!(def.value, ValueKind::Agg(AggKind::Tseries, _)) {
            "tseries"
        } else if is_hist {
            "hist"
        } else if matches!(def.value, ValueKind::Agg(AggKind::Stats | AggKind::Avg, _)) {
            "stats"
        } else {
            "map"
        };
        let val = |e: &Entry| -> String {
            match e {
                Entry::Scalar(v) => json_value(v),
                Entry::Avg { count, total } => (total / (*count).max(1) as i64).to_string(),
                Entry::Stats { count, total } => format!(
                    "{{\"count\": {count}, \"average\": {}, \"total\": {total}}}",
                    total / (*count).max(1) as i64
                ),
                Entry::Hist(h) => json_hist(def, h),
                Entry::Tseries(t) => {
                    let (iv, num, agg) = tseries_params(def);
                    tseries::json(t, iv, num, agg, latest)
                }
            }
        };
        let data = if def.key.is_none() {
            entries
                .first()
                .map(|e| val(&e.1))
                .unwrap_or_else(|| "0".into())
        } else {
            let items: Vec<String> = entries
                .iter()
                .map(|(k, e)| {
                    let ks = match k {
                        Value::Str(_) => k.display(),
                        Value::Tuple(vs) => {
                            vs.iter().map(Value::display).collect::<Vec<_>>().join(",")
                        }
                        v => v.display(),
                    };
                    format!("{}: {}", json_str(&ks), val(e))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        };
        self.write(&format!(
            "{{\"type\": \"{ty}\", \"data\": {{{name}: {data}}}}}\n"
        ));
    }

    /// Prints every user map that has entries, sorted by name (what bpftrace does at exit).
    pub fn print_all_maps(&mut self) {
        let mut order: Vec<(String, usize)> = crate::codegen::user_maps(self.compiled)
            .into_iter()
            .collect();
        order.sort();
        // bpftrace separates the run's output from the maps by two newlines, maps or not.
        if self.format == OutputFormat::Text {
            self.write("\n\n");
        }
        for (_, i) in order {
            let has = self.maps.get(i).is_some_and(|m| m.keys().next().is_some());
            if has {
                self.print_map(i);
            }
        }
        self.flush();
    }
}

/// `(interval, num_intervals, agg)` of a `tseries` map.
fn tseries_params(def: &MapDef) -> (i64, i64, i64) {
    match def.value {
        ValueKind::Agg(AggKind::Tseries, Some(a)) => a,
        _ => (1, 1, 0),
    }
}

/// The newest interval epoch of any key of a `tseries` map.
fn latest_epoch(entries: &[(Value, Entry)]) -> u64 {
    entries
        .iter()
        .filter_map(|e| match &e.1 {
            Entry::Tseries(t) => t.keys().next_back().copied(),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// `print(@m, top, div)`'s division of integer values and averages (histograms are left as they are).
fn divide_entries(entries: &mut [(Value, Entry)], div: u64) {
    let d = i64::try_from(div).unwrap_or(i64::MAX);
    for (_, e) in entries.iter_mut() {
        match e {
            Entry::Scalar(Value::Int(v)) => *v /= d,
            Entry::Scalar(Value::Uint(v)) => *v /= div,
            Entry::Avg { total, .. } | Entry::Stats { total, .. } => *total /= d,
            _ => {}
        }
    }
}

/// A histogram as bpftrace's JSON: one `{min, max, count}` per bucket from the first to the
/// last non-empty one (open ends lack `min` or `max`).
fn json_hist(def: &MapDef, h: &BTreeMap<u64, u64>) -> String {
    let nz: Vec<u64> = h.iter().filter(|e| *e.1 > 0).map(|e| *e.0).collect();
    let (Some(&lo), Some(&hi)) = (nz.first(), nz.last()) else {
        return "[]".into();
    };
    let mut items = Vec::new();
    for b in lo..=hi {
        let c = h.get(&b).copied().unwrap_or(0);
        let (min, max): (Option<i64>, Option<i64>) = match def.value {
            ValueKind::Agg(AggKind::Lhist, Some((mn, mx, step))) => {
                let nb = ((mx - mn) / step + i64::from((mx - mn) % step != 0)) as u64;
                if b == 0 {
                    (None, Some(mn - 1))
                } else if b > nb {
                    (Some(mx), None)
                } else {
                    let l = mn + (b as i64 - 1) * step;
                    (Some(l), Some((l + step).min(mx) - 1))
                }
            }
            ValueKind::Agg(AggKind::Hist, Some((k, _, _))) => hist::fine_bounds(b, k),
            _ => match b {
                0 => (None, Some(-1)),
                1 => (Some(0), Some(0)),
                _ => {
                    let l = 1i64.checked_shl((b - 2) as u32).unwrap_or(i64::MAX);
                    (Some(l), Some(l.saturating_mul(2) - 1))
                }
            },
        };
        // bpftrace's key order: min, max, count.
        let mut item = String::from("{");
        if let Some(m) = min {
            item.push_str(&format!("\"min\": {m}, "));
        }
        if let Some(m) = max {
            item.push_str(&format!("\"max\": {m}, "));
        }
        item.push_str(&format!("\"count\": {c}}}"));
        items.push(item);
    }
    format!("[{}]", items.join(", "))
}

/// The wall clock formatted with the few strftime conversions `time()` scripts use.
fn strftime_now(fmt: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    let (h, m, s) = (day / 3600, day % 3600 / 60, day % 60);
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('H') => out.push_str(&format!("{h:02}")),
            Some('M') => out.push_str(&format!("{m:02}")),
            Some('S') => out.push_str(&format!("{s:02}")),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

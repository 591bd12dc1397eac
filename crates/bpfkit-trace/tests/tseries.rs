//! `tseries()` on the real kernel: per-interval avg/min/sum aggregation, the text chart and
//! the JSON lists. The interval (1000000 s) is long enough that every sample of a run falls in
//! interval 0, which makes the printed interval starts deterministic.

mod common;

use bpfkit_trace::driver::Options;
use bpfkit_trace::runtime::OutputFormat;

const SCRIPT: &str = "BEGIN { @a[\"x\"] = tseries(3, 1000000s, 2, \"avg\"); \
    @a[\"x\"] = tseries(-8, 1000000s, 2, \"avg\"); @a[\"y\"] = tseries(5, 1000000s, 2, \"avg\"); \
    @m = tseries(-4, 1000000s, 3, \"min\"); @m = tseries(6, 1000000s, 3, \"min\"); \
    @s = tseries(2, 1000000s, 1, \"sum\"); @s = tseries(3, 1000000s, 1, \"sum\"); exit(); }";

/// Runs `script` to completion in `format` and returns its standard output.
fn run(script: &str, format: OutputFormat) -> String {
    let opts = Options {
        format,
        ..Options::default()
    };
    common::stdout_opts(script, &opts)
}

/// One chart of a single interval-0 row showing `v` on an axis `v-1 .. v+1`.
fn chart(name: &str, v: i64) -> String {
    let axis = format!(
        "{:13}{}{}{}\n",
        "",
        v - 1,
        " ".repeat(53 - (v - 1).to_string().len() - (v + 1).to_string().len()),
        v + 1
    );
    format!(
        "{name}:\n{axis}hh:mm:ss.ms  |{u}|\n00:00:00.000 |{sp}*{sp}| {v}\n{:13}v{u}v\n{axis}",
        "",
        u = "_".repeat(51),
        sp = " ".repeat(25),
    )
}

#[test]
fn text_chart_per_key() {
    let got = run(SCRIPT, OutputFormat::Text);
    let want = format!(
        "Attached 1 probe\n\n\n{}\n{}\n{}{}",
        chart("@a[x]", -2),
        chart("@a[y]", 5),
        chart("@m", -4),
        chart("@s", 5)
    );
    assert_eq!(got, want);
}

#[test]
fn json_lists_intervals() {
    let got = run(SCRIPT, OutputFormat::Json);
    let item = |v: i64| {
        format!("[{{\"interval_start\": \"1970-01-01 00:00:00.000000000\", \"value\": {v}}}]")
    };
    let want = format!(
        "{{\"type\": \"attached_probes\", \"count\": 1, \"data\": {{\"probes\": 1}}}}\n\
         {{\"type\": \"tseries\", \"data\": {{\"@a\": {{\"x\": {}, \"y\": {}}}}}}}\n\
         {{\"type\": \"tseries\", \"data\": {{\"@m\": {}}}}}\n\
         {{\"type\": \"tseries\", \"data\": {{\"@s\": {}}}}}\n",
        item(-2),
        item(5),
        item(-4),
        item(5)
    );
    assert_eq!(got, want);
}

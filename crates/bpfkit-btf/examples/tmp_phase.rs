use std::time::Instant;
fn main() {
    let t0 = Instant::now();
    let data = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    let t1 = Instant::now();
    let btf = bpfkit_btf::Btf::from_vec(data).unwrap();
    let t2 = Instant::now();
    let mut n = 0usize;
    for t in btf.types() { n += t.unwrap().vlen as usize; }
    let t3 = Instant::now();
    let mut out = Vec::with_capacity(8 << 20);
    btf.dump_c(&mut out).unwrap();
    let t4 = Instant::now();
    let mut out2 = Vec::with_capacity(16 << 20);
    btf.dump_raw(&mut out2).unwrap();
    let t5 = Instant::now();
    let id = btf.find_by_name_kind("task_struct", bpfkit_btf::Kind::Struct);
    let t6 = Instant::now();
    let id2 = btf.find_by_name_kind("zzzz_nope", bpfkit_btf::Kind::Struct);
    let t7 = Instant::now();
    let id3 = btf.find_by_name_kind("task_struct", bpfkit_btf::Kind::Struct);
    let t8 = Instant::now();
    eprintln!("read {:?} index {:?} decode-all {:?} c {:?} raw {:?} find1 {:?} find2(build) {:?} find3 {:?} {n} {} {id:?} {id2:?} {id3:?}", t1-t0, t2-t1, t3-t2, t4-t3, t5-t4, t6-t5, t7-t6, t8-t7, out.len());
}

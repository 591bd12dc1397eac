//! TC on veth pairs across network namespaces: tcx links and clsact/cls_bpf filters, on
//! ingress and egress, counting and dropping ICMP; tcx ordering; filter replace/delete/list.

mod common;

use bpfkit::tc::{self, Anchor, Direction, FilterId, TcxOptions};
use bpfkit::{Map, Program, ProgramType};
use common::assert_gone;
use common::net::{count_asm, counter_map, fd_of, load_asm, read_counter, VethPair};

/// Drops IPv4 ICMP (counting it) and passes the rest, as a `sched_cls` program.
fn drop_icmp(name: &str, map: &Map) -> Program {
    let count = count_asm(fd_of(map), "c");
    load_asm(
        name,
        ProgramType::SchedCls,
        None,
        &format!(
            "r6 = r1\n\
             r2 = *(u32 *)(r6 +76)\n\
             r3 = *(u32 *)(r6 +80)\n\
             r4 = r2\n\
             r4 += 34\n\
             if r4 > r3 goto pass\n\
             r5 = *(u16 *)(r2 +12)\n\
             if r5 != 0x8 goto pass\n\
             r5 = *(u8 *)(r2 +23)\n\
             if r5 != 0x1 goto pass\n\
             {count}\
             r0 = 2\n\
             exit\n\
             pass:\n\
             r0 = 0\n\
             exit\n"
        ),
    )
}

fn tcx_drop(dir: Direction) {
    // tcx links arrived in Linux 6.6.
    require_feature!(KernelVersion(6, 6));
    let pair = VethPair::new();
    let map = counter_map("tcx_cnt");
    let prog = drop_icmp("tcx_drop_icmp", &map);
    let (pid, mid) = (prog.id().unwrap(), map.info().unwrap().id);
    let link = tc::attach_tcx(&prog, pair.ifindex, dir, &TcxOptions::default()).unwrap();
    let link_id = link.id().unwrap();
    let q = tc::query_tcx(pair.ifindex, dir).unwrap();
    assert_eq!(q.prog_ids, vec![pid]);
    assert_eq!(q.link_ids, vec![link_id]);

    assert!(!pair.ping_from_peer(3));
    // Ingress drops the 3 requests; egress drops the 3 replies.
    assert_eq!(read_counter(&map), 3);
    drop(link);
    assert!(tc::query_tcx(pair.ifindex, dir)
        .unwrap()
        .prog_ids
        .is_empty());
    assert!(pair.ping_from_peer(1));
    drop((prog, map));
    assert_gone(&[pid], &[mid], &[link_id]);
}

#[test]
fn tcx_ingress_counts_and_drops_icmp() {
    tcx_drop(Direction::Ingress);
}

#[test]
fn tcx_egress_counts_and_drops_icmp_replies() {
    tcx_drop(Direction::Egress);
}

#[test]
fn tcx_before_and_after_anchors_order_the_programs() {
    require_feature!(KernelVersion(6, 6));
    let pair = VethPair::new();
    let map = counter_map("tcx_ord");
    let a = drop_icmp("tcx_a", &map);
    let b = drop_icmp("tcx_b", &map);
    let c = drop_icmp("tcx_c", &map);
    let d = drop_icmp("tcx_d", &map);
    let ids: Vec<u32> = [&a, &b, &c, &d].iter().map(|p| p.id().unwrap()).collect();
    let dir = Direction::Ingress;
    let la = tc::attach_tcx(&a, pair.ifindex, dir, &TcxOptions::default()).unwrap();
    let rev = tc::query_tcx(pair.ifindex, dir).unwrap().revision;
    let lb = tc::attach_tcx(
        &b,
        pair.ifindex,
        dir,
        &TcxOptions {
            anchor: Anchor::First,
            expected_revision: rev,
        },
    )
    .unwrap();
    let lc = tc::attach_tcx(
        &c,
        pair.ifindex,
        dir,
        &TcxOptions {
            anchor: Anchor::AfterLink(&lb),
            ..Default::default()
        },
    )
    .unwrap();
    let ld = tc::attach_tcx(
        &d,
        pair.ifindex,
        dir,
        &TcxOptions {
            anchor: Anchor::BeforeProgramId(ids[0]),
            ..Default::default()
        },
    )
    .unwrap();
    let q = tc::query_tcx(pair.ifindex, dir).unwrap();
    assert_eq!(q.prog_ids, vec![ids[1], ids[2], ids[3], ids[0]]);
    // A stale revision is refused, and changes nothing.
    let err = tc::attach_tcx(
        &a,
        pair.ifindex,
        dir,
        &TcxOptions {
            anchor: Anchor::First,
            expected_revision: rev,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("changed since revision"), "{err}");
    assert_eq!(tc::query_tcx(pair.ifindex, dir).unwrap().prog_ids.len(), 4);
    let link_ids: Vec<u32> = [&la, &lb, &lc, &ld]
        .iter()
        .map(|l| l.id().unwrap())
        .collect();
    drop((la, lb, lc, ld, a, b, c, d, map));
    assert_gone(&ids, &[], &link_ids);
}

fn clsact_drop(dir: Direction) {
    let pair = VethPair::new();
    let map = counter_map("cls_cnt");
    let prog = drop_icmp("cls_drop_icmp", &map);
    let (pid, mid) = (prog.id().unwrap(), map.info().unwrap().id);
    let id = tc::attach_filter(&prog, pair.ifindex, dir, FilterId::default(), false).unwrap();
    assert_ne!(id.priority, 0);
    assert_ne!(id.handle, 0);
    let list = tc::list_filters(pair.ifindex, dir).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].prog_id, pid);
    assert_eq!(list[0].kind, "bpf");
    assert_eq!(list[0].name, "cls_drop_icmp");
    assert!(list[0].direct_action);
    assert_eq!(list[0].tag, prog.tag().unwrap());
    // The other direction has nothing.
    let other = match dir {
        Direction::Ingress => Direction::Egress,
        Direction::Egress => Direction::Ingress,
    };
    assert!(tc::list_filters(pair.ifindex, other).unwrap().is_empty());

    // The filter holds the program after our fd closes.
    drop(prog);
    assert!(!pair.ping_from_peer(3));
    assert_eq!(read_counter(&map), 3);
    tc::detach_filter(pair.ifindex, dir, id).unwrap();
    assert!(tc::list_filters(pair.ifindex, dir).unwrap().is_empty());
    assert!(pair.ping_from_peer(1));
    tc::del_clsact(pair.ifindex).unwrap();
    drop(map);
    assert_gone(&[pid], &[mid], &[]);
}

#[test]
fn clsact_ingress_filter_counts_and_drops_icmp() {
    clsact_drop(Direction::Ingress);
}

#[test]
fn clsact_egress_filter_counts_and_drops_icmp_replies() {
    clsact_drop(Direction::Egress);
}

#[test]
fn clsact_filter_priority_handle_replace_and_errors() {
    let pair = VethPair::new();
    let map = counter_map("cls_rep");
    let a = drop_icmp("cls_a", &map);
    let b = drop_icmp("cls_b", &map);
    let (ida, idb) = (a.id().unwrap(), b.id().unwrap());
    let place = FilterId {
        priority: 7,
        handle: 0x21,
    };
    let dir = Direction::Ingress;
    assert_eq!(
        tc::attach_filter(&a, pair.ifindex, dir, place, false).unwrap(),
        place
    );
    // Same place without replace: one clear line, and `a` stays.
    let err = tc::attach_filter(&b, pair.ifindex, dir, place, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already has a tc ingress filter at priority 7 handle 0x21"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    assert_eq!(tc::list_filters(pair.ifindex, dir).unwrap()[0].prog_id, ida);
    // Replace swaps the program in place.
    tc::attach_filter(&b, pair.ifindex, dir, place, true).unwrap();
    let list = tc::list_filters(pair.ifindex, dir).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].id, list[0].prog_id), (place, idb));
    // A second filter at another priority is listed too.
    let second = tc::attach_filter(
        &a,
        pair.ifindex,
        dir,
        FilterId {
            priority: 9,
            handle: 0,
        },
        false,
    )
    .unwrap();
    assert_eq!(second.priority, 9);
    assert_eq!(tc::list_filters(pair.ifindex, dir).unwrap().len(), 2);
    // Deleting what is not there is an error; a wrong program type is refused up front.
    let err = tc::detach_filter(
        pair.ifindex,
        dir,
        FilterId {
            priority: 3,
            handle: 1,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("has no tc ingress filter"), "{err}");
    let xdp = load_asm("not_cls", ProgramType::Xdp, None, "r0 = 2\nexit\n");
    let err = tc::attach_filter(&xdp, pair.ifindex, dir, FilterId::default(), false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "program `not_cls` is of type xdp, but a tc filter needs a sched_cls or sched_act program"
    );
    let err = tc::attach_tcx(&xdp, pair.ifindex, dir, &TcxOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a tcx hook needs a sched_cls program"),
        "{err}"
    );
    let err = tc::attach_tcx(&a, 0x7fff_fff0, dir, &TcxOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no interface with index"), "{err}");
    assert_eq!(tc::list_filters(pair.ifindex, dir).unwrap().len(), 2);
    let xid = xdp.id().unwrap();
    tc::del_clsact(pair.ifindex).unwrap();
    drop((a, b, xdp, map));
    assert_gone(&[ida, idb, xid], &[], &[]);
}

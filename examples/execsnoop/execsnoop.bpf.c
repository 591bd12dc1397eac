// execsnoop, the libbpf way: one event per execve(2), with its arguments, parent and result.
// The entry tracepoint stashes pid, ppid, uid and argv in a hash keyed by pid; the exit
// tracepoint adds the return value and comm and sends the event through a ring buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "execsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* Filters, set by user space before load. */
const volatile uid_t targ_uid = INVALID_UID;
const volatile bool failed_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, pid_t);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static const struct event zero_event;

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	pid_t pid = pid_tgid >> 32;
	uid_t uid = (u32)bpf_get_current_uid_gid();
	const char **argv = (const char **)ctx->args[1];
	struct task_struct *task;
	struct event *e;
	unsigned int size;
	long n;

	if (targ_uid != INVALID_UID && targ_uid != uid)
		return 0;
	if (bpf_map_update_elem(&execs, &pid, &zero_event, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&execs, &pid);
	if (!e)
		return 0;
	e->pid = pid;
	e->uid = uid;
	task = (struct task_struct *)bpf_get_current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);

	/* The file name stands for argv[0], as in libbpf-tools. */
	n = bpf_probe_read_user_str(e->args, ARGSIZE, (const char *)ctx->args[0]);
	if (n < 0 || n > ARGSIZE)
		return 0;
	e->args_count = 1;
	e->args_size = n;
	for (int i = 1; i < MAX_ARGS; i++) {
		const char *arg = NULL;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		size = e->args_size;
		if (size > LAST_ARG)
			return 0;
		n = bpf_probe_read_user_str(&e->args[size], ARGSIZE, arg);
		if (n < 0 || n > ARGSIZE)
			return 0;
		e->args_count++;
		e->args_size += n;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e = bpf_map_lookup_elem(&execs, &pid);
	unsigned int len;

	if (!e)
		return 0;
	e->retval = ctx->ret;
	if (failed_only && ctx->ret >= 0)
		goto out;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	len = __builtin_offsetof(struct event, args) + e->args_size;
	if (len <= sizeof(*e))
		bpf_ringbuf_output(&events, e, len, 0);
out:
	bpf_map_delete_elem(&execs, &pid);
	return 0;
}

/* Shared by execsnoop.bpf.c and (by layout) src/main.rs. */
#ifndef EXECSNOOP_H
#define EXECSNOOP_H

#define ARGSIZE 128
#define MAX_ARGS 20
#define ARGS_BUF (MAX_ARGS * ARGSIZE)
#define LAST_ARG (ARGS_BUF - ARGSIZE)
#define TASK_COMM_LEN 16
#define INVALID_UID ((uid_t)-1)

struct event {
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	int retval;
	int args_count;
	unsigned int args_size;
	char comm[TASK_COMM_LEN];
	char args[ARGS_BUF];
};

#endif

/* I/O sources: tasks waiting for an fd to become ready (or a process to exit). */
#ifndef ASYNCRUN_IO_H
#define ASYNCRUN_IO_H

#include "core.h"

void iosrc_init(struct iosrc *src, int fd, int events, const char *what, int label);
/* Links t (on.io set) and starts the watcher if it is the first waiter. */
void iosrc_wait(struct rt *rt, struct task *t);
/* Starts the watcher with nobody waiting: it stops at the first readiness (the loop wakes).
 * Unless a task comes to wait on it, it neither keeps the run alive nor hides a deadlock. */
void iosrc_watch(struct rt *rt, struct iosrc *src);
/* Unlinks t; stops the watcher when nobody waits any more. */
void iosrc_unwait(struct rt *rt, struct task *t);
/* The same for any waiter, one with a wake function too: waiting while linked already, or
 * unwaiting while not linked, does nothing. */
void iosrc_wait_node(struct rt *rt, struct iosrc *src, struct waiter *w);
void iosrc_unwait_node(struct rt *rt, struct waiter *w);
/* Wakes every waiter (they find their object closed) and stops the watcher: call before
 * closing the fd, since epoll registrations follow the open file, not the number. */
void iosrc_release(struct rt *rt, struct iosrc *src);

#endif

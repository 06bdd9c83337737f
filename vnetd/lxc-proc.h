/* lxc-proc.h -- what /proc tells about libvirt's LXC containers.
 *
 * libvirt's LXC driver gives a running domain its controller's pid as its id; the
 * controller is "libvirt_lxc --name DOMAIN ...", and the container's init is its
 * child in a PID namespace of its own.  vnetd and vnetctl use this where libvirt's
 * own answer is known to be wrong (libvirt 9.0, see notes in libvirt-adapter.c and
 * ctl-exec.c).  Only meaningful where libvirtd runs on this host and in this PID
 * namespace. */
#ifndef VNETD_LXC_PROC_H
#define VNETD_LXC_PROC_H 1

#include <stdbool.h>
#include <sys/types.h>

/* Reads at most 'size' - 1 bytes of a small /proc file into 'buf' (terminated);
 * returns the length, or -1 (errno set). */
ssize_t lxc_proc_read(const char *path, char *buf, size_t size);

/* Whether process 'pid', as seen under 'procfs' (normally "/proc"), is domain
 * 'domain''s LXC controller: its argv[0] names libvirt_lxc and its arguments
 * contain "--name DOMAIN".  False if there is no such process, if it has exited
 * (a zombie has no command line) or if it is another program (a reused pid). */
bool lxc_proc_is_controller(const char *procfs, unsigned int pid, const char *domain);

#endif /* vnetd/lxc-proc.h */

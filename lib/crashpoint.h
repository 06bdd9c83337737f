/* crashpoint.h -- test-only fault injection: die by SIGKILL at a chosen internal step.
 *
 * vnetd marks each step that changes something outside its memory (saving the
 * registry, each libvirt and OVSDB change, each OpenFlow bundle, each reply to a
 * held request) with crashpoint("name") just before and after it.  The crash tests
 * set, in vnetd's environment:
 *
 *   VNETD_TEST_CRASH_AT=N      the Nth crashpoint reached after arming raises SIGKILL
 *   VNETD_TEST_CRASH_LOG=PATH  each crashpoint reached after arming is appended to
 *                              PATH as "N name" (so a test learns how many steps an
 *                              operation has and which one it killed)
 *
 * Counting starts at crashpoint_arm(), which vnetd calls when it receives a request
 * that changes state, so the start-up reconcile pass is never counted.  Without the
 * variables a crashpoint is one branch on a static flag.
 *
 * Thread-safety: main thread only. */
#ifndef VNET_CRASHPOINT_H
#define VNET_CRASHPOINT_H 1

/* Reads the environment; call once at start-up. */
void crashpoint_init(void);

/* Starts counting (idempotent). */
void crashpoint_arm(void);

/* Counts one step named 'name'; kills the process if it is the chosen one. */
void crashpoint(const char *name);

#endif

/* shadow-fix.h -- the fixes tried on a Shadow VNet: the template changes behind
 * 'vnetctl shadow set' and 'vnetctl shadow edit'.
 *
 * A fix is a change of the shadow's template: "KEY=VALUE" settings of one NF
 * (shadow/set) or a JSON merge patch (RFC 7396) of its nodes (shadow/edit).  The
 * result must be a valid template that keeps production's nodes and graph: a
 * shadow differs from production in NF modes, arguments and resources only.
 * shadow-cmds.c applies the result to the registry; these functions are pure, so
 * tests and the fuzzer (tests/fuzz/fuzz-shadow-patch.c) run exactly what the
 * commands run.
 *
 * Ownership: '*ret' is a new template the caller owns; the inputs are not changed. */
#ifndef VNETD_SHADOW_FIX_H
#define VNETD_SHADOW_FIX_H 1

#include <stddef.h>

struct chain_template;
struct json_object;
struct vnet_error;

/* Applies 'settings' (an object whose members are strings: cpus, memory, queue,
 * peak_pps, mode, args) to NF 'node' of 'shadow', the template of the side not
 * serving production; 'production' is the template of the side that does.
 * 'chain' names the chain in messages; errors begin "shadow set NODE: ". */
struct vnet_error *shadow_fix_set(const struct chain_template *shadow,
                                  const struct chain_template *production,
                                  const char *chain, const char *node,
                                  struct json_object *settings,
                                  struct chain_template **ret);

/* Applies the patch document 'text' of 'len' bytes ({"nodes": {"NF": MERGE-PATCH,
 * ...}}) to 'shadow'.  'file' (the patch's file name) prefixes error messages. */
struct vnet_error *shadow_fix_edit(const struct chain_template *shadow,
                                   const struct chain_template *production,
                                   const char *chain, const char *file,
                                   const char *text, size_t len,
                                   struct chain_template **ret);

#endif

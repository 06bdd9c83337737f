/* names.h -- the one rule for names that reach OVS, libvirt or the file system.
 *
 * Chain, VNode and VNet names match [a-z0-9][a-z0-9-]{0,23}: short enough that
 * derived interface names ("<chain>-<node>-p0" is shortened, see vnetd) fit, and
 * free of anything a shell, an XML document or a path could interpret. */
#ifndef VNET_NAMES_H
#define VNET_NAMES_H 1

#include <stdbool.h>

#define VNET_NAME_MAX 24
#define VNET_NAME_RULE "[a-z0-9][a-z0-9-]{0,23}"

bool vnet_name_valid(const char *name);

#endif

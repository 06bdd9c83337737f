#include "vnetd/domain-xml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crc32c.h"
#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/chain-plan.h"

static xmlNodePtr
child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr n = parent->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name)) {
            return n;
        }
    }
    return NULL;
}

/* Returns the child element 'name' of 'parent', created if missing. */
static xmlNodePtr
ensure_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr n = child(parent, name);
    return n ? n : xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

/* Sets the text content of element 'name' under 'parent' (escaped by libxml2). */
static xmlNodePtr
set_text(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = ensure_child(parent, name);
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, BAD_CAST text);
    return n;
}

static void
remove_children(xmlNodePtr parent, const char *name)
{
    xmlNodePtr n = parent->children;
    while (n) {
        xmlNodePtr next = n->next;
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name)) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        n = next;
    }
}

static void
set_uint(xmlNodePtr parent, const char *name, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", v);
    set_text(parent, name, buf);
}

static void
add_interface(xmlNodePtr devices, const struct vnode_nic *nic)
{
    char buf[INET_ADDRSTRLEN];
    char mac[18];
    xmlNodePtr iface = xmlNewChild(devices, NULL, BAD_CAST "interface", NULL);
    xmlNewProp(iface, BAD_CAST "type", BAD_CAST "ethernet");
    xmlNodePtr n = xmlNewChild(iface, NULL, BAD_CAST "mac", NULL);
    xmlNewProp(n, BAD_CAST "address", BAD_CAST vnet_mac_to_string(nic->mac, mac));
    n = xmlNewChild(iface, NULL, BAD_CAST "target", NULL);
    xmlNewProp(n, BAD_CAST "dev", BAD_CAST nic->ifname);
    n = xmlNewChild(iface, NULL, BAD_CAST "guest", NULL);
    xmlNewProp(n, BAD_CAST "dev", BAD_CAST nic->guest);
    /* libvirt leaves a container NIC without an address down. */
    struct in_addr in = { .s_addr = htonl(nic->ip) };
    inet_ntop(AF_INET, &in, buf, sizeof buf);
    n = xmlNewChild(iface, NULL, BAD_CAST "ip", NULL);
    xmlNewProp(n, BAD_CAST "address", BAD_CAST buf);
    snprintf(buf, sizeof buf, "%u", nic->prefix_len);
    xmlNewProp(n, BAD_CAST "prefix", BAD_CAST buf);
}

static char *
serialize(xmlDocPtr doc)
{
    xmlChar *mem = NULL;
    int size = 0;
    xmlDocDumpFormatMemory(doc, &mem, &size, 1);
    char *s = vnet_xstrndup((const char *) mem, (size_t) size);
    xmlFree(mem);
    return s;
}

struct vnet_error *
domain_xml_build(const char *base_path, const struct vnode_plan *v, const char *instance,
                 const char *chain, const char *cpuset, char **ret_xml,
                 char **ret_spec)
{
    xmlDocPtr doc = xmlReadFile(base_path, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS
                                | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || xmlStrcmp(root->name, BAD_CAST "domain")) {
        xmlFreeDoc(doc);
        return vnet_error_create(VNET_ERR_IO, "%s: not a libvirt domain XML document",
                                 base_path);
    }

    set_text(root, "name", v->domain);
    remove_children(root, "uuid");
    set_uint(root, "memory", v->memory_mib);
    xmlSetProp(child(root, "memory"), BAD_CAST "unit", BAD_CAST "MiB");
    remove_children(root, "currentMemory");
    set_uint(root, "vcpu", v->cpus);
    xmlNodePtr vcpu = child(root, "vcpu");
    if (cpuset) {
        xmlSetProp(vcpu, BAD_CAST "cpuset", BAD_CAST cpuset);
    } else {
        xmlUnsetProp(vcpu, BAD_CAST "cpuset");
    }

    xmlNodePtr os = ensure_child(root, "os");
    remove_children(os, "init");
    remove_children(os, "initarg");
    set_text(os, "init", v->argv[0]);
    for (size_t a = 1; a < v->argc; a++) {
        xmlNodePtr arg = xmlNewChild(os, NULL, BAD_CAST "initarg", NULL);
        xmlNodeAddContent(arg, BAD_CAST v->argv[a]);
    }

    xmlNodePtr devices = ensure_child(root, "devices");
    remove_children(devices, "interface");
    for (size_t i = 0; i < v->n_nics; i++) {
        add_interface(devices, &v->nics[i]);
    }

    /* The checksum covers the definition without the metadata and the CPU limits
     * (applied live when they change). */
    remove_children(root, "metadata");
    if (v->cpu_shares) {
        remove_children(root, "cputune");
    }
    char *body = serialize(doc);
    char spec[16];
    snprintf(spec, sizeof spec, "%08" PRIx32, vnet_crc32c(0, body, strlen(body)));
    free(body);
    if (v->cpu_shares) {
        xmlNodePtr tune = xmlNewChild(root, NULL, BAD_CAST "cputune", NULL);
        set_uint(tune, "shares", v->cpu_shares);
        if (v->cpu_quota_us > 0) {
            set_uint(tune, "period", v->cpu_period_us);
            set_uint(tune, "quota", (unsigned long long) v->cpu_quota_us);
        }
    }

    xmlNodePtr md = xmlNewChild(root, NULL, BAD_CAST "metadata", NULL);
    xmlNodePtr el = xmlNewChild(md, NULL, BAD_CAST "vnode", NULL);
    xmlNsPtr ns = xmlNewNs(el, BAD_CAST VNET_XML_NS, BAD_CAST VNET_XML_PREFIX);
    xmlSetNs(el, ns);
    xmlNewProp(el, BAD_CAST "instance", BAD_CAST instance);
    xmlNewProp(el, BAD_CAST "chain", BAD_CAST chain);
    xmlNewProp(el, BAD_CAST "node", BAD_CAST v->node);
    xmlNewProp(el, BAD_CAST "role", BAD_CAST vnode_role_to_string(v->role));
    xmlNewProp(el, BAD_CAST "spec", BAD_CAST spec);

    *ret_xml = serialize(doc);
    *ret_spec = vnet_xstrdup(spec);
    xmlFreeDoc(doc);
    return NULL;
}

char *
domain_xml_with_uuid(const char *xml, const char *uuid)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR
                                  | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        xmlFreeDoc(doc);
        return NULL;
    }
    remove_children(root, "uuid");
    xmlNodePtr n = xmlNewNode(NULL, BAD_CAST "uuid");
    xmlNodeAddContent(n, BAD_CAST uuid);
    xmlNodePtr name = child(root, "name");
    if (name) {
        xmlAddNextSibling(name, n);
    } else {
        xmlAddChild(root, n);
    }
    char *out = serialize(doc);
    xmlFreeDoc(doc);
    return out;
}

/* The number in element 'name' under 'parent' into '*v' (left alone if absent).
 * Returns false if it is there and not a number. */
static bool
child_number(xmlNodePtr parent, const char *name, long long *v)
{
    xmlNodePtr n = child(parent, name);
    if (!n) {
        return true;
    }
    xmlChar *text = xmlNodeGetContent(n);
    char *end;
    errno = 0;
    long long x = text ? strtoll((const char *) text, &end, 10) : 0;
    bool ok = text && end != (char *) text && !*end && !errno;
    xmlFree(text);
    if (ok) {
        *v = x;
    }
    return ok;
}

int
domain_xml_parse_cputune(const char *xml, struct domain_cputune *ret)
{
    memset(ret, 0, sizeof *ret);
    xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR
                                  | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    int error = -EINVAL;
    if (root && !xmlStrcmp(root->name, BAD_CAST "domain")) {
        xmlNodePtr tune = child(root, "cputune");
        long long shares = 0, period = 0, quota = 0;
        if (!tune || (child_number(tune, "shares", &shares)
                      && child_number(tune, "period", &period)
                      && child_number(tune, "quota", &quota)
                      && shares >= 0 && period >= 0)) {
            ret->shares = (unsigned long long) shares;
            ret->period_us = (unsigned long long) period;
            ret->quota_us = quota;
            error = 0;
        }
    }
    xmlFreeDoc(doc);
    return error;
}

static char *
prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    char *s = v ? vnet_xstrdup((const char *) v) : NULL;
    xmlFree(v);
    return s;
}

int
domain_xml_parse_owner(const char *metadata_xml, struct vnode_owner *ret)
{
    memset(ret, 0, sizeof *ret);
    xmlDocPtr doc = xmlReadMemory(metadata_xml, (int) strlen(metadata_xml), "metadata",
                                  NULL, XML_PARSE_NONET | XML_PARSE_NOERROR
                                  | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    int error = -EINVAL;
    /* virDomainGetMetadata() selects by namespace and returns the element without
     * its namespace declaration; accept both forms. */
    if (root && !xmlStrcmp(root->name, BAD_CAST "vnode")
        && (!root->ns || !xmlStrcmp(root->ns->href, BAD_CAST VNET_XML_NS))) {
        ret->instance = prop(root, "instance");
        ret->chain = prop(root, "chain");
        ret->node = prop(root, "node");
        ret->role = prop(root, "role");
        ret->spec = prop(root, "spec");
        if (ret->instance && ret->chain && ret->node && ret->role && ret->spec) {
            error = 0;
        } else {
            vnode_owner_clear(ret);
        }
    }
    xmlFreeDoc(doc);
    return error;
}

void
vnode_owner_clear(struct vnode_owner *o)
{
    free(o->instance);
    free(o->chain);
    free(o->node);
    free(o->role);
    free(o->spec);
    memset(o, 0, sizeof *o);
}

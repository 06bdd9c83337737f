#include "shadow/clone.h"

#include <inttypes.h>
#include <stdbool.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crc32c.h"
#include "lib/error.h"
#include "lib/util.h"

#define VNET_XML_NS "https://vnet.dev/xmlns/vnode/1"

static xmlNodePtr
child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name)) {
            return n;
        }
    }
    return NULL;
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
set_text(xmlNodePtr n, const char *text)
{
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, BAD_CAST text);
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

static struct vnet_error *
parse(const char *xml, xmlDocPtr *ret_doc, xmlNodePtr *ret_root)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS
                                  | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || xmlStrcmp(root->name, BAD_CAST "domain")) {
        xmlFreeDoc(doc);
        return vnet_error_create(VNET_ERR_INVALID, "not a libvirt domain definition");
    }
    *ret_doc = doc;
    *ret_root = root;
    return NULL;
}

/* The vnet metadata element, or NULL. */
static xmlNodePtr
vnet_metadata(xmlNodePtr root)
{
    xmlNodePtr md = child(root, "metadata");
    for (xmlNodePtr n = md ? md->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST "vnode")
            && n->ns && !xmlStrcmp(n->ns->href, BAD_CAST VNET_XML_NS)) {
            return n;
        }
    }
    return NULL;
}

/* Recomputes the 'spec' checksum (over the document without its metadata and its
 * CPU limits, as vnetd/domain-xml.h defines it: limits change with the VNode's role
 * and are applied without a restart) and serialises.  Frees 'doc'. */
static char *
finish(xmlDocPtr doc, xmlNodePtr root)
{
    xmlNodePtr md = child(root, "metadata");
    if (md) {
        xmlUnlinkNode(md);
    }
    xmlNodePtr tune = child(root, "cputune");
    if (tune) {
        xmlUnlinkNode(tune);
    }
    char *body = serialize(doc);
    char spec[16];
    snprintf(spec, sizeof spec, "%08" PRIx32, vnet_crc32c(0, body, strlen(body)));
    free(body);
    if (tune) {
        xmlAddChild(root, tune);
    }
    if (md) {
        xmlAddChild(root, md);
        xmlNodePtr el = vnet_metadata(root);
        if (el) {
            xmlSetProp(el, BAD_CAST "spec", BAD_CAST spec);
        }
    }
    char *out = serialize(doc);
    xmlFreeDoc(doc);
    return out;
}

struct vnet_error *
clone_domain_xml(const char *xml, const struct clone_spec *spec, char **ret_xml)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    struct vnet_error *error = parse(xml, &doc, &root);
    if (error) {
        return error;
    }
    xmlNodePtr name = child(root, "name");
    if (!name) {
        xmlFreeDoc(doc);
        return vnet_error_create(VNET_ERR_INVALID, "domain definition without <name>");
    }
    set_text(name, spec->name);
    remove_children(root, "uuid");

    /* Host-side interfaces get their own names: the guest side stays as it is. */
    xmlNodePtr devices = child(root, "devices");
    size_t renamed = 0;
    for (xmlNodePtr iface = devices ? devices->children : NULL; iface;
         iface = iface->next) {
        if (iface->type != XML_ELEMENT_NODE
            || xmlStrcmp(iface->name, BAD_CAST "interface")) {
            continue;
        }
        xmlNodePtr target = child(iface, "target");
        xmlChar *dev = target ? xmlGetProp(target, BAD_CAST "dev") : NULL;
        bool done = false;
        for (size_t i = 0; dev && i < spec->n_devs && !done; i++) {
            if (!xmlStrcmp(dev, BAD_CAST spec->dev_from[i])) {
                xmlSetProp(target, BAD_CAST "dev", BAD_CAST spec->dev_to[i]);
                renamed++;
                done = true;
            }
        }
        /* An interface id bound to the production port must not be duplicated. */
        xmlNodePtr vp = child(iface, "virtualport");
        if (vp) {
            remove_children(vp, "parameters");
        }
        if (dev && !done) {
            error = vnet_error_create(VNET_ERR_INVALID, "interface '%s' has no shadow "
                                      "name", (const char *) dev);
        }
        xmlFree(dev);
        if (error) {
            xmlFreeDoc(doc);
            return error;
        }
    }
    if (renamed != spec->n_devs) {
        xmlFreeDoc(doc);
        return vnet_error_create(VNET_ERR_INVALID, "expected %zu interfaces to rename, "
                                 "found %zu", spec->n_devs, renamed);
    }

    xmlNodePtr os = child(root, "os");
    for (xmlNodePtr a = os ? os->children : NULL; a; a = a->next) {
        if (a->type != XML_ELEMENT_NODE || xmlStrcmp(a->name, BAD_CAST "initarg")) {
            continue;
        }
        xmlChar *text = xmlNodeGetContent(a);
        for (size_t i = 0; text && i < spec->n_args; i++) {
            if (!xmlStrcmp(text, BAD_CAST spec->arg_from[i])) {
                set_text(a, spec->arg_to[i]);
                break;
            }
        }
        xmlFree(text);
    }

    xmlNodePtr el = vnet_metadata(root);
    if (el && spec->role) {
        xmlSetProp(el, BAD_CAST "role", BAD_CAST spec->role);
    }
    *ret_xml = finish(doc, root);
    return NULL;
}

char *
clone_get_spec(const char *xml)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    struct vnet_error *error = parse(xml, &doc, &root);
    if (error) {
        vnet_error_destroy(error);
        return NULL;
    }
    xmlNodePtr el = vnet_metadata(root);
    xmlChar *spec = el ? xmlGetProp(el, BAD_CAST "spec") : NULL;
    char *s = spec ? vnet_xstrdup((const char *) spec) : NULL;
    xmlFree(spec);
    xmlFreeDoc(doc);
    return s;
}

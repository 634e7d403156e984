/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_util.c: wire <-> driver conversions shared by the RPC
 * handler files: flag checks, list caps, domain identity, vCPU counts.
 */
#include "hyve-config.h"

#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "hyved_remote_util.h"

gboolean
hyved_check_flags(guint flags, guint supported, const char *func, GError **error)
{
    guint unsupported = flags & ~supported;

    if (unsupported == 0)
        return TRUE;
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                   "unsupported flags (0x%x) in function %s", unsupported, func);
    return FALSE;
}

gboolean
hyved_check_list_max(int requested, int max, const char *what,
                     const char *limit_name, GError **error)
{
    if (requested < 0) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INVALID_ARG,
                       "%s must not be negative", what);
        return FALSE;
    }
    if (requested > max) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC, "%s > %s", what, limit_name);
        return FALSE;
    }
    return TRUE;
}

HyveDomainObj *
hyved_domain_lookup(HyvedServer *server, const remote_nonnull_domain *dom, GError **error)
{
    HyveDriver *drv = hyved_server_get_driver(server);

    return hyve_driver_lookup_by_uuid(drv, (const guint8 *) dom->uuid, error);
}

void
hyved_domain_to_wire(HyveDomainObj *obj, remote_nonnull_domain *dom)
{
    HyveDomainIdent ident = { 0 };

    hyve_domain_obj_get_ident(obj, &ident);
    dom->name = g_steal_pointer(&ident.name);
    if (!dom->name)
        dom->name = g_strdup("");
    memcpy(dom->uuid, ident.uuid, sizeof(dom->uuid));
    dom->id = ident.id;
    hyve_domain_ident_clear(&ident);
}

void
hyved_domain_list_to_wire(GPtrArray *objs, remote_nonnull_domain **val, u_int *len)
{
    *len = 0;
    *val = NULL;
    if (!objs || objs->len == 0)
        return;

    *val = g_new0(remote_nonnull_domain, objs->len);
    for (guint i = 0; i < objs->len; i++)
        hyved_domain_to_wire(g_ptr_array_index(objs, i), &(*val)[i]);
    *len = objs->len;
}

/* <vcpu current='C'>M</vcpu> of a domain XML: M maximum, C current
 * (C defaults to M). The driver API has no vCPU accessor, so the handler
 * reads the definition the driver formats. */
static gboolean
hyved_vcpus_from_xml(const char *xml, guint *maximum, guint *current, GError **error)
{
    g_autoptr(GError) local = NULL;
    xmlDocPtr doc;
    xmlXPathContextPtr ctxt = NULL;
    xmlXPathObjectPtr max_obj = NULL;
    xmlXPathObjectPtr cur_obj = NULL;
    gboolean ok = FALSE;
    guint64 val;

    doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        goto fail;
    ctxt = xmlXPathNewContext(doc);
    if (!ctxt)
        goto fail;
    max_obj = xmlXPathEvalExpression(BAD_CAST "normalize-space(/domain/vcpu)", ctxt);
    cur_obj = xmlXPathEvalExpression(BAD_CAST "normalize-space(/domain/vcpu/@current)", ctxt);
    if (!max_obj || !cur_obj || max_obj->type != XPATH_STRING || cur_obj->type != XPATH_STRING)
        goto fail;

    if (!max_obj->stringval || !*max_obj->stringval) {
        val = 1;      /* libvirt's default when <vcpu> is absent */
    } else if (!g_ascii_string_to_unsigned((const char *) max_obj->stringval, 10, 1,
                                           G_MAXUINT16, &val, &local)) {
        goto fail;
    }
    *maximum = (guint) val;
    *current = *maximum;
    if (cur_obj->stringval && *cur_obj->stringval) {
        if (!g_ascii_string_to_unsigned((const char *) cur_obj->stringval, 10, 1,
                                        *maximum, &val, &local))
            goto fail;
        *current = (guint) val;
    }
    ok = TRUE;

 fail:
    if (!ok)
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "cannot read the vCPU count from the domain definition%s%s",
                       local ? ": " : "", local ? local->message : "");
    if (max_obj)
        xmlXPathFreeObject(max_obj);
    if (cur_obj)
        xmlXPathFreeObject(cur_obj);
    if (ctxt)
        xmlXPathFreeContext(ctxt);
    if (doc)
        xmlFreeDoc(doc);
    return ok;
}

int
hyved_domain_get_vcpus(HyveDomainObj *obj, guint flags, GError **error)
{
    gboolean active = hyve_domain_obj_is_active(obj);
    guint xml_flags = 0;
    g_autofree char *xml = NULL;
    guint maximum = 0;
    guint current = 0;

    if ((flags & HYVED_DOMAIN_AFFECT_LIVE) && (flags & HYVED_DOMAIN_AFFECT_CONFIG)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
                       "are mutually exclusive");
        return -1;
    }
    /* The guest's own count needs a guest agent, which hyve does not have. */
    if (flags & HYVED_DOMAIN_VCPU_GUEST) {
        if (flags & HYVED_DOMAIN_AFFECT_CONFIG)
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                           "invalid flag combination: (0x%x)", flags);
        else if (!active)
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                           "vCPU count provided by the guest agent can only be "
                           "requested for live domains");
        else
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_ARGUMENT_UNSUPPORTED,
                           "the guest vCPU count needs a guest agent, which hyve does not have");
        return -1;
    }
    /* AFFECT_CURRENT: the live definition when running, else the config. */
    if (!(flags & (HYVED_DOMAIN_AFFECT_LIVE | HYVED_DOMAIN_AFFECT_CONFIG)))
        flags |= active ? HYVED_DOMAIN_AFFECT_LIVE : HYVED_DOMAIN_AFFECT_CONFIG;

    if ((flags & HYVED_DOMAIN_AFFECT_LIVE) && !active) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "domain is not running");
        return -1;
    }
    if (flags & HYVED_DOMAIN_AFFECT_CONFIG) {
        if (!hyve_domain_obj_is_persistent(obj)) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                           "transient domains do not have any persistent config");
            return -1;
        }
        xml_flags = HYVED_DOMAIN_XML_INACTIVE;
    }

    xml = hyve_domain_obj_get_xml(obj, xml_flags, error);
    if (!xml)
        return -1;
    if (!hyved_vcpus_from_xml(xml, &maximum, &current, error))
        return -1;
    return (int) ((flags & HYVED_DOMAIN_VCPU_MAXIMUM) ? maximum : current);
}

/* "Node <n> MemFree:   <kB> kB" from the cell's sysfs meminfo. */
static gboolean
hyved_sysfs_cell_free(int cell, guint64 *bytes, GError **error)
{
    g_autofree char *path = g_strdup_printf("/sys/devices/system/node/node%d/meminfo", cell);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot read free memory of NUMA cell %d: %s", cell, local->message);
        return FALSE;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *p = strstr(*l, "MemFree:");
        if (p) {
            *bytes = g_ascii_strtoull(p + strlen("MemFree:"), NULL, 10) * 1024;
            return TRUE;
        }
    }
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                   "no MemFree line in %s", path);
    return FALSE;
}

/* As libvirt: a cell's free memory comes from its sysfs node (what the
 * capabilities topology and per-cell memory stats report); a host without
 * NUMA nodes in sysfs has one cell holding all free memory. */
gboolean
hyved_host_cell_free_memory(HyveDriver *drv, int cell, int ncells,
                            guint64 *bytes, GError **error)
{
    g_autofree char *node_dir = g_strdup_printf("/sys/devices/system/node/node%d", cell);
    g_autoptr(GError) local = NULL;

    if (g_file_test(node_dir, G_FILE_TEST_IS_DIR) || ncells > 1)
        return hyved_sysfs_cell_free(cell, bytes, error);

    *bytes = hyve_driver_node_get_free_memory(drv, &local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

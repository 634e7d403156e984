/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_lifecycle.c: RPC procedures that start, stop, pause
 * and reset domains (libvirt-rpc.md §7.2: DOMAIN_CREATE*, DOMAIN_DESTROY*,
 * DOMAIN_SHUTDOWN*, DOMAIN_REBOOT, DOMAIN_RESET, DOMAIN_SUSPEND,
 * DOMAIN_RESUME; DOMAIN_MANAGED_SAVE: NO_SUPPORT), and the
 * hyved_domain_lifecycle_procs table.
 *
 * Each handler: check flags -> decode the wire identity (by UUID) -> driver
 * call (which takes the domain's job, checks the state and emits the
 * lifecycle events) -> fill ret. All are WRITE procedures: a read-only
 * connection gets libvirt's refusal naming the API.
 */
#include "hyve-config.h"

#include "hyved_remote_util.h"

/* libvirt flag bits the handlers let through to the driver, which refuses
 * those it cannot honour with its own message (AUTODESTROY: INVALID_ARG;
 * shutdown modes other than the power button: NO_SUPPORT). */
#define HYVED_START_FLAGS       (HYVE_DOMAIN_START_PAUSED | HYVE_DOMAIN_START_AUTODESTROY)
#define HYVED_CREATE_XML_FLAGS  (HYVED_START_FLAGS | HYVE_DOMAIN_START_VALIDATE)
#define HYVED_DESTROY_FLAGS     HYVE_DOMAIN_DESTROY_GRACEFUL
#define HYVED_SHUTDOWN_MODES    (HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | \
                                 HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT | \
                                 HYVE_DOMAIN_SHUTDOWN_INITCTL | \
                                 HYVE_DOMAIN_SHUTDOWN_SIGNAL | \
                                 HYVE_DOMAIN_SHUTDOWN_PARAVIRT)

/* ---- start --------------------------------------------------------------- */

static gboolean
hyved_start(HyvedServer *server, const remote_nonnull_domain *dom, guint flags,
            remote_nonnull_domain *out, GError **error)
{
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, dom, error);

    if (!obj)
        return FALSE;
    if (!hyve_driver_domain_start(hyved_server_get_driver(server), obj, flags, error))
        return FALSE;
    if (out)
        hyved_domain_to_wire(obj, out);     /* with the id it got */
    return TRUE;
}

static gboolean
hyved_remote_domain_create(HyvedServer *server, HyvedClient *client,
                           const HyvedHeader *hdr, void *argsp, void *retp,
                           GError **error)
{
    remote_domain_create_args *args = argsp;

    return hyved_start(server, &args->dom, 0, NULL, error);
}

static gboolean
hyved_remote_domain_create_with_flags(HyvedServer *server, HyvedClient *client,
                                      const HyvedHeader *hdr, void *argsp, void *retp,
                                      GError **error)
{
    remote_domain_create_with_flags_args *args = argsp;
    remote_domain_create_with_flags_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, HYVED_START_FLAGS, error))
        return FALSE;
    return hyved_start(server, &args->dom, args->flags, &ret->dom, error);
}

static gboolean
hyved_remote_domain_create_xml(HyvedServer *server, HyvedClient *client,
                               const HyvedHeader *hdr, void *argsp, void *retp,
                               GError **error)
{
    remote_domain_create_xml_args *args = argsp;
    remote_domain_create_xml_ret *ret = retp;
    g_autoptr(HyveDomainObj) obj = NULL;

    if (!hyved_check_flags_here(args->flags, HYVED_CREATE_XML_FLAGS, error))
        return FALSE;
    obj = hyve_driver_create_xml(hyved_server_get_driver(server), args->xml_desc,
                                 args->flags, error);
    if (!obj)
        return FALSE;
    hyved_domain_to_wire(obj, &ret->dom);
    return TRUE;
}

/* ---- stop ---------------------------------------------------------------- */

static gboolean
hyved_destroy(HyvedServer *server, const remote_nonnull_domain *dom, guint flags,
              GError **error)
{
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, dom, error);

    if (!obj)
        return FALSE;
    return hyve_driver_domain_destroy(hyved_server_get_driver(server), obj, flags, error);
}

static gboolean
hyved_remote_domain_destroy(HyvedServer *server, HyvedClient *client,
                            const HyvedHeader *hdr, void *argsp, void *retp,
                            GError **error)
{
    remote_domain_destroy_args *args = argsp;

    return hyved_destroy(server, &args->dom, 0, error);
}

static gboolean
hyved_remote_domain_destroy_flags(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_domain_destroy_flags_args *args = argsp;

    if (!hyved_check_flags_here(args->flags, HYVED_DESTROY_FLAGS, error))
        return FALSE;
    return hyved_destroy(server, &args->dom, args->flags, error);
}

static gboolean
hyved_shutdown(HyvedServer *server, const remote_nonnull_domain *dom, guint flags,
               GError **error)
{
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, dom, error);

    if (!obj)
        return FALSE;
    return hyve_driver_domain_shutdown(hyved_server_get_driver(server), obj, flags, error);
}

static gboolean
hyved_remote_domain_shutdown(HyvedServer *server, HyvedClient *client,
                             const HyvedHeader *hdr, void *argsp, void *retp,
                             GError **error)
{
    remote_domain_shutdown_args *args = argsp;

    return hyved_shutdown(server, &args->dom, 0, error);
}

static gboolean
hyved_remote_domain_shutdown_flags(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_domain_shutdown_flags_args *args = argsp;

    if (!hyved_check_flags_here(args->flags, HYVED_SHUTDOWN_MODES, error))
        return FALSE;
    return hyved_shutdown(server, &args->dom, args->flags, error);
}

/* ---- reboot, reset ------------------------------------------------------- */

static gboolean
hyved_remote_domain_reboot(HyvedServer *server, HyvedClient *client,
                           const HyvedHeader *hdr, void *argsp, void *retp,
                           GError **error)
{
    remote_domain_reboot_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = NULL;

    /* virDomainRebootFlagValues: the same mode bits as shutdown */
    if (!hyved_check_flags_here(args->flags, HYVED_SHUTDOWN_MODES, error))
        return FALSE;
    obj = hyved_domain_lookup(server, &args->dom, error);
    if (!obj)
        return FALSE;
    return hyve_driver_domain_reboot(hyved_server_get_driver(server), obj, args->flags, error);
}

static gboolean
hyved_remote_domain_reset(HyvedServer *server, HyvedClient *client,
                          const HyvedHeader *hdr, void *argsp, void *retp,
                          GError **error)
{
    remote_domain_reset_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = NULL;

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    obj = hyved_domain_lookup(server, &args->dom, error);
    if (!obj)
        return FALSE;
    return hyve_driver_domain_reset(hyved_server_get_driver(server), obj, args->flags, error);
}

/* ---- pause --------------------------------------------------------------- */

static gboolean
hyved_remote_domain_suspend(HyvedServer *server, HyvedClient *client,
                            const HyvedHeader *hdr, void *argsp, void *retp,
                            GError **error)
{
    remote_domain_suspend_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, &args->dom, error);

    if (!obj)
        return FALSE;
    return hyve_driver_domain_suspend(hyved_server_get_driver(server), obj, error);
}

static gboolean
hyved_remote_domain_resume(HyvedServer *server, HyvedClient *client,
                           const HyvedHeader *hdr, void *argsp, void *retp,
                           GError **error)
{
    remote_domain_resume_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, &args->dom, error);

    if (!obj)
        return FALSE;
    return hyve_driver_domain_resume(hyved_server_get_driver(server), obj, error);
}

/* ---- managed save -------------------------------------------------------- */

/* hyve cannot save a running guest (the runner has no state stream): the
 * answer libvirt gives for a driver without the call, naming the API, which
 * is what virt-manager's "Save" menu entry and `virsh managedsave` show
 * (DOMAIN_HAS_MANAGED_SAVE_IMAGE answers "no image", hyved_remote_domain_query.c). */
static gboolean
hyved_remote_domain_managed_save(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_NO_SUPPORT, "%s", "virDomainManagedSave");
    return FALSE;
}

const HyvedProcedure hyved_domain_lifecycle_procs[] = {
    HYVED_PROC_WRITE_A(DOMAIN_CREATE, domain_create,
                       hyved_remote_domain_create, "virDomainCreate"),
    HYVED_PROC_WRITE_AR(DOMAIN_CREATE_WITH_FLAGS, domain_create_with_flags,
                        hyved_remote_domain_create_with_flags, "virDomainCreateWithFlags"),
    HYVED_PROC_WRITE_AR(DOMAIN_CREATE_XML, domain_create_xml,
                        hyved_remote_domain_create_xml, "virDomainCreateXML"),
    HYVED_PROC_WRITE_A(DOMAIN_DESTROY, domain_destroy,
                       hyved_remote_domain_destroy, "virDomainDestroy"),
    HYVED_PROC_WRITE_A(DOMAIN_DESTROY_FLAGS, domain_destroy_flags,
                       hyved_remote_domain_destroy_flags, "virDomainDestroyFlags"),
    HYVED_PROC_WRITE_A(DOMAIN_SHUTDOWN, domain_shutdown,
                       hyved_remote_domain_shutdown, "virDomainShutdown"),
    HYVED_PROC_WRITE_A(DOMAIN_SHUTDOWN_FLAGS, domain_shutdown_flags,
                       hyved_remote_domain_shutdown_flags, "virDomainShutdownFlags"),
    HYVED_PROC_WRITE_A(DOMAIN_REBOOT, domain_reboot,
                       hyved_remote_domain_reboot, "virDomainReboot"),
    HYVED_PROC_WRITE_A(DOMAIN_RESET, domain_reset,
                       hyved_remote_domain_reset, "virDomainReset"),
    HYVED_PROC_WRITE_A(DOMAIN_SUSPEND, domain_suspend,
                       hyved_remote_domain_suspend, "virDomainSuspend"),
    HYVED_PROC_WRITE_A(DOMAIN_RESUME, domain_resume,
                       hyved_remote_domain_resume, "virDomainResume"),
    HYVED_PROC_WRITE_A(DOMAIN_MANAGED_SAVE, domain_managed_save,
                       hyved_remote_domain_managed_save, "virDomainManagedSave"),
};
const size_t hyved_domain_lifecycle_nprocs = G_N_ELEMENTS(hyved_domain_lifecycle_procs);

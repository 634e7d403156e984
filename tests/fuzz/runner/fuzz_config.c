/* fuzz_config.c: bhyve-runner configuration parser (hvr_config_parse and
 * hvr_config_load_fd over a memfd, which also sees embedded NUL bytes).
 * After a successful parse the result must satisfy what the rest of the
 * runner relies on: name and kernel set, cpus 1..64, memory a multiple of
 * 1 MiB in [32 MiB, 1 TiB], slot 0 empty, every slot property consistent
 * with its model. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_runner.h"
#include "hvr_config.h"

static void
fuzz_config_check(const HvrConfig *cfg)
{
    int i;

    fuzz_check(cfg->name && *cfg->name, "parsed without a name");
    fuzz_check(cfg->kernel && cfg->kernel[0] == '/', "parsed without an absolute kernel path");
    fuzz_check(cfg->cpus >= 1 && cfg->cpus <= 64, "cpus %d", cfg->cpus);
    fuzz_check(cfg->memory_size >= 32ULL << 20 && cfg->memory_size <= 1ULL << 40 &&
               !(cfg->memory_size & 0xFFFFF), "memory size %" G_GUINT64_FORMAT, cfg->memory_size);
    fuzz_check(cfg->pci[0].model == HVR_PCI_NONE, "a device in slot 0 (host bridge)");
    fuzz_check(!cfg->exit_file || cfg->exit_file[0] == '/', "relative exit file");
    for (i = 0; i < 2; i++)
        fuzz_check(!cfg->com[i] || hvr_backend_spec_valid(cfg->com[i]), "com%d backend", i + 1);
    for (i = 0; i < HVR_PCI_SLOTS; i++) {
        const HvrPciSlotConfig *s = &cfg->pci[i];

        fuzz_check((unsigned)s->model < HVR_PCI_LAST, "slot %d: model %d", i, s->model);
        if (s->model != HVR_PCI_VIRTIO_BLK)
            fuzz_check(!s->path && !s->serial && !s->readonly, "slot %d: blk keys on %s", i,
                       hvr_pci_model_to_string(s->model));
        else
            fuzz_check(s->path && s->path[0] == '/', "slot %d: virtio-blk without path", i);
        if (s->serial)
            fuzz_check(strlen(s->serial) >= 1 && strlen(s->serial) <= 20, "slot %d: serial", i);
        if (s->model != HVR_PCI_VIRTIO_NET)
            fuzz_check(!s->tap && s->fd == -1 && !s->mac, "slot %d: net keys on %s", i,
                       hvr_pci_model_to_string(s->model));
        else
            fuzz_check(!!s->tap != (s->fd >= 0), "slot %d: virtio-net needs tap xor fd", i);
        if (s->fd >= 0)
            fuzz_check(s->fd >= 3 && s->fd <= 65535, "slot %d: fd %d", i, s->fd);
        if (s->tap)
            fuzz_check(*s->tap && strlen(s->tap) < 16 && !strchr(s->tap, '/'), "slot %d: tap", i);
        if (s->mac)
            fuzz_check(strlen(s->mac) == 17, "slot %d: mac", i);
        if (s->model != HVR_PCI_VIRTIO_CONSOLE)
            fuzz_check(!s->backend, "slot %d: backend on %s", i, hvr_pci_model_to_string(s->model));
        if (s->backend)
            fuzz_check(hvr_backend_spec_valid(s->backend), "slot %d: backend", i);
    }
    fuzz_check(!cfg->cmdline || strlen(cfg->cmdline) <= 2047, "command line too long");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    g_autoptr(HvrConfig) cfg = hvr_config_new();
    g_autoptr(HvrConfig) cfg2 = hvr_config_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    gboolean ok, ok2;
    int fd;

    if (size > 1 << 16)
        return 0;
    ok = hvr_config_parse(cfg, text, &err);
    fuzz_check(ok == (err == NULL), "result %d but error %s", ok, err ? err->message : "none");
    if (ok)
        fuzz_config_check(cfg);
    else
        fuzz_check(err->message && *err->message, "empty error message");

    /* The descriptor path: the same bytes, NUL bytes included. */
    fd = memfd_create("hyve-fuzz-config", MFD_CLOEXEC);
    fuzz_check(fd >= 0, "memfd_create failed");
    fuzz_check(write(fd, data, size) == (ssize_t)size, "memfd write failed");
    lseek(fd, 0, SEEK_SET);
    ok2 = hvr_config_load_fd(cfg2, fd, &err2);       /* closes fd */
    if (memchr(data, 0, size))
        fuzz_check(!ok2, "a configuration with a NUL byte was accepted");
    else
        fuzz_check(ok2 == ok, "parse (%d) and load_fd (%d) disagree", ok, ok2);
    if (ok2)
        fuzz_config_check(cfg2);
    return 0;
}

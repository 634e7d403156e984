/* hvr_iobus.c: range dispatch for port I/O and MMIO exits. */
#include "hvr_iobus.h"

typedef struct {
    unsigned id;
    uint64_t base;
    uint64_t len;
    HvrIoHandler fn;
    void *opaque;
} HvrIoRange;

struct _HvrIoBus {
    char *name;
    GRWLock lock;       /* guards ranges, next_id */
    GArray *ranges;     /* HvrIoRange */
    unsigned next_id;
};

HvrIoBus *
hvr_iobus_new(const char *name)
{
    HvrIoBus *bus = g_new0(HvrIoBus, 1);

    bus->name = g_strdup(name);
    g_rw_lock_init(&bus->lock);
    bus->ranges = g_array_new(FALSE, TRUE, sizeof(HvrIoRange));
    bus->next_id = 1;
    return bus;
}

void
hvr_iobus_free(HvrIoBus *bus)
{
    if (!bus)
        return;
    g_array_unref(bus->ranges);
    g_rw_lock_clear(&bus->lock);
    g_free(bus->name);
    g_free(bus);
}

static gboolean
hvr_iobus_overlaps_locked(HvrIoBus *bus, uint64_t base, uint64_t len, unsigned skip)
{
    guint i;

    for (i = 0; i < bus->ranges->len; i++) {
        HvrIoRange *r = &g_array_index(bus->ranges, HvrIoRange, i);

        if (r->id != skip && base < r->base + r->len && r->base < base + len)
            return TRUE;
    }
    return FALSE;
}

unsigned
hvr_iobus_add(HvrIoBus *bus, uint64_t base, uint64_t len,
              HvrIoHandler fn, void *opaque)
{
    HvrIoRange r = { 0, base, len, fn, opaque };

    g_rw_lock_writer_lock(&bus->lock);
    if (len == 0 || hvr_iobus_overlaps_locked(bus, base, len, 0)) {
        g_rw_lock_writer_unlock(&bus->lock);
        return 0;
    }
    r.id = bus->next_id++;
    g_array_append_val(bus->ranges, r);
    g_rw_lock_writer_unlock(&bus->lock);
    return r.id;
}

gboolean
hvr_iobus_move(HvrIoBus *bus, unsigned id, uint64_t base)
{
    gboolean ok = FALSE;
    guint i;

    g_rw_lock_writer_lock(&bus->lock);
    for (i = 0; i < bus->ranges->len; i++) {
        HvrIoRange *r = &g_array_index(bus->ranges, HvrIoRange, i);

        if (r->id != id)
            continue;
        if (!hvr_iobus_overlaps_locked(bus, base, r->len, id)) {
            r->base = base;
            ok = TRUE;
        }
        break;
    }
    g_rw_lock_writer_unlock(&bus->lock);
    return ok;
}

void
hvr_iobus_remove(HvrIoBus *bus, unsigned id)
{
    guint i;

    g_rw_lock_writer_lock(&bus->lock);
    for (i = 0; i < bus->ranges->len; i++) {
        if (g_array_index(bus->ranges, HvrIoRange, i).id == id) {
            g_array_remove_index_fast(bus->ranges, i);
            break;
        }
    }
    g_rw_lock_writer_unlock(&bus->lock);
}

gboolean
hvr_iobus_access(HvrIoBus *bus, uint64_t addr, unsigned size,
                 bool write, uint64_t *val)
{
    HvrIoHandler fn = NULL;
    void *opaque = NULL;
    uint64_t off = 0;
    guint i;

    g_rw_lock_reader_lock(&bus->lock);
    for (i = 0; i < bus->ranges->len; i++) {
        HvrIoRange *r = &g_array_index(bus->ranges, HvrIoRange, i);

        if (addr >= r->base && addr - r->base < r->len) {
            fn = r->fn;
            opaque = r->opaque;
            off = addr - r->base;
            break;
        }
    }
    g_rw_lock_reader_unlock(&bus->lock);
    if (!fn) {
        if (!write)
            *val = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        return FALSE;
    }
    if (!write)
        *val = 0;
    fn(opaque, off, size, write, val);
    return TRUE;
}

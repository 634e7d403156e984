/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto_sample.c: writes XDR bytes for a ProtoType by hand (RFC 4506 rules,
 * no rpcgen involved) so the tests can compare rpcgen's codec against an
 * independent encoder.
 */
#include <string.h>

#include "proto_model.h"

#define PRIM(n, k) const ProtoType proto_prim_##n = { #n, k, 0, NULL, NULL, 0 }
PRIM(int, PT_INT);
PRIM(uint, PT_UINT);
PRIM(hyper, PT_HYPER);
PRIM(uhyper, PT_UHYPER);
PRIM(char, PT_CHAR);
PRIM(uchar, PT_UCHAR);
PRIM(short, PT_SHORT);
PRIM(ushort, PT_USHORT);
PRIM(bool, PT_BOOL);
PRIM(double, PT_DOUBLE);
PRIM(float, PT_FLOAT);

typedef struct {
    GByteArray *out;
    ProtoShape shape;
    guint32 counter;
    const ProtoType *bounded;
    gboolean over;
    gboolean hit;
} SampleCtx;

static void
put32(SampleCtx *ctx, guint32 v)
{
    guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
    g_byte_array_append(ctx->out, b, 4);
}

static void
put_bytes(SampleCtx *ctx, const guint8 *data, guint32 len)
{
    static const guint8 zero[4] = { 0 };

    g_byte_array_append(ctx->out, data, len);
    if (len % 4)
        g_byte_array_append(ctx->out, zero, 4 - len % 4);
}

static guint32
next_value(SampleCtx *ctx)
{
    ctx->counter++;
    return ctx->counter * 2654435761u;
}

/* Element counts and lengths per shape, kept below @bound. */
static guint32
pick_count(SampleCtx *ctx, guint32 bound, gboolean is_bytes)
{
    guint32 n;

    if (ctx->shape == PROTO_SHAPE_MINIMAL)
        return 0;
    ctx->counter++;
    if (is_bytes)
        n = ctx->shape == PROTO_SHAPE_FULL ? 1 + ctx->counter % 13 : 4 + ctx->counter % 3;
    else
        n = ctx->shape == PROTO_SHAPE_FULL ? 2 : 1 + ctx->counter % 3;
    return MIN(n, bound);
}

static void write_type(SampleCtx *ctx, const ProtoType *t);

static void
write_string_bytes(SampleCtx *ctx, guint32 len, gboolean printable)
{
    g_autofree guint8 *buf = g_malloc(len ? len : 1);
    guint32 i;

    for (i = 0; i < len; i++)
        buf[i] = printable ? 'a' + (ctx->counter + i) % 26 : (guint8)(ctx->counter * 7 + i);
    put_bytes(ctx, buf, len);
}

/* Count for a bounded node, honouring the limit-test request. */
static guint32
bounded_count(SampleCtx *ctx, const ProtoType *t, gboolean is_bytes, gboolean *forced)
{
    *forced = FALSE;
    if (ctx->bounded == t && !ctx->hit) {
        ctx->hit = TRUE;
        *forced = TRUE;
        return ctx->over ? t->bound + 1 : t->bound;
    }
    return pick_count(ctx, t->bound, is_bytes);
}

static void
write_type(SampleCtx *ctx, const ProtoType *t)
{
    guint32 v, n, i;
    gboolean forced;
    ProtoShape saved;

    switch (t->kind) {
    case PT_INT:
    case PT_UINT:
    case PT_FLOAT:
        put32(ctx, ctx->shape == PROTO_SHAPE_MINIMAL ? 0 : next_value(ctx));
        break;
    case PT_HYPER:
    case PT_UHYPER:
        put32(ctx, ctx->shape == PROTO_SHAPE_MINIMAL ? 0 : next_value(ctx));
        put32(ctx, ctx->shape == PROTO_SHAPE_MINIMAL ? 0 : next_value(ctx));
        break;
    case PT_DOUBLE: {
        gdouble d = ctx->shape == PROTO_SHAPE_MINIMAL ? 0.0 : next_value(ctx) / 8.0;
        guint64 bits;
        memcpy(&bits, &d, 8);
        put32(ctx, bits >> 32);
        put32(ctx, (guint32)bits);
        break;
    }
    case PT_CHAR:      /* sign-extended on the wire: stay positive */
        put32(ctx, next_value(ctx) % 127);
        break;
    case PT_UCHAR:
        put32(ctx, next_value(ctx) & 0xff);
        break;
    case PT_SHORT:
        v = next_value(ctx);
        put32(ctx, (guint32)(gint32)(gint16)v);
        break;
    case PT_USHORT:
        put32(ctx, next_value(ctx) & 0xffff);
        break;
    case PT_BOOL:
        put32(ctx, next_value(ctx) & 1);
        break;
    case PT_ENUM:
        v = ctx->shape == PROTO_SHAPE_MINIMAL ? 0 : next_value(ctx) % t->nmembers;
        put32(ctx, (guint32)t->members[v].value);
        break;
    case PT_STRING:
    case PT_OPAQUE_VAR:
        n = bounded_count(ctx, t, TRUE, &forced);
        put32(ctx, n);
        write_string_bytes(ctx, n, t->kind == PT_STRING);
        break;
    case PT_OPAQUE_FIXED:
        write_string_bytes(ctx, t->bound, FALSE);
        break;
    case PT_FIXED_ARRAY:
        for (i = 0; i < t->bound; i++)
            write_type(ctx, t->elem);
        break;
    case PT_VAR_ARRAY:
        n = bounded_count(ctx, t, FALSE, &forced);
        put32(ctx, n);
        saved = ctx->shape;
        if (forced)
            ctx->shape = PROTO_SHAPE_MINIMAL;   /* keep huge arrays cheap */
        for (i = 0; i < n; i++)
            write_type(ctx, t->elem);
        ctx->shape = saved;
        break;
    case PT_OPTIONAL:
        if (ctx->shape == PROTO_SHAPE_MINIMAL ||
            (ctx->shape == PROTO_SHAPE_ALT && (next_value(ctx) & 0x100))) {
            put32(ctx, 0);
        } else {
            put32(ctx, 1);
            write_type(ctx, t->elem);
        }
        break;
    case PT_STRUCT:
        for (i = 0; i < t->nmembers; i++)
            write_type(ctx, t->members[i].type);
        break;
    case PT_UNION:
        v = ctx->shape == PROTO_SHAPE_MINIMAL ? 0 : (next_value(ctx) >> 8) % t->nmembers;
        put32(ctx, (guint32)t->members[v].value);
        if (t->members[v].type)
            write_type(ctx, t->members[v].type);
        break;
    }
}

GByteArray *
proto_sample(const ProtoType *type, ProtoShape shape, const ProtoType *bounded,
             gboolean over, gboolean *hit)
{
    SampleCtx ctx = { g_byte_array_new(), shape, (guint32)shape * 1000, bounded, over, FALSE };

    write_type(&ctx, type);
    if (hit)
        *hit = ctx.hit;
    return ctx.out;
}

static void
collect_bounded(const ProtoType *t, GPtrArray *out, GHashTable *seen)
{
    guint i;

    if (!t || !g_hash_table_add(seen, (gpointer)t))
        return;
    switch (t->kind) {
    case PT_STRING:
    case PT_OPAQUE_VAR:
        g_ptr_array_add(out, (gpointer)t);
        break;
    case PT_VAR_ARRAY:
        g_ptr_array_add(out, (gpointer)t);
        collect_bounded(t->elem, out, seen);
        break;
    case PT_FIXED_ARRAY:
    case PT_OPTIONAL:
        collect_bounded(t->elem, out, seen);
        break;
    case PT_STRUCT:
    case PT_UNION:
        for (i = 0; i < t->nmembers; i++)
            collect_bounded(t->members[i].type, out, seen);
        break;
    default:
        break;
    }
}

GPtrArray *
proto_bounded_nodes(const ProtoType *type)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    GPtrArray *out = g_ptr_array_new();

    collect_bounded(type, out, seen);
    return out;
}

GBytes *
proto_hex(const char *hex)
{
    GByteArray *out = g_byte_array_new();
    int hi = -1;

    for (; *hex; hex++) {
        int d = g_ascii_xdigit_value(*hex);
        if (d < 0)
            continue;
        if (hi < 0) {
            hi = d;
        } else {
            guint8 b = (guint8)(hi << 4 | d);
            g_byte_array_append(out, &b, 1);
            hi = -1;
        }
    }
    g_assert(hi < 0);
    return g_byte_array_free_to_bytes(out);
}

char *
proto_to_hex(const guint8 *buf, gsize len)
{
    GString *s = g_string_new(NULL);
    gsize i;

    for (i = 0; i < len; i++)
        g_string_append_printf(s, "%02x%s", buf[i], (i % 4 == 3 && i + 1 < len) ? " " : "");
    return g_string_free(s, FALSE);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto_model.h: a type model of hyved_protocol.x (generated from the .x by
 * gen_protocol_model.py) and an independent XDR sample writer over it, used
 * to test the rpcgen filters and the packet codec.
 */
#pragma once

#include <glib.h>
#include <rpc/rpc.h>

typedef enum {
    PT_INT, PT_UINT, PT_HYPER, PT_UHYPER, PT_CHAR, PT_UCHAR, PT_SHORT, PT_USHORT,
    PT_BOOL, PT_DOUBLE, PT_FLOAT, PT_ENUM,
    PT_STRING, PT_OPAQUE_FIXED, PT_OPAQUE_VAR,
    PT_FIXED_ARRAY, PT_VAR_ARRAY, PT_OPTIONAL, PT_STRUCT, PT_UNION,
} ProtoKind;

typedef struct ProtoType ProtoType;

typedef struct {
    const char *name;
    const ProtoType *type;   /* NULL: enum member, or void union arm */
    gint64 value;            /* union case / enum value */
} ProtoMember;

struct ProtoType {
    const char *name;        /* where it was declared, e.g. "remote_error.message" */
    ProtoKind kind;
    guint32 bound;           /* string/opaque/array maximum, or fixed length */
    const ProtoType *elem;   /* arrays and optionals */
    const ProtoMember *members;
    guint nmembers;
};

typedef struct {
    const char *name;        /* "remote_domain_get_info_ret" */
    const char *role;        /* "args", "ret", "msg" or "type" */
    gint proc;               /* REMOTE_PROC_* for args/ret/msg, else -1 */
    xdrproc_t filter;
    gsize size;
    const ProtoType *type;
} ProtoMessage;

extern const ProtoMessage proto_messages[];
extern const gsize proto_nmessages;

extern const ProtoType proto_prim_int, proto_prim_uint, proto_prim_hyper,
    proto_prim_uhyper, proto_prim_char, proto_prim_uchar, proto_prim_short,
    proto_prim_ushort, proto_prim_bool, proto_prim_double, proto_prim_float;

typedef enum {
    PROTO_SHAPE_MINIMAL = 0,   /* empty arrays/strings, absent optionals, first union arm */
    PROTO_SHAPE_FULL,          /* 1-2 elements, present optionals, varied arms */
    PROTO_SHAPE_ALT,           /* other counts, lengths and arms */
    PROTO_SHAPE_LAST
} ProtoShape;

/* Writes a valid XDR encoding of @type. When @bounded is non-NULL, its
 * first occurrence gets exactly bound (@over FALSE) or bound+1 (@over TRUE)
 * elements/bytes; *hit tells whether it was reached. */
GByteArray *proto_sample(const ProtoType *type, ProtoShape shape,
                         const ProtoType *bounded, gboolean over, gboolean *hit);

/* Distinct string/opaque/array nodes with a bound reachable from @type. */
GPtrArray *proto_bounded_nodes(const ProtoType *type);

/* "0000001c 6b656570 ..." -> bytes (spaces, newlines and '|' ignored). */
GBytes *proto_hex(const char *hex);
char *proto_to_hex(const guint8 *buf, gsize len);

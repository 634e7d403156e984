/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_xdr_guard.h: NULL-safe variants of the libtirpc primitives that the
 * rpcgen-generated code calls for strings, counted arrays and opaque data.
 *
 * libtirpc dereferences a NULL string or array pointer when encoding, so a
 * handler that forgot to fill a field would crash the daemon. The generated
 * hyved_protocol_xdr.c is compiled with HYVED_PROTOCOL_XDR_IMPL defined and
 * calls these instead; they fail the encode (-> RPC error) rather than crash.
 * Decoding and freeing behave exactly like the libtirpc functions.
 */
#pragma once

#include <rpc/rpc.h>

bool_t hyved_xdr_string(XDR *xdrs, char **cpp, u_int maxsize);
bool_t hyved_xdr_array(XDR *xdrs, char **addrp, u_int *sizep, u_int maxsize,
                       u_int elsize, xdrproc_t elproc);
bool_t hyved_xdr_bytes(XDR *xdrs, char **cpp, u_int *sizep, u_int maxsize);

/* Filter for an empty payload, for procedure tables:
 * (xdrproc_t) hyved_xdr_void avoids the -Wcast-function-type warning that
 * libtirpc's parameterless xdr_void() gives. Always succeeds, moves nothing. */
bool_t hyved_xdr_void(XDR *xdrs, void *obj);

#ifdef HYVED_PROTOCOL_XDR_IMPL
# define xdr_string hyved_xdr_string
# define xdr_array hyved_xdr_array
# define xdr_bytes hyved_xdr_bytes
#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyved_xdr_guard.c: see hyved_xdr_guard.h. */
#include "hyved_xdr_guard.h"

bool_t
hyved_xdr_string(XDR *xdrs, char **cpp, u_int maxsize)
{
    if (xdrs->x_op == XDR_ENCODE && *cpp == NULL)
        return FALSE;
    return xdr_string(xdrs, cpp, maxsize);
}

bool_t
hyved_xdr_array(XDR *xdrs, char **addrp, u_int *sizep, u_int maxsize,
                u_int elsize, xdrproc_t elproc)
{
    if (xdrs->x_op == XDR_ENCODE && *addrp == NULL && *sizep != 0)
        return FALSE;
    return xdr_array(xdrs, addrp, sizep, maxsize, elsize, elproc);
}

bool_t
hyved_xdr_bytes(XDR *xdrs, char **cpp, u_int *sizep, u_int maxsize)
{
    if (xdrs->x_op == XDR_ENCODE && *cpp == NULL && *sizep != 0)
        return FALSE;
    return xdr_bytes(xdrs, cpp, sizep, maxsize);
}

bool_t
hyved_xdr_void(XDR *xdrs, void *obj)
{
    (void)xdrs;
    (void)obj;
    return TRUE;
}

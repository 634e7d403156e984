/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until its owner fills it in. */
#include "hyved_dispatch.h"

const HyvedProcedure hyved_host_procs[] = {
    { 0 },
};
const size_t hyved_host_nprocs = 0;

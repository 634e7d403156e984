/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyved_remote_storage_pool.c: placeholder (issue 5). */
#include "hyve-config.h"

#include "hyved_dispatch.h"

const HyvedProcedure hyved_storage_pool_procs[1] = { { 0 } };
const size_t hyved_storage_pool_nprocs = 0;

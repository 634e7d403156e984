/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon/hyved_remote_domain_lifecycle.c: placeholder, being written (issue 4). */
#include "hyve-config.h"
#include "hyved_dispatch.h"

const HyvedProcedure hyved_domain_lifecycle_procs[1] = { { 0 } };
const size_t hyved_domain_lifecycle_nprocs = 0;

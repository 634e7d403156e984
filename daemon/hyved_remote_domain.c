/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until its owner fills it in. */
#include "hyved_dispatch.h"

const HyvedProcedure hyved_domain_procs[] = {
    { 0 },
};
const size_t hyved_domain_nprocs = 0;

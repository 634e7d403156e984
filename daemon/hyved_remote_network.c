/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyved_remote_network.c: placeholder until the network procedures land. */
#include "hyved_dispatch.h"

const HyvedProcedure hyved_network_procs[] = { { 0 } };
const size_t hyved_network_nprocs = 0;

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_network_leases.c: placeholder, written by its owner (hyve_network_priv.h). */
#include "hyve_network_priv.h"
